"""DRM's losses (eqs. 5-12): zero at ground truth, the right value away from it, exactly zero 3D terms without 3D."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from drm_core.camera import Camera, Letterbox
from drm_core.codec import CodecConfig, DRMCodec
from drm_core.losses import SMOOTH_L1_BETA, DRMLoss, LossWeights, dapl_loss
from drm_core.model import DRM
from drm_core.skeleton import MPI15

from drm_core.data.template_scenes import input_ground_truth, scene

CAMERA = Camera(np.array([[500.0, 0, 320], [0, 520, 240], [0, 0, 1]]), 640, 480)
THREE_D = ("root_depth", "rel_depth", "dapl")


def encode_batch(config: CodecConfig, scenes: list[list[tuple[float, float, float]]],
                 with_3d: list[bool] | None = None) -> dict[str, torch.Tensor]:
    """Codec targets of several scenes (people at (u, v, depth) in CAMERA), stacked into a batch."""
    codec = DRMCodec(config)
    letterbox = Letterbox.fit(CAMERA.width, CAMERA.height, config.input_width, config.input_height)
    per_image = []
    for i, placements in enumerate(scenes):
        joints_3d, uv = scene(CAMERA, placements)
        uv_in, vis, joints_3d, K_in = input_ground_truth(CAMERA, joints_3d, uv, letterbox)
        has_3d = with_3d is None or with_3d[i]
        per_image.append(codec.encode(uv_in, vis, joints_3d if has_3d else None, K_in))
    return {k: torch.from_numpy(np.stack([t[k] for t in per_image])) for k in per_image[0]}


def perfect_outputs(targets: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """What a perfect network outputs: the targets themselves."""
    return {k: targets[k].clone() for k in DRM.OUTPUT_NAMES}


CONFIG = CodecConfig(input_width=256, input_height=192)
SCENES = [[(200.0, 260.0, 3.0), (450.0, 250.0, 6.0)], [(320.0, 240.0, 4.5)]]


@pytest.fixture(scope="module")
def targets() -> dict[str, torch.Tensor]:
    return encode_batch(CONFIG, SCENES)


def test_every_loss_is_zero_at_ground_truth(targets):
    total, parts = DRMLoss()(perfect_outputs(targets), targets)
    assert set(parts) == set(vars(LossWeights())) - {"dapl_unit_m"}  # a unit, not a weight
    for name, value in parts.items():
        assert value.item() == pytest.approx(0.0, abs=1e-9), name
    assert total.item() == pytest.approx(0.0, abs=1e-9)
    assert targets["dapl_weight"].sum() > 0 and targets["rel_depth_weight"].sum() > 0  # the 3D terms had work


@pytest.mark.parametrize("key,affected", [
    ("center", {"center"}), ("offsets", {"offsets"}), ("root_to_center", {"root_to_center"}),
    ("root_depth", {"root_depth", "dapl"}), ("rel_depth", {"rel_depth", "dapl"}),
])
def test_each_loss_is_positive_when_its_output_moves(targets, key, affected):
    outputs = perfect_outputs(targets)
    outputs[key] = outputs[key] + 0.5 * torch.randn(outputs[key].shape, generator=torch.Generator().manual_seed(0))
    total, parts = DRMLoss()(outputs, targets)
    for name, value in parts.items():
        assert (value.item() > 1e-4) == (name in affected), name
    assert total.item() > 0


def test_center_loss_is_the_mean_squared_error(targets):
    outputs = perfect_outputs(targets)
    outputs["center"] += 0.1
    assert DRMLoss()(outputs, targets)[1]["center"].item() == pytest.approx(0.01, rel=1e-5)


def test_offset_loss_is_weighted_smooth_l1_over_positive_count(targets):
    outputs = perfect_outputs(targets)
    outputs["offsets"] += 1.0  # beyond beta: smooth L1 = 1 - beta / 2 per element
    w = targets["offset_weight"]
    expected = (w.sum() * (1 - SMOOTH_L1_BETA / 2) / (w > 0).sum()).item()
    assert DRMLoss()(outputs, targets)[1]["offsets"].item() == pytest.approx(expected, rel=1e-5)


def test_dapl_matches_eq_11_by_hand(targets):
    """Root depth off by d (normalised): every joint's absolute depth is off by d * f_eff / f0."""
    d = 0.2
    outputs = perfect_outputs(targets)
    outputs["root_depth"] += d
    w, rays, scale = targets["dapl_weight"].numpy(), targets["rays"].numpy(), targets["depth_scale"].numpy()
    b, j, h, ww = w.shape
    ray_sum = np.abs(rays.reshape(b, j, 2, h, ww)).sum(2)
    expected = (w * ray_sum * d * scale).sum() / (w > 0).sum()
    assert dapl_loss(outputs, targets, MPI15.root).item() == pytest.approx(expected, rel=1e-5)
    assert expected > 0
    # In DAPL's configured unit (decimetres by default) the same error reads 1/unit times larger.
    unit = LossWeights().dapl_unit_m
    assert dapl_loss(outputs, targets, MPI15.root, unit).item() == pytest.approx(expected / unit, rel=1e-5)
    _, parts = DRMLoss(LossWeights(dapl_unit_m=0.5))(outputs, targets)
    assert parts["dapl"].item() == pytest.approx(expected / 0.5, rel=1e-5)


def test_two_d_only_samples_give_exactly_zero_finite_3d_losses():
    targets = encode_batch(CONFIG, SCENES, with_3d=[False, False])
    gen = torch.Generator().manual_seed(1)
    outputs = {k: (targets[k] + torch.randn(targets[k].shape, generator=gen)).requires_grad_()
               for k in DRM.OUTPUT_NAMES}
    total, parts = DRMLoss()(outputs, targets)
    for name in THREE_D:
        assert parts[name].item() == 0.0, name
    total.backward()
    for k in DRM.OUTPUT_NAMES:
        assert torch.isfinite(outputs[k].grad).all(), k
    assert outputs["root_depth"].grad.abs().sum() == 0 and outputs["rel_depth"].grad.abs().sum() == 0
    assert parts["offsets"].item() > 0 and torch.isfinite(total)


def test_two_d_only_images_do_not_dilute_3d_losses_in_a_batch():
    mixed = encode_batch(CONFIG, SCENES, with_3d=[True, False])
    alone = {k: v[:1] for k, v in mixed.items()}
    gen = torch.Generator().manual_seed(2)
    outputs = {k: mixed[k] + torch.randn(mixed[k].shape, generator=gen) for k in DRM.OUTPUT_NAMES}
    parts_mixed = DRMLoss()(outputs, mixed)[1]
    parts_alone = DRMLoss()({k: v[:1] for k, v in outputs.items()}, alone)[1]
    for name in THREE_D:
        assert parts_mixed[name].item() == pytest.approx(parts_alone[name].item(), rel=1e-5), name
