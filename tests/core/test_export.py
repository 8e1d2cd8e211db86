"""Checkpoints round-trip and fail loudly; the ONNX export runs in onnxruntime like the torch model."""
from __future__ import annotations

import dataclasses

import numpy as np
import onnxruntime as ort
import pytest
import torch

from drm_core.checkpoint import CheckpointError, load_checkpoint, load_model, save_checkpoint
from drm_core.codec import CodecConfig
from drm_core.export import main as export_main
from drm_core.export import read_metadata
from drm_core.model import DRM, ModelConfig, build_model


CODEC = CodecConfig(input_width=320, input_height=192, center_threshold=0.2)


def _trained_looking_model(config: ModelConfig, hw: tuple[int, int]) -> DRM:
    """A random model whose BatchNorm statistics fit its activations, as a trained model's do.

    Untouched running statistics let activations grow to ~1e3, where float32 rounding alone exceeds 1e-3.
    """
    torch.manual_seed(0)
    model = build_model(config).train()
    with torch.no_grad():
        for _ in range(3):
            model(torch.rand(2, 3, *hw))
    return model.eval()


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    model = _trained_looking_model(ModelConfig.small(), (64, 64))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    path = tmp_path_factory.mktemp("ckpt") / "drm.pt"
    save_checkpoint(path, model, CODEC, optimizer=optimizer.state_dict(), epoch=3, step=120,
                    train_config={"lr": 1e-3})
    return path, model


def test_checkpoint_round_trip_gives_equal_outputs(checkpoint):
    path, model = checkpoint
    loaded, codec = load_model(path)
    assert codec == CODEC and loaded.config == model.config and not loaded.training
    image = torch.rand(1, 3, 96, 128)
    with torch.no_grad():
        a, b = model(image), loaded(image)
    for k in DRM.OUTPUT_NAMES:
        assert torch.equal(a[k], b[k]), k
    data = load_checkpoint(path)
    assert data["epoch"] == 3 and data["step"] == 120 and "state" in data["optimizer"]


def test_missing_checkpoint_names_the_path(tmp_path):
    path = tmp_path / "nowhere.pt"
    with pytest.raises(CheckpointError, match="nowhere.pt.*no such file"):
        load_model(path)


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty"])
def test_damaged_checkpoint_names_the_path(checkpoint, tmp_path, damage):
    data = checkpoint[0].read_bytes()
    path = tmp_path / f"{damage}.pt"
    path.write_bytes({"truncated": data[: len(data) // 2], "garbage": b"not a checkpoint" * 50, "empty": b""}[damage])
    with pytest.raises(CheckpointError, match=f"{damage}.pt.*cannot be read"):
        load_model(path)


@pytest.mark.parametrize("content,message", [
    ([1, 2, 3], "holds a list"),
    ({"format": "yolo/8", "model": {}}, "format is 'yolo/8'"),
    ({"format": "drm-checkpoint/1", "model": {}}, r"missing keys \['model_config', 'codec_config'\]"),
])
def test_foreign_checkpoint_contents_are_rejected(tmp_path, content, message):
    path = tmp_path / "foreign.pt"
    torch.save(content, path)
    with pytest.raises(CheckpointError, match=f"foreign.pt.*{message}"):
        load_model(path)


def test_weights_that_do_not_fit_the_config_are_rejected(checkpoint, tmp_path):
    data = load_checkpoint(checkpoint[0])
    data["model_config"] = {**data["model_config"], "head_channels": 24}
    path = tmp_path / "mismatch.pt"
    torch.save(data, path)
    with pytest.raises(CheckpointError, match="mismatch.pt.*do not fit"):
        load_model(path)


def test_save_rejects_unknown_training_state(tmp_path):
    with pytest.raises(ValueError, match="unknown checkpoint entries"):
        save_checkpoint(tmp_path / "x.pt", build_model(ModelConfig.small()), CODEC, optimiser={})


def test_cli_exports_onnx_that_matches_torch(tmp_path):
    """Deformable heads (DEKR's, exported as ONNX DeformConv) on the small backbone, at a small input."""
    hw = (96, 128)
    model = _trained_looking_model(dataclasses.replace(ModelConfig.small(), deformable=True), hw)
    ckpt = save_checkpoint(tmp_path / "drm.pt", model, CODEC)
    onnx_path = tmp_path / "out" / "drm.onnx"
    assert export_main([str(ckpt), str(onnx_path), "--height", str(hw[0]), "--width", str(hw[1])]) == 0

    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["image"]
    assert tuple(o.name for o in session.get_outputs()) == DRM.OUTPUT_NAMES
    image = torch.rand(1, 3, *hw, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        expected = model(image)
    for name, got in zip(DRM.OUTPUT_NAMES, session.run(None, {"image": image.numpy()})):
        assert got.shape == tuple(expected[name].shape), name
        assert np.abs(got - expected[name].numpy()).max() < 1e-3, name

    codec, model_config = read_metadata(onnx_path)
    assert codec == dataclasses.replace(CODEC, input_height=hw[0], input_width=hw[1])
    assert ModelConfig.from_dict(model_config) == model.config


def test_cli_fails_with_a_message_on_a_bad_checkpoint(tmp_path, capsys):
    bad = tmp_path / "broken.pt"
    bad.write_bytes(b"\x00" * 10)
    assert export_main([str(bad), str(tmp_path / "x.onnx")]) != 0
    assert "broken.pt" in capsys.readouterr().err
    assert not (tmp_path / "x.onnx").exists()
