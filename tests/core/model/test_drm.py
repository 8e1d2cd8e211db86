"""The DRM network: output contract, PDQM's geometry, gradient paths and one training step."""
from __future__ import annotations

import logging

import pytest
import timm
import torch

from drm_core.codec import CodecConfig
from drm_core.losses import DRMLoss
from drm_core.model import DRM, ModelConfig, build_model
from drm_core.model import backbone as backbone_module
from drm_core.model import heads
from drm_core.model.heads import PoseDepthQuery
from drm_core.skeleton import MPI15

from tests.core.test_losses import encode_batch

J = MPI15.num_joints


def expected_shapes(batch: int, height: int, width: int) -> dict[str, tuple[int, ...]]:
    h, w = height // 4, width // 4
    return {"center": (batch, 1, h, w), "offsets": (batch, 2 * J, h, w), "root_depth": (batch, 1, h, w),
            "rel_depth": (batch, J - 1, h, w), "root_to_center": (batch, 2, h, w)}


@pytest.fixture(scope="module")
def small_model() -> DRM:
    torch.manual_seed(0)
    return build_model(ModelConfig.small())


def test_paper_model_outputs_match_the_contract():
    """HRNet-W32 with deformable heads; 256x160 because deform_conv2d is slow on CPU (832x512: ~9 s)."""
    torch.manual_seed(0)
    model = build_model(ModelConfig.paper()).eval()
    with torch.no_grad():
        out = model(torch.rand(1, 3, 160, 256))
    assert tuple(out) == DRM.OUTPUT_NAMES
    assert {k: tuple(v.shape) for k, v in out.items()} == expected_shapes(1, 160, 256)
    assert all(torch.isfinite(v).all() for v in out.values())


@pytest.mark.parametrize("height,width", [(512, 832), (192, 320), (256, 256), (96, 64)])
def test_small_model_outputs_match_the_contract(small_model, height, width):
    with torch.no_grad():
        out = small_model.eval()(torch.rand(1, 3, height, width))
    assert {k: tuple(v.shape) for k, v in out.items()} == expected_shapes(1, height, width)
    assert all(torch.isfinite(v).all() for v in out.values())


def test_model_takes_0_1_rgb_and_applies_imagenet_normalisation_itself(small_model):
    small_model.eval()
    image = torch.rand(1, 3, 64, 64)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    with torch.no_grad():
        expected = small_model.center_head(small_model.backbone((image - mean) / std))
        assert torch.allclose(small_model(image)["center"], expected, atol=1e-6)


def test_pdqm_fetches_joint_features_at_center_plus_offset():
    """Eq. 4: at root pixel x, W_i = features of joint i at c + O_i(c), c = x + O_e(x)."""
    h, w, g = 12, 16, 2
    query = PoseDepthQuery(J, MPI15.root, g)
    root_to_center = torch.zeros(1, 2, h, w)
    root_to_center[0, :, 5, 4] = torch.tensor([3.0, -2.0])  # root (4, 5) -> center (7, 3)
    offsets = torch.zeros(1, 2 * J, h, w)
    joint_xy = {j: (1.0 + j % 7, 2.0 + j % 5) for j in range(J)}  # integer pixels: no interpolation blur
    for j, (x, y) in joint_xy.items():
        offsets[0, 2 * j, 3, 7], offsets[0, 2 * j + 1, 3, 7] = x - 7, y - 3
    features = torch.randn(1, J * g, h, w, generator=torch.Generator().manual_seed(0))
    out = query(offsets, features, root_to_center).reshape(J - 1, g, h, w)
    for k, j in enumerate(MPI15.non_root()):
        x, y = joint_xy[int(j)]
        assert torch.allclose(out[k, :, 5, 4], features[0, j * g:(j + 1) * g, int(y), int(x)], atol=1e-5)


def _grad_norm(module: torch.nn.Module) -> float:
    return sum(float(p.grad.abs().sum()) for p in module.parameters() if p.grad is not None)


def _root_depth_gradients(feature_scale: float, monkeypatch) -> torch.nn.Module:
    monkeypatch.setattr(heads, "FEATURE_GRADIENT_SCALE", feature_scale)
    torch.manual_seed(1)
    model = build_model(ModelConfig.small()).train()
    codec = CodecConfig(input_width=128, input_height=128)
    targets = encode_batch(codec, [[(320.0, 240.0, 4.0)], [(250.0, 250.0, 3.0), (420.0, 240.0, 5.0)]])
    torch.manual_seed(3)
    _, parts = DRMLoss()(model(torch.rand(2, 3, 128, 128)), targets)
    parts["root_depth"].backward()
    return model


