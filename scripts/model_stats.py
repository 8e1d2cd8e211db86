"""Parameter count and FLOPs of the DRM configs: the paper's (HRNet-W32) at 832x512, the small one at
320x192 and 832x512.

Usage: python scripts/model_stats.py
FLOPs count multiply and add as two (FlopCounterMode's convention) for one image; deform_conv2d is counted
as the 3x3 convolution it computes (its bilinear sampling is left out).
"""
from __future__ import annotations

import sys
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from drm_core.model import ModelConfig, build_model  # noqa: E402


def _deform_conv_flops(input_shape, weight_shape, offset_shape, mask_shape, bias_shape, *args, out_shape,
                       **kwargs) -> int:
    """2 * (output elements) * (inputs per output): a convolution's count."""
    out_elements = out_shape[0] * out_shape[1] * out_shape[2] * out_shape[3]
    return 2 * out_elements * weight_shape[1] * weight_shape[2] * weight_shape[3]


def stats(config: ModelConfig, height: int, width: int) -> tuple[int, int, int]:
    """(parameters, backbone parameters, FLOPs for one forward pass of a 1x3xHxW image)."""
    model = build_model(config).eval()
    params = sum(p.numel() for p in model.parameters())
    backbone = sum(p.numel() for p in model.backbone.parameters())
    counter = FlopCounterMode(display=False,
                              custom_mapping={torch.ops.torchvision.deform_conv2d: _deform_conv_flops})
    with counter, torch.no_grad():
        model(torch.rand(1, 3, height, width))
    return params, backbone, counter.get_total_flops()


def main() -> None:
    for name, config, (height, width) in [("paper", ModelConfig.paper(), (512, 832)),
                                          ("small", ModelConfig.small(), (192, 320)),
                                          ("small", ModelConfig.small(), (512, 832))]:
        params, backbone, flops = stats(config, height, width)
        print(f"{name:6s} {config.backbone:20s} {width}x{height}: {params / 1e6:.2f} M parameters "
              f"({backbone / 1e6:.2f} M backbone), {flops / 1e9:.1f} GFLOPs")


if __name__ == "__main__":
    main()
