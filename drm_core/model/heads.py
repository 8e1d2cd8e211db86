"""DRM's heads (sec. 3.2): DEKR-style center and disentangled offset regressors, the root->center offset
O_e, the 2D Pose-guided Depth Query Module (PDQM, eq. 4) and the depth regressors."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models.resnet import BasicBlock
from torchvision.ops import DeformConv2d


def _conv1x1_bn_relu(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, bias=False), nn.BatchNorm2d(out_channels),
                         nn.ReLU(inplace=True))


class SimpleHead(nn.Module):
    """DEKR's heatmap head: 1x1 conv, one residual basic block, 1x1 conv out. Used for the center map and O_e."""

    def __init__(self, in_channels: int, mid_channels: int, out_channels: int):
        super().__init__()
        self.body = nn.Sequential(_conv1x1_bn_relu(in_channels, mid_channels), BasicBlock(mid_channels, mid_channels),
                                  nn.Conv2d(mid_channels, out_channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class ResidualGroupBlock(nn.Module):
    """3x3 grouped conv, BN, residual, ReLU: the CPU-friendly stand-in for AdaptiveBlock."""

    def __init__(self, channels: int, groups: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)) + x)


class AdaptiveBlock(nn.Module):
    """DEKR's adaptive residual block, one per channel group in a single grouped op.

    Per group, a 3x3 conv predicts at every pixel a 2x2 matrix M and a shift t; the deformable 3x3 conv
    samples its taps at (I + M) r + t for the regular taps r. The predictor starts at zero, so the block
    starts as a plain 3x3 residual conv and learns to adapt its footprint to the body.
    """

    def __init__(self, channels: int, groups: int):
        super().__init__()
        self.groups = groups
        self.transform = nn.Conv2d(channels, 6 * groups, 3, padding=1, groups=groups)
        nn.init.zeros_(self.transform.weight)
        nn.init.zeros_(self.transform.bias)
        self.conv = DeformConv2d(channels, channels, 3, padding=1, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(channels)
        dy, dx = torch.meshgrid(torch.arange(-1.0, 2.0), torch.arange(-1.0, 2.0), indexing="ij")
        # (2, 9): the taps in raster order as (dy, dx), the order torchvision's offsets use.
        self.register_buffer("taps", torch.stack([dy.flatten(), dx.flatten()]), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        t = self.transform(x).reshape(b, self.groups, 6, h, w).permute(0, 1, 3, 4, 2)  # (B, G, h, w, 6)
        matrix = t[..., :4].reshape(b, self.groups, h, w, 2, 2)
        shift = t[..., 4:].unsqueeze(-1)
        offset = matrix @ self.taps + shift  # (B, G, h, w, 2, 9): displacement of each tap from r
        offset = offset.permute(0, 1, 5, 4, 2, 3).reshape(b, self.groups * 18, h, w)
        return F.relu(self.bn(self.conv(x, offset)) + x)


class DisentangledRegressor(nn.Module):
    """Eq. 3: groups of channels, one regressor per group, run as grouped convolutions (one op for all).

    Returns the per-group features (B, G * group_channels, h, w) and the output (B, G * out_per_group, h, w).
    """

    def __init__(self, in_channels: int, groups: int, group_channels: int, out_per_group: int, blocks: int,
                 deformable: bool = True):
        super().__init__()
        channels = groups * group_channels
        block = AdaptiveBlock if deformable else ResidualGroupBlock
        self.stem = _conv1x1_bn_relu(in_channels, channels)
        self.blocks = nn.Sequential(*[block(channels, groups) for _ in range(blocks)])
        self.out = nn.Conv2d(channels, groups * out_per_group, 1, groups=groups)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.blocks(self.stem(x))
        return features, self.out(features)


def sample_at(maps: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """Bilinear values of (N, C, h, w) maps at (N, 2, h', w') map-pixel points (x, y), clamped to the border."""
    h, w = maps.shape[-2:]
    # Scales as Python numbers: a tensor made from a list here is a host-to-device copy at every call, which
    # CUDA graph capture refuses (benchmarks/gpu).
    grid = torch.stack([points[:, 0] * (2.0 / (w - 1)), points[:, 1] * (2.0 / (h - 1))], dim=-1) - 1.0
    return F.grid_sample(maps, grid, mode="bilinear", padding_mode="border", align_corners=True)


# How much of the depth loss's gradient flows back into the offset branch's features through PDQM (see below).
FEATURE_GRADIENT_SCALE = 0.1


def scale_gradient(x: torch.Tensor, factor: float) -> torch.Tensor:
    """x in the forward pass; its gradient times `factor` in the backward pass."""
    return x.detach() + factor * (x - x.detach())


class PoseDepthQuery(nn.Module):
    """PDQM (eq. 4): at every pixel x taken as a root, fetch the offset-branch features at the person's joints.

    c = x + O_e(x) is the person's center; p_i = c + O_i(c) its joint i; W_i = X_i(p_i), the joint-i feature
    group of the offset branch, for the J-1 non-root joints. Output: (B, (J-1) * g, h, w).

    The query positions (O_e and O_i) are taken without gradient, and the sampled offset-branch features pass
    back only FEATURE_GRADIENT_SCALE of the depth losses' gradient. It began as a workaround for root depth
    learnt at f0 = 1000 px swamping eq. 6 (one-batch overfit, 200 Adam steps, offset slope: 0.26 with full
    gradients, 0.61 positions detached, 0.98 features scaled by 0.1). With the balanced loss (focal-normalised root depth in f0 = 100 px, DAPL in decimetres)
    (f0 = 100 px, DAPL scaled up) it is still needed: 150 steps, slope 0.83 at 0.1 against 0.32 at 1.0
    (benchmarks/results/training_signal.md, measured with DAPL in cm), because eq. 7 and DAPL still pull
    1.3-3x as hard as the center term at the backbone while the offsets pull 0.6-0.8x.
    """

    def __init__(self, num_joints: int, root_joint: int, group_channels: int):
        super().__init__()
        self.num_joints = num_joints
        self.group_channels = group_channels
        non_root = [j for j in range(num_joints) if j != root_joint]
        self.register_buffer("non_root", torch.tensor(non_root, dtype=torch.long), persistent=False)

    def forward(self, offsets: torch.Tensor, offset_features: torch.Tensor,
                root_to_center: torch.Tensor) -> torch.Tensor:
        b, _, h, w = offsets.shape
        n, g = self.num_joints - 1, self.group_channels
        ys, xs = torch.meshgrid(torch.arange(h, device=offsets.device, dtype=offsets.dtype),
                                torch.arange(w, device=offsets.device, dtype=offsets.dtype), indexing="ij")
        offsets, root_to_center = offsets.detach(), root_to_center.detach()  # positions only: see above
        offset_features = scale_gradient(offset_features, FEATURE_GRADIENT_SCALE)
        center = torch.stack([xs, ys]).unsqueeze(0) + root_to_center  # (B, 2, h, w)
        joints = center.unsqueeze(1) + sample_at(offsets, center).reshape(b, self.num_joints, 2, h, w)
        joints = joints.index_select(1, self.non_root).reshape(b * n, 2, h, w)
        features = offset_features.reshape(b, self.num_joints, g, h, w).index_select(1, self.non_root)
        return sample_at(features.reshape(b * n, g, h, w), joints).reshape(b, n * g, h, w)
