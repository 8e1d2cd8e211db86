"""Inference engines: one network input batch in, the raw DRM maps out, by PyTorch or by onnxruntime.

An engine knows nothing of cameras or poses; the Predictor does the pre- and post-processing around it,
so both engines give the same poses for the same maps. torch is imported only by the torch engine and to ask
about a GPU where a CUDA driver is installed: onnxruntime on a CPU machine runs without it (~500 MB less).
"""
from __future__ import annotations

import ctypes
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from drm_core.camera import Letterbox
from drm_core.onnx_format import OUTPUT_NAMES

if TYPE_CHECKING:
    import torch

    from drm_core.model import DRM


class Engine(Protocol):
    """Maps a (1, 3, H, W) float32 RGB batch in [0, 1] to the DRM output maps (numpy, batch axis kept).

    An engine that letterboxes on its own device (torch on a GPU) also has `preprocess_on_device = True` and
    `run_image(image_rgb, letterbox)`, which the Predictor then calls with the uint8 image instead.
    """

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
    if cuda_available():
        return DeviceChoice("cuda")
    return DeviceChoice("cpu", (f"device {requested!r}: no CUDA GPU is available, running on the CPU",))


def cuda_available() -> bool:
    """torch.cuda.is_available(), without loading torch where no CUDA driver library is installed."""
    try:
        ctypes.CDLL("libcuda.so.1")  # the driver's library: without it no GPU can be used
    except OSError:
        return False
    import torch

    return torch.cuda.is_available()


PRECISIONS = {"fp32": None, "fp16": "float16", "bf16": "bfloat16"}  # autocast dtypes (torch attribute names)


class TorchEngine:
    """A DRM module in eval mode. precision: fp32, fp16 or bf16 (autocast); auto is fp16 on CUDA, else fp32.

    preprocess_on_device (default: on a GPU) letterboxes the uint8 image on the device (drm_core.gpu_preprocess);
    on the CPU OpenCV's warp in the Predictor is as fast.
    """

    def __init__(self, model: "DRM", device: str = "cpu", precision: str = "auto",
                 preprocess_on_device: bool | None = None):
        if precision == "auto":
            precision = "fp32" if device == "cpu" else "fp16"
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be auto or one of {', '.join(PRECISIONS)}, got {precision!r}")
        self.model = model.to(device).eval()
        self.device = device
        self.precision = precision
        self.preprocess_on_device = device != "cpu" if preprocess_on_device is None else preprocess_on_device
        self.description = f"torch on {device}" + ("" if precision == "fp32" else f" ({precision})")

    def __call__(self, batch: "np.ndarray | torch.Tensor") -> dict[str, np.ndarray]:
        import torch  # loaded already with the model

        x = torch.as_tensor(batch).to(self.device)
        dtype = getattr(torch, PRECISIONS[self.precision] or "float32")
        with torch.inference_mode(), torch.autocast(torch.device(self.device).type, dtype=dtype,
                                                    enabled=PRECISIONS[self.precision] is not None):
            out = self.model(x)
        return {k: v.float().cpu().numpy() for k, v in out.items()}

    def run_image(self, image_rgb: np.ndarray, letterbox: Letterbox) -> dict[str, np.ndarray]:
        """The maps of an HxWx3 uint8 image, letterboxed on this engine's device."""
        import torch

        from drm_core.gpu_preprocess import letterbox_on_device

        with torch.inference_mode():
            return self(letterbox_on_device(image_rgb, letterbox, self.device))


class OnnxEngine:
    """An exported DRM (drm_core.export) in onnxruntime: the CUDA provider (onnxruntime-gpu) when asked for and
    present, else CPU. `metadata`: the file's metadata (drm_core.onnx_format), as onnxruntime read it with the model.

    TensorRT is not asked for: the wheel does not bring its libraries (asking prints an error banner and falls
    back), and it builds its engine for minutes at the first start."""

    def __init__(self, path: str | Path, device: str = "cpu"):
        import onnxruntime as ort  # imported here: torch-only users need not load it

        available = ort.get_available_providers()
        cuda = device == "cuda" and "CUDAExecutionProvider" in available
        if cuda and hasattr(ort, "preload_dlls"):
            # The CUDA 13 / cuDNN 9 libraries come as pip packages (torch's own dependencies, nvidia-*), which the
            # CUDA provider does not find by itself unless torch was imported first (checked on a scratch venv:
            # "libcublasLt.so.13: cannot open" without this; with it only the driver, absent there, was missing).
            try:
                ort.preload_dlls()
            except OSError:  # best effort: the provider's own error then says what is missing
                pass
        providers = (["CUDAExecutionProvider"] if cuda else []) + ["CPUExecutionProvider"]
        self.session = ort.InferenceSession(str(path), providers=providers)
        self.input_name = self.session.get_inputs()[0].name
        self.output_names = [o.name for o in self.session.get_outputs()]
        self.metadata = dict(self.session.get_modelmeta().custom_metadata_map)
        missing = set(OUTPUT_NAMES) - set(self.output_names)
        if missing:
            raise ValueError(f"{path}: ONNX outputs {self.output_names} lack {sorted(missing)}")
        used = self.session.get_providers()[0].replace("ExecutionProvider", "")
        self.description = f"onnxruntime {used}"
        if device != "cuda" or used != "CPU":
            self.warnings: tuple[str, ...] = ()
        elif cuda:
            self.warnings = ("onnxruntime's CUDA provider did not start (it needs an NVIDIA driver, CUDA 13 and cuDNN 9; "
                             "onnxruntime's log above says what was missing); running on the CPU",)
        else:
            self.warnings = (f"onnxruntime has no GPU provider here ({available}: the CPU build; "
                             f"requirements-gpu.txt has the CUDA one); running on the CPU",)

    def __call__(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        outputs = self.session.run(self.output_names, {self.input_name: batch})
        return dict(zip(self.output_names, outputs))
