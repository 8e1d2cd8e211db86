"""What every phase of the GPU benchmark shares: its settings (full or tiny), the device, stage timing with
synchronisation, and the synthetic scenes of N people with the maps the codec encodes for them."""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import torch

from drm_core.camera import Camera, Letterbox
from drm_core.codec import DRMCodec
from drm_core.data.synthetic import SyntheticConfig, SyntheticDataset
from drm_core.model import ModelConfig

MAP_KEYS = ("center", "offsets", "root_depth", "rel_depth", "root_to_center")


@dataclass(frozen=True)
class Settings:
    """Sizes and repeats of one run. `full()` is sized for an H100/H200 (the benchmark part in about 3 minutes),
    `tiny()` for a CPU unit test (seconds per phase)."""

    tiny: bool
    device: str  # "cuda" or "cpu"
    repeats: int
    warmup: int
    people: tuple[int, ...]
    precisions: tuple[str, ...]
    configs: tuple[str, ...]  # names of model_configs(); those this ModelConfig lacks are recorded as skipped
    paper_input: tuple[int, int]  # (w, h)
    small_input: tuple[int, int]
    camera_size: tuple[int, int]  # (w, h) of the rendered camera images
    crop_size: tuple[int, int]  # top-down crop (w, h)
    topdown_precision: str
    topdown_sequential: bool  # also run the crop network one person at a time (the paper's top-down methods)
    train_batch: int
    train_steps: int  # timed steps of the throughput measurement (after `warmup` steps)
    short_run_steps: int  # the CPU preset's AMP run
    short_run_batch: int
    short_run_scenes: int
    compile_configs: tuple[str, ...]  # "config:precision" pairs for torch.compile
    compile_mode: str
    backbone_override: str | None = None  # tiny: a small HRNet in place of HRNet-W32 (the heads stay the paper's)

    @classmethod
    def full(cls, device: str) -> "Settings":
        return cls(tiny=False, device=device, repeats=30, warmup=5, people=(1, 3, 10, 20),
                   precisions=("fp32", "fp16", "bf16"), configs=("paper", "small", "small_effnet"),
                   paper_input=(832, 512), small_input=(256, 160), camera_size=(1280, 720), crop_size=(192, 256),
                   topdown_precision="fp16", topdown_sequential=True, train_batch=8, train_steps=10,
                   short_run_steps=40, short_run_batch=8, short_run_scenes=32,
                   compile_configs=("paper:fp16",), compile_mode="reduce-overhead")

    @classmethod
    def tiny_run(cls, device: str) -> "Settings":
        """fp32 only: torchvision's deformable convolution has no bf16/fp16 CPU kernel."""
        return cls(tiny=True, device=device, repeats=1, warmup=0, people=(1, 3, 20), precisions=("fp32",),
                   configs=("paper", "small", "small_effnet"), paper_input=(128, 64),
                   small_input=(128, 64), camera_size=(320, 180), crop_size=(96, 128), topdown_precision="bf16",
                   topdown_sequential=True, train_batch=2, train_steps=1, short_run_steps=8, short_run_batch=2,
                   short_run_scenes=2, compile_configs=(), compile_mode="reduce-overhead",
                   backbone_override="hrnet_w18_small_v2")

    def replace(self, **changes: Any) -> "Settings":
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})


def model_configs(settings: Settings) -> dict[str, tuple[ModelConfig, tuple[int, int]]]:
    """The configurations the run knows: the paper's (HRNet-W32) and the CPU preset, with their input (w, h);
    the EfficientNet CPU preset too where ModelConfig has one."""
    paper = ModelConfig.paper()
    if settings.backbone_override:
        paper = dataclasses.replace(paper, backbone=settings.backbone_override)
    configs = {"paper": (paper, settings.paper_input), "small": (ModelConfig.small(), settings.small_input)}
    if hasattr(ModelConfig, "small_effnet"):  # random weights: timing only, and no weights package needed
        configs["small_effnet"] = (dataclasses.replace(ModelConfig.small_effnet(), pretrained=False),
                                   settings.small_input)
    return configs


