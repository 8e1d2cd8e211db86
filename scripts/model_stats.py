"""Parameter count, FLOPs and CPU latency of the DRM configs: the paper's (HRNet-W32) at 832x512, the two CPU
presets (small: HRNet-W18-small-v2; small_effnet: EfficientNet-Lite0 + FPN neck) at 256x160, 320x192, 832x512.

Usage: python scripts/model_stats.py [--latency] [--json benchmarks/results/model_stats.json]
FLOPs count multiply and add as two (FlopCounterMode's convention) for one image; deform_conv2d is counted
as the 3x3 convolution it computes (its bilinear sampling is left out). --latency adds the median time of one
1x3xHxW forward pass of the CPU presets in torch and in onnxruntime (the node's engine), the presets interleaved
engine by engine in the same run so their ratio holds on a loaded machine; random weights (the time does not depend on them).
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from drm_core.codec import CodecConfig  # noqa: E402
from drm_core.export import export_onnx  # noqa: E402
from drm_core.model import DRM, ModelConfig, build_model  # noqa: E402

CPU_PRESETS = {"small": ModelConfig.small(), "small_effnet": ModelConfig.small_effnet()}
ROWS = [("paper", ModelConfig.paper(), (512, 832))] + [
    (name, config, size) for size in [(160, 256), (192, 320), (512, 832)] for name, config in CPU_PRESETS.items()]
LATENCY_SIZES = [(160, 256), (192, 320)]


def _deform_conv_flops(input_shape, weight_shape, offset_shape, mask_shape, bias_shape, *args, out_shape,
                       **kwargs) -> int:
    """2 * (output elements) * (inputs per output): a convolution's count."""
    out_elements = out_shape[0] * out_shape[1] * out_shape[2] * out_shape[3]
    return 2 * out_elements * weight_shape[1] * weight_shape[2] * weight_shape[3]


def _random_model(config: ModelConfig) -> DRM:
    """Random weights: the counts and times do not depend on them, and nothing needs the ImageNet file."""
    torch.manual_seed(0)
    return build_model(ModelConfig.from_dict({**config.to_dict(), "pretrained": False})).eval()


def stats(config: ModelConfig, height: int, width: int) -> tuple[int, int, int]:
    """(parameters, backbone parameters, FLOPs for one forward pass of a 1x3xHxW image)."""
    model = _random_model(config)
    params = sum(p.numel() for p in model.parameters())
    backbone = sum(p.numel() for p in model.backbone.parameters())
    counter = FlopCounterMode(display=False,
                              custom_mapping={torch.ops.torchvision.deform_conv2d: _deform_conv_flops})
    with counter, torch.no_grad():
        model(torch.rand(1, 3, height, width))
    return params, backbone, counter.get_total_flops()


def interleaved_medians_ms(runs: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Median ms of each callable, run in turn (a, b, a, b, ...) so load bursts hit all of them alike."""
    for run in runs.values():
        run()  # warm-up (allocations, onnxruntime's first-run planning)
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    return {name: 1000 * float(np.median(t)) for name, t in times.items()}


def latency(configs: dict[str, ModelConfig], height: int, width: int, repeats: int) -> dict[str, dict[str, float]]:
    """Median ms of one forward pass of each config in torch (no_grad) and in onnxruntime (CPU provider)."""
    import onnxruntime as ort

    image = torch.rand(1, 3, height, width)
    feed = {"image": image.numpy()}
    runs: dict[str, Callable[[], object]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, config in configs.items():
            model = _random_model(config)
            path = export_onnx(model, CodecConfig(input_height=height, input_width=width), Path(tmp) / f"{name}.onnx")
            session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
            runs[f"{name}/torch_ms"] = lambda model=model: model(image)
            runs[f"{name}/onnxruntime_ms"] = lambda session=session: session.run(None, feed)
        # One engine at a time: onnxruntime's idle threads spin after each run and would slow torch down.
        medians = {}
        for engine in ("torch_ms", "onnxruntime_ms"):
            with torch.no_grad():
                medians.update(interleaved_medians_ms({k: v for k, v in runs.items() if k.endswith(engine)},
                                                      repeats))
    result: dict[str, dict[str, float]] = {name: {} for name in configs}
    for key, value in medians.items():
        name, engine = key.split("/")
        result[name][engine] = value
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", action="store_true", help="also time the CPU presets (torch, onnxruntime)")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--json", type=Path, help="write the figures here too")
    args = parser.parse_args()
    record = {"sizes": [], "latency": []}
    for name, config, (height, width) in ROWS:
        params, backbone, flops = stats(config, height, width)
        print(f"{name:12s} {config.backbone:21s} {width}x{height}: {params / 1e6:.2f} M parameters "
              f"({backbone / 1e6:.2f} M backbone), {flops / 1e9:.2f} GFLOPs")
        record["sizes"].append({"preset": name, "backbone": config.backbone, "width": width, "height": height,
                                "parameters": params, "backbone_parameters": backbone, "flops": flops})
    if args.latency:
        print(f"CPU latency, median of {args.repeats}, {torch.get_num_threads()} torch threads:")
        for height, width in LATENCY_SIZES:
            times = latency(CPU_PRESETS, height, width, args.repeats)
            for name, t in times.items():
                print(f"  {name:12s} {width}x{height}: torch {t['torch_ms']:.1f} ms, onnxruntime "
                      f"{t['onnxruntime_ms']:.1f} ms")
                record["latency"].append({"preset": name, "width": width, "height": height, **t})
            for engine in ("torch_ms", "onnxruntime_ms"):
                ratio = times["small_effnet"][engine] / times["small"][engine]
                print(f"  small_effnet / small at {width}x{height}, {engine[:-3]}: {ratio:.2f}")
    if args.json:
        args.json.write_text(json.dumps(record, indent=2) + "\n")


if __name__ == "__main__":
    main()
