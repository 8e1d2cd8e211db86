"""Keeping what a pretrained start knows while it learns the rest: frozen parts, slower parts, and distillation
toward a frozen copy of the starting model's 2D maps (center heat and joint offsets) on real frames.

Parts are the model's top-level modules by name (DRM: backbone, center_head, offset_head, root_to_center_head,
depth_query, root_depth_head, rel_depth_head). A frozen part gets no gradient, is left out of the optimiser
and stays in eval mode, so its batch-norm statistics do not drift either; a bn_eval part trains its weights
with its batch norm in eval mode (the start's statistics, and train-mode maps equal to eval-mode ones, which
distillation needs: a train-mode student compared with an eval-mode teacher differs even at the start).
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import nn

from drm_core.losses import SMOOTH_L1_BETA


@dataclass(frozen=True)
class DistillConfig:
    """Distillation toward the starting model on real frames (the MoveNet preset's start is MoveNet itself).

    center: weight of the mean squared difference of the center maps (as the center loss, eq. 5);
    offsets: weight of the smooth-L1 difference of the offset maps where the start's center heat is at least
    min_center (offsets are only read near centers), each pixel weighted by that heat."""

    center: float = 1.0
    offsets: float = 0.03
    min_center: float = 0.1
    real_only: bool = True  # only frames of the 'real' dataset; False: every frame of the batch

    def __post_init__(self) -> None:
        if self.center < 0 or self.offsets < 0 or self.center + self.offsets == 0:
            raise ValueError(f"distill weights must be >= 0 and not both 0, got center {self.center}, "
                             f"offsets {self.offsets}")
        if not 0 <= self.min_center < 1:
            raise ValueError(f"distill.min_center must be in [0, 1), got {self.min_center}")


def part_names(model: nn.Module) -> list[str]:
    return [name for name, _ in model.named_children()]


def check_parts(model: nn.Module, names: list[str], where: str) -> None:
    """A part is a top-level module, or a dotted path below one ("offset_head.head": the regression of the
    offset head without its PDQM features)."""
    known = {name for name, _ in model.named_modules() if name}
    unknown = sorted(set(names) - known)
    if unknown:
        raise ValueError(f"{where}: unknown model parts {unknown}; this model has {part_names(model)} "
                         "(and their dotted sub-modules)")


def freeze_parts(model: nn.Module, names: list[str]) -> None:
    """No gradient for the named parts (check_parts first)."""
    for name in names:
        model.get_submodule(name).requires_grad_(False)


def frozen_to_eval(model: nn.Module, names: list[str]) -> None:
    """After model.train(): the named parts (frozen, or bn_eval) back to eval mode: their batch norm uses and
    keeps the start's statistics."""
    for name in names:
        model.get_submodule(name).eval()


def param_groups(model: nn.Module, lr: float, multipliers: dict[str, float]) -> list[dict]:
    """Optimiser groups: one per part with an lr multiplier, one for the rest; frozen parameters left out."""
    groups = []
    for name, mult in multipliers.items():
        params = [p for p in model.get_submodule(name).parameters() if p.requires_grad]
        if params:
            groups.append({"params": params, "lr": lr * mult, "name": name})
    slow = {id(p) for g in groups for p in g["params"]}
    rest = [p for p in model.parameters() if p.requires_grad and id(p) not in slow]
    if rest:
        groups.append({"params": rest, "lr": lr, "name": "rest"})
    if not groups:
        raise ValueError("every parameter of the model is frozen: nothing to train")
    return groups


def frozen_copy(model: nn.Module) -> nn.Module:
    """The teacher: the model as it starts, in eval mode, never trained."""
    teacher = copy.deepcopy(model).eval()
    teacher.requires_grad_(False)
    return teacher


def distill_loss(student: dict[str, torch.Tensor], teacher: nn.Module, images: torch.Tensor,
                 mask: torch.Tensor, cfg: DistillConfig) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Weighted distillation terms on the images where mask (B,) is True (zero, with no teacher pass, when none
    is). The student's outputs are the full batch's; the teacher runs on the masked images only."""
    zero = student["center"].new_zeros(())
    if not bool(mask.any()):
        return zero, {"distill_center": zero, "distill_offsets": zero}
    with torch.no_grad():
        t = teacher(images[mask])
    t_center = t["center"].float()
    s_center = student["center"][mask].float()
    center = ((s_center - t_center) ** 2).mean()
    heat = t_center.clamp(0, 1)
    weight = torch.where(heat >= cfg.min_center, heat, torch.zeros_like(heat))
    diff = nn.functional.smooth_l1_loss(student["offsets"][mask].float(), t["offsets"].float(), reduction="none",
                                        beta=SMOOTH_L1_BETA)
    offsets = (diff * weight).sum() / (weight.sum() * diff.shape[1]).clamp(min=1e-6)
    total = cfg.center * center + cfg.offsets * offsets
    return total, {"distill_center": center.detach(), "distill_offsets": offsets.detach()}
