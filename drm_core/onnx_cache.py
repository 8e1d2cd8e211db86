"""Exported ONNX files of checkpoints, kept on disk so a checkpoint is exported once, not at every start.

The dynamo exporter takes ~25 s on a 2-core CPU; a node that restarts with the same model and input size
reuses the file. The key is the checkpoint's content (not its name or time), the input size and the opset,
so a retrained checkpoint at the same path is exported again. Files are written to a temporary name and
renamed into place, so a killed export never leaves a half file under a good name; a file that still fails to
load is exported again.

Where: $DRM_CACHE_DIR, else $XDG_CACHE_HOME/drm_ros, else ~/.cache/drm_ros; a temporary directory when that
cannot be written.
"""
from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import tempfile
from pathlib import Path

from drm_core.codec import CodecConfig
from drm_core.export import OPSET

log = logging.getLogger(__name__)


def cache_dir() -> Path:
    """The directory exported models are kept in (created when missing)."""
    base = os.environ.get("DRM_CACHE_DIR") or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") \
        / "drm_ros"
    path = Path(base) / "onnx"
    try:
        path.mkdir(parents=True, exist_ok=True)
        if os.access(path, os.W_OK):
            return path
    except OSError:
        pass
    fallback = Path(tempfile.gettempdir()) / f"drm_ros-{os.getuid()}" / "onnx"
    log.warning("cannot write the ONNX cache %s; using %s", path, fallback)
    fallback.mkdir(parents=True, exist_ok=True)
    return fallback


def cached_onnx_path(checkpoint: Path, input_size: tuple[int, int]) -> Path:
    """Where the export of `checkpoint` at `input_size` (w, h) lives in the cache."""
    digest = hashlib.sha256()
    with open(checkpoint, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    size = f"{input_size[0]}x{input_size[1]}"
    return cache_dir() / f"{checkpoint.stem}-{digest.hexdigest()[:16]}-{size}-opset{OPSET}.onnx"


def onnx_for_checkpoint(checkpoint: Path, input_size: tuple[int, int] | None = None) -> tuple[Path, CodecConfig]:
    """The ONNX export of `checkpoint` at `input_size` (w, h; None: its own), from the cache or exported now,
    and the codec config stored in it.

    Raises CheckpointError when the checkpoint is missing or corrupt.
    """
    from drm_core.checkpoint import CheckpointError, configs_from_checkpoint, load_checkpoint, load_model
    from drm_core.export import export_onnx, read_metadata

    if not checkpoint.is_file():
        raise CheckpointError(f"checkpoint {checkpoint}: no such file")
    if input_size is None:  # named by its real size: the same weights at the same size share one export
        codec_config = configs_from_checkpoint(load_checkpoint(checkpoint), checkpoint)[1]
        input_size = (codec_config.input_width, codec_config.input_height)
    final = cached_onnx_path(checkpoint, input_size)
    if final.is_file():
        try:
            codec_config, _ = read_metadata(final)  # parses the whole file: a damaged one fails here
            log.info("%s: using its cached ONNX export %s", checkpoint, final)
            return final, codec_config
        except Exception as err:  # noqa: BLE001 - any damage means: export again
            log.warning("cached export %s is unreadable (%s); exporting again", final, err)
    model, codec_config = load_model(checkpoint, "cpu")
    codec_config = dataclasses.replace(codec_config, input_width=input_size[0], input_height=input_size[1])
    log.info("exporting %s to ONNX once (cached as %s)", checkpoint, final)
    handle, name = tempfile.mkstemp(prefix=final.stem + ".", suffix=".partial", dir=final.parent)
    os.close(handle)
    try:
        export_onnx(model, codec_config, name)
        os.replace(name, final)  # atomic: two processes exporting at once both end with a whole file
    finally:
        Path(name).unlink(missing_ok=True)
    return final, codec_config
