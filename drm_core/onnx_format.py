"""What a DRM ONNX file holds, readable without torch: the names and metadata keys drm_core.export writes.

They live here, not in drm_core.export (which imports torch to write the file), so that running an exported
model with onnxruntime never loads torch: that alone kept the node at ~900 MB resident. The export imports them.
"""
from __future__ import annotations

import json
from pathlib import Path

from drm_core.codec import CodecConfig

OPSET = 19  # DeformConv and GridSample are native from opset 19 and 16; see ENVIRONMENT.md
CODEC_KEY = "drm_codec_config"
MODEL_KEY = "drm_model_config"
OUTPUT_NAMES = ("center", "offsets", "root_depth", "rel_depth", "root_to_center")  # drm_core.model.DRM's


def codec_config_of(metadata: dict[str, str], path: str | Path) -> CodecConfig:
    """The codec config stored in an exported file's metadata (onnxruntime's custom_metadata_map)."""
    missing = [k for k in (CODEC_KEY, MODEL_KEY) if k not in metadata]
    if missing:
        raise ValueError(f"{path}: not a DRM ONNX file, metadata {missing} missing")
    return CodecConfig(**json.loads(metadata[CODEC_KEY]))