def test_root_depth_loss_reaches_the_offset_branch_features_through_pdqm_scaled(monkeypatch):
    scale = heads.FEATURE_GRADIENT_SCALE
    assert 0 < scale < 1
    model = _root_depth_gradients(scale, monkeypatch)
    assert _grad_norm(model.offset_head.blocks) > 0  # the sampled joint features: the PDQM path
    assert _grad_norm(model.root_depth_head) > 0 and _grad_norm(model.backbone) > 0
    # The query positions carry no gradient: the final offset conv and O_e learn from their own losses only.
    assert model.offset_head.out.weight.grad is None or float(model.offset_head.out.weight.grad.abs().sum()) == 0
    assert _grad_norm(model.root_to_center_head) == 0
    assert _grad_norm(model.rel_depth_head) == 0 and _grad_norm(model.center_head) == 0
    # The features' share of the depth gradient is scaled, nothing else.
    full = _root_depth_gradients(1.0, monkeypatch)
    ratio = _grad_norm(model.offset_head.blocks) / _grad_norm(full.offset_head.blocks)
    assert abs(ratio - scale) < 1e-3 * scale
    assert _grad_norm(model.root_depth_head) == pytest.approx(_grad_norm(full.root_depth_head), rel=1e-5)


def test_one_adam_step_lowers_the_loss_and_reaches_every_head():
    torch.manual_seed(2)
    model = build_model(ModelConfig.small()).train()
    codec = CodecConfig(input_width=128, input_height=96)
    targets = encode_batch(codec, [[(320.0, 240.0, 4.0)], [(200.0, 250.0, 3.0), (450.0, 240.0, 6.0)]])
    images = torch.rand(2, 3, 96, 128)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = DRMLoss()
    before, _ = loss_fn(model(images), targets)
    before.backward()
    for name in ("backbone", "center_head", "offset_head", "root_to_center_head", "root_depth_head",
                 "rel_depth_head"):
        assert _grad_norm(getattr(model, name)) > 0, name
    optimizer.step()
    with torch.no_grad():
        after, _ = loss_fn(model(images), targets)
    assert after.item() < before.item()


def test_config_round_trips_and_rejects_foreign_keys():
    for config in (ModelConfig.paper(), ModelConfig.small()):
        assert ModelConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError, match="unknown ModelConfig keys"):
        ModelConfig.from_dict({**ModelConfig.small().to_dict(), "width": 3})
    with pytest.raises(ValueError, match="root_joint"):
        ModelConfig(root_joint=15)


def test_pretrained_weights_unavailable_fall_back_to_random_with_a_warning(monkeypatch, caplog):
    real_create = timm.create_model

    def offline_create(name, pretrained=False, **kwargs):
        if pretrained:
            raise OSError("no internet")
        return real_create(name, pretrained=False, **kwargs)

    monkeypatch.setattr(backbone_module.timm, "create_model", offline_create)
    with caplog.at_level(logging.WARNING):
        model = build_model(ModelConfig(**{**ModelConfig.small().to_dict(), "pretrained": True}))
    assert isinstance(model, DRM)
    assert "hrnet_w18_small_v2" in caplog.text and "random" in caplog.text


def test_an_older_checkpoint_keeps_decoding_with_its_own_depth_scale(tmp_path):
    # The default f0 changed (1000 -> 100 px); weights that learnt 1000 carry it in their checkpoint.
    from drm_core.checkpoint import configs_from_checkpoint, load_checkpoint, save_checkpoint
    from drm_core.predictor import load_predictor
    path = save_checkpoint(tmp_path / "old.pt", build_model(ModelConfig.small()),
                           CodecConfig(input_width=128, input_height=96, reference_focal_px=1000.0))
    _, codec = configs_from_checkpoint(load_checkpoint(path), path)
    assert codec.reference_focal_px == 1000.0 != CodecConfig().reference_focal_px
    assert load_predictor(path, engine="torch", device="cpu").codec.config.reference_focal_px == 1000.0
