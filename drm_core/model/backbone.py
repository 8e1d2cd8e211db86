"""HRNet features at stride 4: the four branches upsampled and concatenated, as DEKR does."""
from __future__ import annotations

import logging

import timm
import torch
import torch.nn.functional as F
from torch import nn

log = logging.getLogger(__name__)


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
