"""Training on the GPU: throughput of the paper configuration (HRNet-W32, 832x512, batch 8 per GPU as in the
paper, AMP) with the projected time of the paper's schedule on 8 GPUs, and a short AMP run of the CPU preset on
synthetic scenes that must lower the loss.

Batches are rendered and encoded before the clock starts and stay on the device: data loading is not measured
(the trainer's DataLoader workers overlap it with the GPU in a real run).
"""
from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch

from benchmarks.gpu.common import Settings, model_configs, synchronize
from drm_core.codec import CodecConfig, DRMCodec
from drm_core.data.synthetic import SyntheticConfig, SyntheticDataset
from drm_core.losses import DRMLoss
from drm_core.model import ModelConfig, build_model
from drm_core.train.encoded import EncodedDataset

# The paper's schedule (sec. 4.1): 15 epochs on MuCo-3DHP (400k images, following SMAP) with half of every
# batch from COCO; as drm_core's MixedBatchSampler counts it, an epoch is one pass over the 3D data, so each
# epoch feeds 400k MuCo + 400k COCO images. 8 V100s, batch 8 per GPU.
PAPER_EPOCHS = 15
PAPER_3D_IMAGES = 400_000
PAPER_IMAGES_PER_EPOCH = 2 * PAPER_3D_IMAGES
PAPER_GPUS = 8


def synthetic_batches(count: int, batch: int, input_size: tuple[int, int], device: str,
                      seed: int = 0) -> list[tuple[torch.Tensor, dict[str, torch.Tensor]]]:
    """`count` encoded batches of synthetic scenes (1-10 people) at the network input, on the device."""
    codec = DRMCodec(CodecConfig(input_width=input_size[0], input_height=input_size[1]))
    scenes = SyntheticDataset(SyntheticConfig(sizes=(input_size,), people=(1, 10), seed=seed), count * batch)
    encoded = EncodedDataset(scenes, codec, None, seed)
    batches = []
    for b in range(count):
        items = [encoded[b * batch + i] for i in range(batch)]
        images = torch.stack([x for x, _ in items]).to(device)
        targets = {k: torch.stack([t[k] for _, t in items]).to(device) for k in items[0][1]}
        batches.append((images, targets))
    return batches


class AmpStep:
    """One optimisation step as drm_core.train.trainer takes it: autocast fp16 and a GradScaler on CUDA (fp32 on
    the CPU, as the trainer does: torchvision's deformable convolution has no half-precision CPU kernel), Adam,
    DRMLoss."""

    def __init__(self, config: ModelConfig, device: str, lr: float = 1e-3):
        torch.manual_seed(0)
        self.model = build_model(config).to(device).train()
        self.device = device
        self.amp = device == "cuda"
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=lr)
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp)
        self.criterion = DRMLoss(root_joint=config.root_joint)

    def __call__(self, images: torch.Tensor, targets: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The weighted total ('total') and the unweighted parts of the loss before the step."""
        with torch.autocast("cuda", dtype=torch.float16, enabled=self.amp):
            outputs = self.model(images)
        loss, parts = self.criterion({k: v.float() for k, v in outputs.items()}, targets)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        return {"total": loss.detach(), **{k: v.detach() for k, v in parts.items()}}


def run_throughput(settings: Settings) -> dict[str, Any]:
    """Images per second of the paper configuration's training step, and the paper's schedule on 8 GPUs."""
    config, size = model_configs(settings)["paper"]
    images, targets = synthetic_batches(1, settings.train_batch, size, settings.device)[0]
    step = AmpStep(config, settings.device)
    if settings.device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    for _ in range(settings.warmup):  # cuDNN autotuning, allocator growth
        step(images, targets)
    synchronize(settings.device)
    start = time.perf_counter()
    for _ in range(settings.train_steps):
        step(images, targets)
    synchronize(settings.device)
    seconds = time.perf_counter() - start
    per_second = settings.train_batch * settings.train_steps / seconds
    total_images = PAPER_EPOCHS * PAPER_IMAGES_PER_EPOCH
    return {"config": "paper", "input": f"{size[0]}x{size[1]}", "batch": settings.train_batch,
            "amp": "fp16 autocast + GradScaler" if step.amp else "off (CPU: fp32)",
            "timed_steps": settings.train_steps, "step_ms": 1e3 * seconds / settings.train_steps,
            "images_per_s": per_second,
            "peak_memory_gb": torch.cuda.max_memory_allocated() / 2 ** 30 if settings.device == "cuda" else None,
            "projection": {
                "assumption": f"{PAPER_EPOCHS} epochs x ({PAPER_3D_IMAGES} MuCo-3DHP + {PAPER_3D_IMAGES} COCO "
                              f"images, half of every batch 2D-only) = {total_images} images, {PAPER_GPUS} GPUs "
                              f"of this kind scaling linearly (DDP overhead and data loading not counted)",
                "images": total_images, "gpus": PAPER_GPUS,
                "hours": total_images / (PAPER_GPUS * per_second) / 3600}}


def run_short_training(settings: Settings) -> dict[str, Any]:
    """A few dozen AMP steps of the CPU preset on pre-rendered synthetic scenes: the loss must go down."""
    config, size = model_configs(settings)["small"]
    count = max(1, settings.short_run_scenes // settings.short_run_batch)
    batches = synthetic_batches(count, settings.short_run_batch, size, settings.device, seed=1)
    step = AmpStep(config, settings.device)
    history: list[dict[str, float]] = []
    start = time.perf_counter()
    for i in range(settings.short_run_steps):
        history.append({k: float(v) for k, v in step(*batches[i % count]).items()})
    synchronize(settings.device)
    losses = [h["total"] for h in history]
    window = max(1, min(5, len(losses) // 4))
    first, last = float(np.mean(losses[:window])), float(np.mean(losses[-window:]))
    parts = {k: (float(np.mean([h[k] for h in history[:window]])), float(np.mean([h[k] for h in history[-window:]])))
             for k in history[0] if k != "total"}
    return {"config": "small", "input": f"{size[0]}x{size[1]}", "batch": settings.short_run_batch,
            "amp": "fp16 autocast + GradScaler" if step.amp else "off (CPU: fp32)",
            "steps": settings.short_run_steps, "scenes": count * settings.short_run_batch,
            "seconds": time.perf_counter() - start, "losses": losses, "loss_first": first, "loss_last": last,
            "averaged_over": window, "loss_went_down": last < first, "parts_first_last": parts}


def run_training(settings: Settings) -> dict[str, Any]:
    """Both measurements; a failure of one is recorded and the other still runs."""
    result: dict[str, Any] = {}
    for name, work in (("throughput", run_throughput), ("short_run", run_short_training)):
        try:
            result[name] = {"status": "ok", **work(settings)}
        except Exception as err:  # recorded; the other measurement still runs
            result[name] = {"status": f"failed: {type(err).__name__}: {err}"}
        torch.cuda.empty_cache()
    return result
