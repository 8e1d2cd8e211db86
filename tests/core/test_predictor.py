"""The inference API: input checks, the letterbox around the engine, model loading and the two engines."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from drm_core.camera import Camera, Letterbox
from drm_core.checkpoint import CheckpointError, save_checkpoint
from drm_core.codec import CodecConfig, DRMCodec
from drm_core.engines import OnnxEngine
from drm_core.model import ModelConfig, build_model
from drm_core.onnx_cache import cached_onnx_path
from drm_core.predictor import InvalidImageError, Predictor, load_predictor, resolve_engine

from drm_core.data.template_scenes import input_ground_truth, scene

CAMERA = Camera(np.array([[900.0, 0, 610], [0, 880, 330], [0, 0, 1]]), 1280, 720,
                dist=np.array([-0.1, 0.03, 0.001, 0.0005, 0.0]))


class GroundTruthEngine:
    """Stands in for a perfect network (no trained model can be that): returns the codec's targets for a scene.

    It checks that the predictor hands it exactly the letterboxed input the codec expects, and that what the
    predictor does around the engine (letterbox, decode, back-projection) is exact.
    """

    description = "ground truth"

    def __init__(self, codec: DRMCodec, joints_3d: np.ndarray, uv: np.ndarray):
        self.codec, self.joints_3d, self.uv = codec, joints_3d, uv
        self.batches: list[np.ndarray] = []

    def __call__(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        self.batches.append(batch)
        cfg = self.codec.config
        letterbox = Letterbox.fit(CAMERA.width, CAMERA.height, cfg.input_width, cfg.input_height)
        t = self.codec.encode(*input_ground_truth(CAMERA, self.joints_3d, self.uv, letterbox))
        return {k: t[k][None] for k in ("center", "offsets", "root_depth", "rel_depth", "root_to_center")}


def _image() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (CAMERA.height, CAMERA.width, 3), dtype=np.uint8)


def test_predict_returns_the_scene_through_letterbox_and_distortion():
    codec = DRMCodec(CodecConfig(input_width=512, input_height=320))
    joints_3d, uv = scene(CAMERA, [(300, 400, 4.0), (900, 380, 7.5), (640, 420, 10.0)])
    engine = GroundTruthEngine(codec, joints_3d, uv)
    poses = Predictor(engine, codec).predict(_image(), CAMERA)
    assert engine.batches[0].shape == (1, 3, 320, 512) and engine.batches[0].dtype == np.float32
    assert 0.0 <= engine.batches[0].min() and engine.batches[0].max() <= 1.0
    order = np.argsort(poses.joints_cam_m[:, 2, 0])
    gt_order = np.argsort(joints_3d[:, 2, 0])
    assert len(poses) == 3
    np.testing.assert_allclose(poses.joints_cam_m[order], joints_3d[gt_order], atol=0.01)
    one_cell_px = codec.config.stride / Letterbox.fit(CAMERA.width, CAMERA.height, 512, 320).scale
    np.testing.assert_allclose(poses.joints_uv_px[order], uv[gt_order], atol=one_cell_px)


@pytest.mark.parametrize("image, reason", [
    (np.zeros((720, 1280), np.uint8), "HxWx3"),
    (np.zeros((720, 1280, 3), np.float32), "HxWx3"),
    (np.zeros((720, 1280, 4), np.uint8), "HxWx3"),
    (np.zeros((0, 1280, 3), np.uint8), "empty"),
    (np.zeros((480, 640, 3), np.uint8), "intrinsics are for 1280x720"),
])
def test_bad_images_are_refused_with_a_reason(image, reason):
    predictor = Predictor(GroundTruthEngine(DRMCodec(), np.zeros((0, 15, 3)), np.zeros((0, 15, 2))), DRMCodec())
    with pytest.raises(InvalidImageError, match=reason):
        predictor.predict(image, CAMERA)


@pytest.fixture(scope="module")
def small_checkpoint(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("model") / "small.pt"
    return save_checkpoint(path, build_model(ModelConfig.small()), CodecConfig(input_width=256, input_height=160))


def test_load_predictor_runs_a_checkpoint_at_any_multiple_of_32(small_checkpoint):
    predictor = load_predictor(small_checkpoint, "torch", device="cpu", input_size=(320, 192), score_threshold=0.0,
                               max_people=3)
    assert predictor.input_size == (320, 192) and predictor.warnings == ()
    poses = predictor.predict(_image(), CAMERA)
    assert len(poses) <= 3 and np.all(np.isfinite(poses.joints_cam_m))


def test_cuda_request_without_gpu_falls_back_with_one_warning(small_checkpoint):
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    predictor = load_predictor(small_checkpoint, "torch", device="cuda")
    assert len(predictor.warnings) == 1 and "CPU" in predictor.warnings[0]
    assert "cpu" in predictor.description


def test_onnxruntime_cuda_request_on_the_cpu_build_says_which_build_to_install(small_checkpoint):
    import onnxruntime as ort
    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("onnxruntime's CUDA build is installed here")
    # OnnxEngine itself: load_predictor turns device cuda into cpu first where torch sees no GPU.
    load_predictor(small_checkpoint, "onnxruntime", device="cpu")  # fills the ONNX cache
    engine = OnnxEngine(cached_onnx_path(small_checkpoint, (256, 160)), "cuda")
    assert engine.description == "onnxruntime CPU"
    assert len(engine.warnings) == 1 and "requirements-gpu.txt" in engine.warnings[0], engine.warnings


def test_missing_and_corrupt_models_raise_checkpoint_error_naming_the_path(tmp_path, small_checkpoint):
    with pytest.raises(CheckpointError, match="nope.pt"):
        load_predictor(tmp_path / "nope.pt")
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(small_checkpoint.read_bytes()[:5000])
    with pytest.raises(CheckpointError, match="corrupt.pt"):
        load_predictor(corrupt)
    with pytest.raises(ValueError, match="engine"):
        load_predictor(small_checkpoint, engine="tensorflow")


def test_onnxruntime_engine_gives_the_torch_engine_poses(small_checkpoint):
    torch_predictor = load_predictor(small_checkpoint, "torch", device="cpu", score_threshold=0.0)
    onnx_predictor = load_predictor(small_checkpoint, engine="onnxruntime", device="cpu", score_threshold=0.0)
    assert onnx_predictor.description.startswith("onnxruntime")
    batch, _ = torch_predictor.preprocess(_image(), CAMERA)
    a, b = torch_predictor.engine(batch), onnx_predictor.engine(batch)
    for key in a:
        scale = max(1.0, float(np.abs(a[key]).max()))
        np.testing.assert_allclose(b[key], a[key], atol=2e-3 * scale, err_msg=key)


def test_auto_engine_is_onnxruntime_on_the_cpu_and_torch_on_a_gpu():
    assert resolve_engine("auto", "cpu") == "onnxruntime" and resolve_engine("auto", "cuda") == "torch"
    assert resolve_engine("torch", "cpu") == "torch"
    with pytest.raises(ValueError, match="engine must be one of auto, torch, onnxruntime"):
        resolve_engine("tensorrt", "cpu")


def test_a_checkpoint_is_exported_once_and_a_damaged_export_is_made_again(small_checkpoint, tmp_path):
    first = load_predictor(small_checkpoint, device="cpu")  # auto on the CPU: onnxruntime, from the cache
    assert first.description.startswith("onnxruntime")
    cached = cached_onnx_path(small_checkpoint, (256, 160))  # the checkpoint's own size
    made = cached.stat().st_mtime_ns
    load_predictor(small_checkpoint, device="cpu")
    assert cached.stat().st_mtime_ns == made, "a cached export was made again"
    assert not list(cached.parent.glob("*.partial")), "an export left its temporary file"

    cached.write_bytes(cached.read_bytes()[:1000])  # as if a disk filled up mid-write
    again = load_predictor(small_checkpoint, device="cpu", score_threshold=0.0)
    assert cached.stat().st_size > 1000
    batch, _ = again.preprocess(_image(), CAMERA)
    np.testing.assert_allclose(again.engine(batch)["center"], first.engine(batch)["center"], atol=1e-6)

    other = tmp_path / "other.pt"  # another checkpoint's content: another export, whatever its name
    other.write_bytes(small_checkpoint.read_bytes() + b"\0")
    assert cached_onnx_path(other, (256, 160)) != cached and cached_onnx_path(small_checkpoint, (320, 192)) != cached
