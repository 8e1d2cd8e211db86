"""Exported ONNX files of checkpoints, kept on disk so a checkpoint is exported once, not at every start.

The dynamo exporter takes ~25 s on a 2-core CPU; a node that restarts with the same model and input size
reuses the file. The key is the checkpoint's content (not its name or time), the input size and the opset,
so a retrained checkpoint at the same path is exported again. Files are written to a temporary name and
renamed into place, so a killed export never leaves a half file under a good name; a file that still fails to
load is exported again (the caller asks with refresh=True). A found export is used without torch: the
checkpoint's own input size is noted beside its exports (<stem>-<digest>.size) so it need not be loaded.

Where: $DRM_CACHE_DIR, else $XDG_CACHE_HOME/drm_ros, else ~/.cache/drm_ros; a temporary directory when that
cannot be written.

Fill the cache ahead of the first start (at install time), so even that start loads no torch:
    python -m drm_core.onnx_cache [CHECKPOINT] [--input-size W H]     (default: the shipped model)
"""
from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import tempfile
from pathlib import Path

from drm_core.assets import DEFAULT_MODEL_PATH
from drm_core.onnx_format import OPSET

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


def _key(checkpoint: Path) -> str:
    digest = hashlib.sha256()
    with open(checkpoint, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return f"{checkpoint.stem}-{digest.hexdigest()[:16]}"


def cached_onnx_path(checkpoint: Path, input_size: tuple[int, int], key: str | None = None) -> Path:
    """Where the export of `checkpoint` at `input_size` (w, h) lives in the cache."""
    return cache_dir() / f"{key or _key(checkpoint)}-{input_size[0]}x{input_size[1]}-opset{OPSET}.onnx"


def _own_size(checkpoint: Path, key: str) -> tuple[int, int]:
    """The checkpoint's trained input size (w, h): from the note beside its exports, else from the checkpoint
    itself (loads torch), then noted."""
    note = cache_dir() / f"{key}.size"
    try:
        width, height = (int(v) for v in note.read_text().split("x"))
        return width, height
    except (OSError, ValueError):
        pass
    from drm_core.checkpoint import configs_from_checkpoint, load_checkpoint

    codec_config = configs_from_checkpoint(load_checkpoint(checkpoint), checkpoint)[1]
    size = (codec_config.input_width, codec_config.input_height)
    note.write_text(f"{size[0]}x{size[1]}")
    return size


def onnx_for_checkpoint(checkpoint: Path, input_size: tuple[int, int] | None = None,
                        refresh: bool = False) -> Path:
    """The ONNX export of `checkpoint` at `input_size` (w, h; None: its own), from the cache or exported now
    (refresh: exported again, for a cached file that failed to load). Only an export loads torch.

    Raises CheckpointError when the checkpoint is missing or corrupt.
    """
    if not checkpoint.is_file():
        from drm_core.checkpoint import CheckpointError

        raise CheckpointError(f"checkpoint {checkpoint}: no such file")
    key = _key(checkpoint)
    # Named by its real size: the same weights at the same size share one export.
    input_size = input_size or _own_size(checkpoint, key)
    final = cached_onnx_path(checkpoint, input_size, key)
    if final.is_file() and not refresh:
        log.info("%s: using its cached ONNX export %s", checkpoint, final)
        return final
    from drm_core.checkpoint import load_model
    from drm_core.export import export_onnx

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
    return final


def main(argv: list[str] | None = None) -> int:
    import argparse
    import sys

    from drm_core.checkpoint import CheckpointError

    parser = argparse.ArgumentParser(description="Export a checkpoint into the ONNX cache now.")
    parser.add_argument("checkpoint", nargs="?", type=Path, default=DEFAULT_MODEL_PATH)
    parser.add_argument("--input-size", type=int, nargs=2, metavar=("W", "H"), help="default: the checkpoint's own")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        path = onnx_for_checkpoint(args.checkpoint, tuple(args.input_size) if args.input_size else None)
    except CheckpointError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
