"""The DRM network (Fig. 3): stride-4 backbone features -> center, offsets, O_e, root depth via PDQM, rel. depth."""
from __future__ import annotations

import torch
from torch import nn

from drm_core.model.backbone import MOVENET_MULTIPOSE, create_backbone
from drm_core.model.config import ModelConfig
from drm_core.model.heads import DisentangledRegressor, PoseDepthQuery, SimpleHead
from drm_core.model.movenet import DRMCenterHead, DRMOffsetHead, init_drm_from_movenet
from drm_core.skeleton import MPI15


class DRM(nn.Module):
    """(B, 3, H, W) RGB in [0, 1], H and W multiples of 32 -> dict of maps at stride 4 (docs/CONTRACTS.md)."""

    OUTPUT_NAMES = ("center", "offsets", "root_depth", "rel_depth", "root_to_center")

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        J, c = config.num_joints, config
        self.backbone = create_backbone(c)
        # The normalisation the backbone's weights were trained with (ImageNet mean/std for HRNet, [-1, 1] for
        # EfficientNet-Lite), so callers (and ONNX consumers) always pass [0, 1] RGB.
        self.register_buffer("mean", torch.tensor(self.backbone.mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(self.backbone.std).view(1, 3, 1, 1), persistent=False)
        features = self.backbone.out_channels
        movenet = c.backbone == MOVENET_MULTIPOSE
        if movenet:
            # MoveNet-shaped center and offset heads, so that they can start as MoveNet's (drm_core/model/movenet.py).
            if (J, c.root_joint) != (MPI15.num_joints, MPI15.root):
                raise ValueError(f"the {MOVENET_MULTIPOSE} backbone needs the MPI15 joints (num_joints 15, root 2)")
            self.center_head = DRMCenterHead(features)
            self.offset_head = DRMOffsetHead(features, J, c.offset_group_channels)
        else:
            self.center_head = SimpleHead(features, c.head_channels, 1)
            self.offset_head = DisentangledRegressor(features, J, c.offset_group_channels, 2, c.adaptive_blocks,
                                                     c.deformable)
        self.root_to_center_head = SimpleHead(features, c.head_channels, 2)
        self.depth_query = PoseDepthQuery(J, c.root_joint, c.offset_group_channels)
        # Eq. 4: F_Z sees the backbone features X and the J-1 queried joint features.
        self.root_depth_head = DisentangledRegressor(features + (J - 1) * c.offset_group_channels, 1,
                                                     c.depth_channels, 1, c.adaptive_blocks, c.deformable)
        self.rel_depth_head = DisentangledRegressor(features, J - 1, c.rel_depth_group_channels, 1,
                                                    c.adaptive_blocks, c.deformable)
        if movenet and c.pretrained:
            # Imported here so `python -m drm_core.model.movenet_weights` does not find itself already imported.
            from drm_core.model.movenet_weights import load_movenet_weights

            init_drm_from_movenet(self, load_movenet_weights(c.backbone_weights), MPI15.joint_names)

    def forward(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        x = self.backbone((image - self.mean) / self.std)
        offset_features, offsets = self.offset_head(x)
        root_to_center = self.root_to_center_head(x)
        queried = self.depth_query(offsets, offset_features, root_to_center)
        _, root_depth = self.root_depth_head(torch.cat([x, queried], dim=1))
        _, rel_depth = self.rel_depth_head(x)
        return {"center": self.center_head(x), "offsets": offsets, "root_depth": root_depth,
                "rel_depth": rel_depth, "root_to_center": root_to_center}


def build_model(config: ModelConfig) -> DRM:
    """The DRM network for `config` (random heads; ImageNet backbone weights if config.pretrained; for the
    movenet backbone, MoveNet's weights in the backbone, center and offset heads, MoveNetWeightsError if absent)."""
    return DRM(config)
