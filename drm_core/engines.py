"""Inference engines: one network input batch in, the raw DRM maps out, by PyTorch or by onnxruntime.

An engine knows nothing of cameras or poses; the Predictor does the pre- and post-processing around it,
so both engines give the same poses for the same maps.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
import torch

from drm_core.model import DRM


class Engine(Protocol):
    """Maps a (1, 3, H, W) float32 RGB batch in [0, 1] to the DRM output maps (numpy, batch axis kept)."""

    description: str

    def __call__(self, batch: np.ndarray) -> dict[str, np.ndarray]: ...


@dataclass(frozen=True)
class DeviceChoice:
    """The device an engine runs on and why, with a warning when the request could not be met."""

    device: str  # "cpu" or "cuda"
    warnings: tuple[str, ...] = field(default=())


def resolve_device(requested: str) -> DeviceChoice:
    """auto -> cuda when a GPU is there, else cpu; cuda without a GPU falls back to cpu with one warning."""
    if requested not in ("auto", "cpu", "cuda"):
        raise ValueError(f"device must be auto, cpu or cuda, got {requested!r}")
    if requested == "cpu":
        return DeviceChoice("cpu")
    if torch.cuda.is_available():
        return DeviceChoice("cuda")
    return DeviceChoice("cpu", (f"device {requested!r}: no CUDA GPU is available, running on the CPU",))


class TorchEngine:
    """A DRM module in eval mode; fp16 autocast on CUDA."""

    def __init__(self, model: DRM, device: str = "cpu"):
        self.model = model.to(device).eval()
        self.device = device
        self.description = f"torch on {device}" + (" (fp16)" if device == "cuda" else "")

    @torch.inference_mode()
    def __call__(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        x = torch.from_numpy(batch).to(self.device)
        with torch.autocast("cuda", dtype=torch.float16, enabled=self.device == "cuda"):
            out = self.model(x)
        return {k: v.float().cpu().numpy() for k, v in out.items()}


class OnnxEngine:
    """An exported DRM (drm_core.export) in onnxruntime: CUDA or TensorRT providers when present, else CPU."""

    def __init__(self, path: str | Path, device: str = "cpu"):
        import onnxruntime as ort  # imported here: torch-only users need not load it

        available = ort.get_available_providers()
        wanted = ["TensorrtExecutionProvider", "CUDAExecutionProvider"] if device == "cuda" else []
        providers = [p for p in wanted if p in available] + ["CPUExecutionProvider"]
        self.session = ort.InferenceSession(str(path), providers=providers)
        self.input_name = self.session.get_inputs()[0].name
        self.output_names = [o.name for o in self.session.get_outputs()]
        missing = set(DRM.OUTPUT_NAMES) - set(self.output_names)
        if missing:
            raise ValueError(f"{path}: ONNX outputs {self.output_names} lack {sorted(missing)}")
        used = self.session.get_providers()[0].replace("ExecutionProvider", "")
        self.description = f"onnxruntime {used}"
        self.warnings = tuple(
            [f"onnxruntime has no GPU provider here ({available}); running on the CPU"]
            if device == "cuda" and used == "CPU" else [])

    def __call__(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        outputs = self.session.run(self.output_names, {self.input_name: batch})
        return dict(zip(self.output_names, outputs))
