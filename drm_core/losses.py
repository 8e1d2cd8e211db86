"""DRM's training losses, eqs. 5-12, on batched network outputs and codec targets (docs/CONTRACTS.md)."""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from drm_core.skeleton import MPI15

SMOOTH_L1_BETA = 1.0 / 9.0  # DEKR's offset loss


@dataclass(frozen=True)
class LossWeights:
    """The lambdas of eq. 12, plus O_e's (our addition, weighted like the offsets), and DAPL's length unit."""

    center: float = 1.0
    offsets: float = 0.03
    root_depth: float = 0.03
    rel_depth: float = 0.03
    dapl: float = 0.003
    root_to_center: float = 0.03
    # Eq. 11's X and Y errors are measured in this many metres (B_i stays in map px). In metres (1.0, the first
    # models) lambda_p * L_p pulled ~1000x less than the root-depth term; in decimetres its backbone gradient
    # sits between the offsets' and the root depth's (benchmarks/results/training_signal.md), where centimetres
    # made it the largest term and cost offset accuracy in the one-batch overfit.
    dapl_unit_m: float = 0.1

    def __post_init__(self) -> None:
        if self.dapl_unit_m <= 0:
            raise ValueError(f"LossWeights.dapl_unit_m must be positive, got {self.dapl_unit_m}")


def _weighted_mean(loss: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Sum of weighted per-element losses divided by the number of positive weights (0 when there are none)."""
    weight = weight.expand_as(loss)
    count = (weight > 0).sum().clamp(min=1)
    return (loss * weight).sum() / count


def _smooth_l1(pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    return _weighted_mean(F.smooth_l1_loss(pred, target, reduction="none", beta=SMOOTH_L1_BETA), weight)


def center_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Eq. 5, ||C - C*||^2, averaged over pixels and images as DEKR does (DRM takes DEKR's loss factors)."""
    return ((pred - target) ** 2).mean()


def absolute_depths(root_depth: torch.Tensor, rel_depth: torch.Tensor, depth_scale: torch.Tensor,
                    root_joint: int) -> torch.Tensor:
    """(B, J, h, w) metric depth of every joint: Z_j = root_depth * f_eff / f0 - dZ_j (eq. 2), dZ_root = 0."""
    z_root = root_depth * depth_scale
    rel = torch.cat([rel_depth[:, :root_joint], torch.zeros_like(z_root), rel_depth[:, root_joint:]], dim=1)
    return z_root - rel


def dapl_loss(outputs: dict[str, torch.Tensor], targets: dict[str, torch.Tensor], root_joint: int,
              unit_m: float = 1.0) -> torch.Tensor:
    """Eq. 11: |ray * (Z_pred - Z_gt)| / unit_m for x and y, weighted by 1/B_i at root pixels of people with 3D."""
    scale = targets["depth_scale"]
    error = (absolute_depths(outputs["root_depth"], outputs["rel_depth"], scale, root_joint)
             - absolute_depths(targets["root_depth"], targets["rel_depth"], scale, root_joint))
    b, j, h, w = error.shape
    rays = targets["rays"].reshape(b, j, 2, h, w)
    per_joint = (rays * error.unsqueeze(2)).abs().sum(2)  # x and y terms of eq. 11
    return _weighted_mean(per_joint, targets["dapl_weight"]) / unit_m


class DRMLoss(nn.Module):
    """Eq. 12: L = Lc + 0.03 Lo + 0.03 Lrz + 0.03 LΔz + 0.003 Lp (+ 0.03 Le for O_e).

    Every regression term is a weighted sum over labelled positions divided by their count, so images
    without 3D (all 3D weights zero) add exactly zero to the depth terms.
    """

    def __init__(self, weights: LossWeights = LossWeights(), root_joint: int = MPI15.root):
        super().__init__()
        self.weights = weights
        self.root_joint = root_joint

    def forward(self, outputs: dict[str, torch.Tensor],
                targets: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """(weighted total, unweighted parts keyed like LossWeights)."""
        o, t = outputs, targets
        parts = {
            "center": center_loss(o["center"], t["center"]),
            "offsets": _smooth_l1(o["offsets"], t["offsets"], t["offset_weight"]),  # eq. 6
            "root_depth": _smooth_l1(o["root_depth"], t["root_depth"], t["root_depth_weight"]),  # eq. 7
            "rel_depth": _smooth_l1(o["rel_depth"], t["rel_depth"], t["rel_depth_weight"]),  # eq. 8
            "dapl": dapl_loss(o, t, self.root_joint, self.weights.dapl_unit_m),  # eq. 11
            "root_to_center": _smooth_l1(o["root_to_center"], t["root_to_center"], t["root_to_center_weight"]),
        }
        weights = asdict(self.weights)
        total = sum(weights[k] * v for k, v in parts.items())  # dapl_unit_m is no part's weight
        return total, parts