@torch.no_grad()
def calibrate_batchnorm(module: torch.nn.Module, example: torch.Tensor, passes: int = 2) -> None:
    """BatchNorm running statistics from a few passes over `example`, then eval mode. Freshly initialised
    statistics (mean 0, variance 1) let random weights' eval-mode activations grow through HRNet's residual
    branches to ~1e7, beyond fp16's range; calibrated, they stay in a trained network's range. Timing only."""
    module.train()
    for layer in module.modules():
        if isinstance(layer, torch.nn.modules.batchnorm._BatchNorm):
            layer.reset_running_stats()
            layer.momentum = None  # a plain average over the passes
    for _ in range(passes):
        module(example)
    module.eval()


def synchronize(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def stats_ms(seconds: list[float]) -> dict[str, float]:
    ms = 1e3 * np.asarray(seconds)
    return {"p50_ms": float(np.percentile(ms, 50)), "p95_ms": float(np.percentile(ms, 95)),
            "mean_ms": float(ms.mean()), "min_ms": float(ms.min()), "n": int(len(ms))}


def time_stages(stages: list[tuple[str, Callable[[Any], Any]]], first_input: Any, repeats: int, warmup: int,
                device: str) -> dict[str, dict[str, float]]:
    """Run the chain of stages (each takes the previous one's output) warmup + repeats times, the device
    synchronised at every stage boundary; p50/p95 per stage and of the whole chain ('total', per iteration)."""
    times: dict[str, list[float]] = {name: [] for name, _ in stages}
    totals = []
    for i in range(warmup + repeats):
        value = first_input
        synchronize(device)
        start = time.perf_counter()
        mark = start
        for name, stage in stages:
            value = stage(value)
            synchronize(device)
            now = time.perf_counter()
            if i >= warmup:
                times[name].append(now - mark)
            mark = now
        if i >= warmup:
            totals.append(mark - start)
    return {**{name: stats_ms(t) for name, t in times.items()}, "total": stats_ms(totals)}


@dataclass
class Scene:
    """A rendered camera image of N people, its camera, and (per network input size) the maps the codec
    encodes for its ground truth: decoding those costs what decoding N found people costs."""

    people: int
    image: np.ndarray
    camera: Camera
    joints_2d_px: np.ndarray  # (P, J, 2) source pixels
    joints_3d_m: np.ndarray  # (P, J, 3) camera frame
    visibility: np.ndarray

    def letterbox(self, input_size: tuple[int, int]) -> Letterbox:
        return Letterbox.fit(self.camera.width, self.camera.height, *input_size)

    def encoded_maps(self, codec: DRMCodec) -> dict[str, np.ndarray]:
        """The codec's targets of this scene's people at the codec's input size, as network maps (no batch)."""
        cfg = codec.config
        letterbox = self.letterbox((cfg.input_width, cfg.input_height))
        targets = codec.encode(letterbox.to_input(self.joints_2d_px), self.visibility, self.joints_3d_m,
                               letterbox.input_K(self.camera.K))
        return {k: targets[k] for k in MAP_KEYS}


def make_scenes(settings: Settings) -> list[Scene]:
    """One synthetic scene per people count, 2-10 m from a camera of settings.camera_size."""
    scenes = []
    for n in settings.people:
        config = SyntheticConfig(sizes=(settings.camera_size,), people=(n, n), depth_range_m=(2.0, 10.0), seed=n)
        sample = SyntheticDataset(config, 1)[0]
        scenes.append(Scene(n, sample.image, sample.camera, sample.joints_2d_px, sample.joints_3d_m,
                            sample.visibility))
    return scenes


def resolve_device(requested: str) -> str:
    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if requested == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: no CUDA GPU is available")
    return requested


class Skipped(Exception):
    """A phase or variant that cannot run here (no CUDA): recorded as 'skipped: <reason>', not as a failure."""
