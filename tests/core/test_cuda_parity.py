"""The node's device:=cuda path: the torch engine on a GPU (fp16 autocast, letterbox on the device) gives the
poses of the CPU engine (fp32, OpenCV letterbox) within stated tolerances.

The CUDA cases are skipped where no GPU is present (benchmarks/gpu/run.sh runs them first on a GPU). The same
comparison runs on the CPU with the device letterbox and bf16 autocast, so the code path is exercised here too:
bf16 keeps 8 mantissa bits against fp16's 11, so it is the harder case for the tolerances.
"""
from __future__ import annotations

from types import SimpleNamespace

import cv2
import numpy as np
import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from drm_core.camera import Camera, Letterbox
from drm_core.engines import TorchEngine
from drm_core.gpu_preprocess import letterbox_on_device
from drm_core.model import ModelConfig, build_model
from drm_core.predictor import Predictor, load_predictor
from drm_core.pose_types import Poses3D
from tests.movenet_cache import TF_REFERENCE

CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU on this machine")

# Tolerances, from the model shipped before (EfficientNet-Lite0) on six synthetic scenes with CPU autocast and the
# device letterbox; the bf16 ones below re-measured with the MoveNet model on the photograph. Where two
# neighbouring center-map pixels are nearly equal, the precision decides which is the peak, and the pose read
# at the other pixel differs by up to 10 % of the person's size in 2D and 3 % of the depth in 3D (fp16: 1 of
# 22 people, bf16: 2 of 22). Every other person moved by at most 1.0 px and 0.9 % of its depth (bf16).
LOOSE_2D = 0.15  # every person: joints within this fraction of its 2D box diagonal ...
LOOSE_3D = 0.04  # ... and within this fraction of the joint's depth
TIGHT_2D_PX = 1.5  # most people (TIGHT_SHARE): within 1.5 source px of the 640x480 camera (a map cell: 12 px)
TIGHT_3D = 0.01  # ... and 1 % of the depth
TIGHT_SHARE = 0.8
# bf16 keeps 8 bits of mantissa: offsets and depths move by about 1 %, so its tight bounds are wider (measured with
# the shipped MoveNet model on the CPU on the footballer, about 400 px tall: 3.0-4.5 px, 1.3-2.5 % of the depth).
BF16_TIGHT_2D_PX, BF16_TIGHT_3D = 6.0, 0.035
LOOSE_SHARE = 0.9
SCORE_TOLERANCE = 0.03  # measured: 0.002 (fp16), 0.019 (bf16)
# Pixel differences of the device letterbox to OpenCV's: OpenCV rounds to uint8 and quantises sub-pixel
# positions to 1/32 px (measured: at most 1.4 grey levels, 0.16-0.29 on average).
LETTERBOX_MAX_GREY = 2.0
LETTERBOX_MEAN_GREY = 0.35


@pytest.fixture(scope="module")
def scenes():
    """A real photograph of a footballer (the shipped model's 2D is MoveNet's, trained on real people; it finds few
    synthetic mannequins): at 640x400, mirrored, and smaller on a 640x480 canvas."""
    photo = np.load(TF_REFERENCE)["messi5_256/input"][0]
    big = cv2.resize(photo, (640, 400), interpolation=cv2.INTER_CUBIC)
    canvas = np.full((480, 640, 3), 110, np.uint8)
    canvas[200:440, 250:634] = cv2.resize(photo, (384, 240), interpolation=cv2.INTER_CUBIC)
    images = [big, np.ascontiguousarray(big[:, ::-1]), canvas]
    return [SimpleNamespace(image=image, camera=Camera(np.array([[600.0, 0, image.shape[1] / 2 - 0.5],
                                                                 [0, 600.0, image.shape[0] / 2 - 0.5], [0, 0, 1]]),
                                                        image.shape[1], image.shape[0])) for image in images]


@pytest.fixture(scope="module")
def cpu_predictor():
    return load_predictor(None, "torch", "cpu")


def _person_errors(reference: Poses3D, other: Poses3D, threshold: float) -> list[tuple[float, float, float, float]]:
    """Per confident reference person (matched to the other side's nearest root pixel): the largest 2D joint error
    in px and as a fraction of its box diagonal, the largest 3D joint error as a fraction of the joint's depth, and
    the score difference. A person within SCORE_TOLERANCE of the threshold may be kept by one precision only."""
    sure = reference.scores >= threshold + SCORE_TOLERANCE
    assert sure.any() and len(other) > 0, f"{len(reference)} people on the CPU, {len(other)} on the device"
    assert (other.scores >= threshold + SCORE_TOLERANCE).sum() <= len(reference), "confident people added"
    errors = []
    for i in np.flatnonzero(sure):
        j = int(np.argmin(np.linalg.norm(other.joints_uv_px[:, 2] - reference.joints_uv_px[i, 2], axis=-1)))
        uv = reference.joints_uv_px[i]
        error_px = np.linalg.norm(other.joints_uv_px[j] - uv, axis=-1).max()
        error_3d = np.linalg.norm(other.joints_cam_m[j] - reference.joints_cam_m[i], axis=-1)
        errors.append((float(error_px), float(error_px / np.hypot(*(uv.max(0) - uv.min(0)))),
                       float((error_3d / reference.joints_cam_m[i, :, 2]).max()),
                       abs(float(other.scores[j] - reference.scores[i]))))
    return errors


