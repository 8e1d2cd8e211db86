"""ONNX export of a DRM: input "image" (1, 3, H, W) RGB in [0, 1], outputs DRM.OUTPUT_NAMES, configs as metadata.

Command line: python -m drm_core.export CHECKPOINT OUTPUT.onnx [--height H --width W]
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

import onnx
import torch
from torch import nn

from drm_core.checkpoint import CheckpointError, load_model
from drm_core.codec import CodecConfig
from drm_core.model import DRM
from drm_core.onnx_format import CODEC_KEY, MODEL_KEY, OPSET, codec_config_of



class _TupleOutputs(nn.Module):
    """ONNX outputs are positional: the model's dict in DRM.OUTPUT_NAMES order."""

    def __init__(self, model: DRM):
        super().__init__()
        self.model = model

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, ...]:
        out = self.model(image)
        return tuple(out[k] for k in DRM.OUTPUT_NAMES)


def export_onnx(model: DRM, codec_config: CodecConfig, path: str | Path,
                input_hw: tuple[int, int] | None = None) -> Path:
    """Write `model` as ONNX for a fixed (H, W) input (default: the codec's input size).

    The codec config stored with the file has its input size set to the exported one, so a consumer
    decodes with exactly the geometry the file was exported for.
    """
    height, width = input_hw or (codec_config.input_height, codec_config.input_width)
    codec_config = dataclasses.replace(codec_config, input_height=height, input_width=width)  # checks % 32
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    was_training = model.training
    model.eval()
    try:
        image = torch.zeros(1, 3, height, width, device=next(model.parameters()).device)
        torch.onnx.export(_TupleOutputs(model).eval(), (image,), str(path), dynamo=True, opset_version=OPSET,
                          input_names=["image"], output_names=list(DRM.OUTPUT_NAMES), external_data=False)
    finally:
        model.train(was_training)
    proto = onnx.load(str(path))
    metadata = {CODEC_KEY: json.dumps(dataclasses.asdict(codec_config)),
                MODEL_KEY: json.dumps(model.config.to_dict())}
    for key, value in metadata.items():
        entry = next((p for p in proto.metadata_props if p.key == key), None) or proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(proto, str(path))
    return path


def read_metadata(path: str | Path) -> tuple[CodecConfig, dict]:
    """The codec config and the model config dict stored in an exported file."""
    props = {p.key: p.value for p in onnx.load(str(path), load_external_data=False).metadata_props}
    return codec_config_of(props, path), json.loads(props[MODEL_KEY])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Export a DRM checkpoint to ONNX.")
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("output", type=Path)
    parser.add_argument("--height", type=int, help="input height (default: the checkpoint's codec config)")
    parser.add_argument("--width", type=int, help="input width (default: the checkpoint's codec config)")
    args = parser.parse_args(argv)
    if (args.height is None) != (args.width is None):
        parser.error("give both --height and --width, or neither")
    try:
        model, codec_config = load_model(args.checkpoint)
        hw = (args.height, args.width) if args.height is not None else None
        path = export_onnx(model, codec_config, args.output, hw)
    except (CheckpointError, OSError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
