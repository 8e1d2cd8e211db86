"""The inference API: an RGB image and its camera in, metric 3D poses in that camera's frame out.

Both the ROS node and offline tools (evaluation, bag replay) call `Predictor.predict`, so every consumer
shares one preprocessing and one decoding.
"""
from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import numpy as np

from drm_core.assets import DEFAULT_MODEL_PATH
from drm_core.camera import Camera, Letterbox
from drm_core.codec import CodecConfig, DRMCodec
from drm_core.engines import Engine, OnnxEngine, TorchEngine, resolve_device
from drm_core.onnx_cache import onnx_for_checkpoint
from drm_core.onnx_format import codec_config_of
from drm_core.skeleton import MPI15, Skeleton
from drm_core.pose_types import Poses3D

log = logging.getLogger(__name__)

ENGINES = ("auto", "torch", "onnxruntime")


class InvalidImageError(ValueError):
    """An image the predictor cannot use: wrong type, shape or size for its camera."""


class Predictor:
    """Letterbox the image to the network input, run the engine, decode with the camera's intrinsics."""

    def __init__(self, engine: Engine, codec: DRMCodec, warnings: tuple[str, ...] = ()):
        self.engine = engine
        self.codec = codec
        self.warnings = tuple(warnings)
        self.model_threshold = codec.config.center_threshold  # the model's own, from its checkpoint

    @property
    def skeleton(self) -> Skeleton:
        return self.codec.skeleton

    @property
    def input_size(self) -> tuple[int, int]:
        return self.codec.config.input_width, self.codec.config.input_height

    @property
    def description(self) -> str:
        w, h = self.input_size
        return f"{self.engine.description}, input {w}x{h}"

    def set_decoding(self, score_threshold: float | None = None, max_people: int | None = None) -> None:
        """Change the person score threshold or the most people decoded, for the following frames (None: leave it;
        `model_threshold` is the checkpoint's own)."""
        changes = {k: v for k, v in (("center_threshold", score_threshold), ("max_people", max_people))
                   if v is not None}
        self.codec = DRMCodec(dataclasses.replace(self.codec.config, **changes), self.codec.skeleton)

    def letterbox_for(self, image_rgb: np.ndarray, camera: Camera) -> Letterbox:
        """The letterbox from this image to the network input; InvalidImageError when the image cannot be used."""
        if not isinstance(image_rgb, np.ndarray) or image_rgb.dtype != np.uint8 or image_rgb.ndim != 3 \
                or image_rgb.shape[2] != 3:
            got = f"{type(image_rgb).__name__} {getattr(image_rgb, 'dtype', '')} {getattr(image_rgb, 'shape', '')}"
            raise InvalidImageError(f"expected an HxWx3 uint8 RGB image, got {got}")
        height, width = image_rgb.shape[:2]
        if height == 0 or width == 0:
            raise InvalidImageError(f"image is empty ({width}x{height})")
        if (width, height) != (camera.width, camera.height):
            raise InvalidImageError(f"image is {width}x{height} but its camera intrinsics are for "
                                    f"{camera.width}x{camera.height}")
        return Letterbox.fit(width, height, *self.input_size)

    def preprocess(self, image_rgb: np.ndarray, camera: Camera) -> tuple[np.ndarray, Letterbox]:
        """The (1, 3, H, W) float32 network input in [0, 1] and the letterbox that made it."""
        letterbox = self.letterbox_for(image_rgb, camera)
        batch = letterbox.warp(image_rgb).astype(np.float32).transpose(2, 0, 1)[None] / 255.0
        return np.ascontiguousarray(batch), letterbox

    def predict(self, image_rgb: np.ndarray, camera: Camera) -> Poses3D:
        if getattr(self.engine, "preprocess_on_device", False):  # torch on a GPU: one upload of the uint8 image
            letterbox = self.letterbox_for(image_rgb, camera)
            maps = self.engine.run_image(image_rgb, letterbox)
        else:
            batch, letterbox = self.preprocess(image_rgb, camera)
            maps = self.engine(batch)
        return self.codec.decode({k: v[0] for k, v in maps.items()}, camera, letterbox)


def resolve_engine(engine: str, device: str) -> str:
    """auto -> onnxruntime on the CPU (2-3x faster than eager torch there, see benchmarks/results), torch on
    CUDA (fp16 autocast; onnxruntime's CUDA provider is not always installed)."""
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    if engine == "auto":
        return "onnxruntime" if device == "cpu" else "torch"
    return engine


def load_predictor(model_path: str | Path | None = None, engine: str = "auto", device: str = "auto",
                   input_size: tuple[int, int] | None = None, score_threshold: float | None = None,
                   max_people: int | None = None) -> Predictor:
    """A Predictor from a checkpoint (.pt) or an exported model (.onnx); None means the shipped model.

    engine: auto (see resolve_engine), torch or onnxruntime. input_size (w, h) overrides the trained size
    (any multiple of 32). An ONNX file has a fixed size, so a checkpoint run with onnxruntime is exported at
    the requested size once and kept in the cache of drm_core.onnx_cache.
    onnxruntime with an exported or cached model does not load torch.
    Raises CheckpointError (missing or corrupt model), ValueError (bad option).
    """

    choice = resolve_device(device)
    engine = resolve_engine(engine, choice.device)
    path = Path(model_path) if model_path else DEFAULT_MODEL_PATH
    warnings = list(choice.warnings)

    if path.suffix == ".onnx":
        if engine != "onnxruntime":
            raise ValueError(f"{path} is an ONNX file: use engine 'onnxruntime' or 'auto'")
        if not path.is_file():
            from drm_core.checkpoint import CheckpointError

            raise CheckpointError(f"model {path}: no such file")
        runner: Engine = OnnxEngine(path, choice.device)
        codec_config = codec_config_of(runner.metadata, path)
        if input_size and input_size != (codec_config.input_width, codec_config.input_height):
            raise ValueError(f"{path} was exported for {codec_config.input_width}x{codec_config.input_height}, "
                             f"not {input_size[0]}x{input_size[1]}: export it again at that size")
    elif engine == "onnxruntime":
        onnx_path = onnx_for_checkpoint(path, input_size)
        try:
            runner = OnnxEngine(onnx_path, choice.device)
        except Exception as err:  # noqa: BLE001 - a damaged cached file (disk full, killed copy): export again
            log.warning("cached export %s does not load (%s); exporting again", onnx_path, err)
            runner = OnnxEngine(onnx_for_checkpoint(path, input_size, refresh=True), choice.device)
        codec_config = codec_config_of(runner.metadata, onnx_path)
    else:
        from drm_core.checkpoint import load_model  # torch model code, loaded only when needed

        model, codec_config = load_model(path, choice.device)
        if input_size:
            codec_config = dataclasses.replace(codec_config, input_width=input_size[0], input_height=input_size[1])
        runner = TorchEngine(model, choice.device)
    warnings += list(getattr(runner, "warnings", ()))
    for message in warnings:
        log.warning(message)
    predictor = Predictor(runner, DRMCodec(codec_config, MPI15), tuple(warnings))
    predictor.set_decoding(score_threshold, max_people)
    return predictor