def _assert_same_poses(cpu_predictor: Predictor, device_predictor: Predictor, samples: list,
                       tight_px: float = TIGHT_2D_PX, tight_3d: float = TIGHT_3D) -> None:
    threshold = cpu_predictor.codec.config.center_threshold
    errors = np.array([e for s in samples for e in _person_errors(cpu_predictor.predict(s.image, s.camera),
                                                                  device_predictor.predict(s.image, s.camera),
                                                                  threshold)])
    px, fraction_2d, fraction_3d, score = errors.T
    # Near-equal neighbouring peaks (a duplicate pair) can swap with the precision: nearly everyone, not everyone.
    assert np.mean((fraction_2d <= LOOSE_2D) & (fraction_3d <= LOOSE_3D)) >= LOOSE_SHARE, errors
    assert np.mean((px <= tight_px) & (fraction_3d <= tight_3d)) >= TIGHT_SHARE, errors
    assert score[fraction_2d <= LOOSE_2D].max() <= SCORE_TOLERANCE, errors  # the same person on both sides


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=CUDA)])
@pytest.mark.parametrize("size", [(1280, 720, 832, 512), (1920, 1080, 256, 160), (300, 200, 832, 512)])
def test_device_letterbox_matches_opencv(device, size):
    """Shrinking (with and without the pre-blur) and enlarging, grey borders on both axes."""
    width, height, input_width, input_height = size
    image = np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)
    letterbox = Letterbox.fit(width, height, input_width, input_height)
    reference = letterbox.warp(image).astype(np.float32)
    made = letterbox_on_device(image, letterbox, device)
    assert made.device.type == device and made.shape == (1, 3, input_height, input_width)
    grey = np.abs(made[0].permute(1, 2, 0).cpu().numpy() * 255.0 - reference)
    assert grey.max() <= LETTERBOX_MAX_GREY and grey.mean() <= LETTERBOX_MEAN_GREY


def test_device_letterbox_and_bf16_on_the_cpu_give_the_cpu_poses(scenes, cpu_predictor):
    engine = TorchEngine(cpu_predictor.engine.model, "cpu", "bf16", preprocess_on_device=True)
    _assert_same_poses(cpu_predictor, Predictor(engine, cpu_predictor.codec), scenes, BF16_TIGHT_2D_PX, BF16_TIGHT_3D)


@CUDA
def test_the_node_cuda_path_gives_the_cpu_poses(scenes, cpu_predictor):
    """load_predictor(device='cuda'), as the node calls it: torch, fp16 autocast, letterbox on the GPU."""
    gpu_predictor = load_predictor(None, "auto", "cuda")
    assert gpu_predictor.engine.preprocess_on_device and "cuda (fp16)" in gpu_predictor.description
    _assert_same_poses(cpu_predictor, gpu_predictor, scenes)


@CUDA
@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_cuda_fp32_and_bf16_give_the_cpu_poses(scenes, cpu_predictor, precision):
    model = load_predictor(None, "torch", "cpu").engine.model  # a copy: the engine moves its model to the GPU
    bounds = (BF16_TIGHT_2D_PX, BF16_TIGHT_3D) if precision == "bf16" else (TIGHT_2D_PX, TIGHT_3D)
    _assert_same_poses(cpu_predictor, Predictor(TorchEngine(model, "cuda", precision), cpu_predictor.codec), scenes,
                       *bounds)


class _HostRoundTrips(TorchDispatchMode):
    """Counts the operators that move data between host and device or wait for the device: a tensor built from
    Python data (lift_fresh), .item() (_local_scalar_dense), data-dependent shapes (nonzero, masked_select)."""

    SUSPECTS = ("lift_fresh", "_local_scalar_dense", "nonzero", "masked_select")

    def __init__(self):
        super().__init__()
        self.seen: list[str] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func.__name__.split(".")[0] in self.SUSPECTS:
            self.seen.append(str(func))
        return func(*args, **(kwargs or {}))


@pytest.mark.parametrize("preset", ["paper", "small"])
def test_the_forward_pass_has_no_host_round_trips_so_a_cuda_graph_can_capture_it(preset):
    """benchmarks/gpu captures the network in a CUDA graph; a host-to-device copy or a sync inside the forward
    pass makes the capture fail. Checked on the CPU by watching the operators the forward pass dispatches."""
    torch.manual_seed(0)
    model = build_model(getattr(ModelConfig, preset)()).eval()
    with torch.inference_mode(), _HostRoundTrips() as watch:
        model(torch.rand(1, 3, 64, 128))
    assert watch.seen == []
