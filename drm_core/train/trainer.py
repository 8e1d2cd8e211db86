"""The training loop: Adam with warm-up and linear decay, AMP on CUDA, resumable checkpoints, TensorBoard,
and DistributedDataParallel when started by torchrun (one process per GPU)."""
from __future__ import annotations

import dataclasses

import logging
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import ConcatDataset, DataLoader, DistributedSampler, RandomSampler
from tqdm import tqdm

from drm_core.checkpoint import load_checkpoint, load_state, save_checkpoint
from drm_core.codec import DRMCodec
from drm_core.data.mixing import MixedBatchSampler
from drm_core.data.registry import open_dataset
from drm_core.losses import DRMLoss
from drm_core.model import DRM, build_model
from drm_core.train.config import TrainConfig
from drm_core.train.cpu import use_cpu_bf16
from drm_core.train.encoded import EncodedDataset
from drm_core.train.finetune import (check_parts, distill_loss, freeze_parts, frozen_copy, frozen_to_eval,
                                     param_groups)

log = logging.getLogger(__name__)


@dataclass
class TrainResult:
    """What a run did: the last checkpoint and the loss of every optimisation step it took."""

    checkpoint: Path
    steps: int
    losses: list[float] = field(default_factory=list)


@dataclass(frozen=True)
class Distributed:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_distributed() -> Distributed:
    """torchrun sets WORLD_SIZE/RANK/LOCAL_RANK; without them this is a single process."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size == 1:
        return Distributed()
    backend = "nccl" if torch.cuda.is_available() else "gloo"
    dist.init_process_group(backend)
    return Distributed(dist.get_rank(), world_size, int(os.environ.get("LOCAL_RANK", "0")))


def warmup_linear_decay(warmup_steps: int, total_steps: int):
    """LambdaLR factor: linear 0 -> 1 over warm-up, then linear 1 -> 0 at the last step (sec. 4.1)."""
    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        return max(0.0, (total_steps - step) / max(1, total_steps - warmup_steps))
    return factor


def _device(requested: str, env: Distributed) -> torch.device:
    if requested == "auto":
        requested = "cuda" if torch.cuda.is_available() else "cpu"
    if requested == "cuda":
        torch.cuda.set_device(env.local_rank)
        return torch.device("cuda", env.local_rank)
    return torch.device(requested)


def build_loader(config: TrainConfig, codec: DRMCodec, env: Distributed) -> tuple[DataLoader, list[EncodedDataset]]:
    """The data loader of the experiment; with 2D datasets, every batch is half 2D-only (the paper's mixing)."""
    def encoded(specs, drop_3d):
        return [EncodedDataset(open_dataset(s), codec, config.augment, config.seed, drop_3d, config.photometric)
                for s in specs]

    parts_2d, parts_3d = encoded(config.datasets_2d, True), encoded(config.datasets_3d, False)
    parts = parts_2d + parts_3d
    dataset = ConcatDataset(parts)
    common = dict(num_workers=config.workers, pin_memory=torch.cuda.is_available())
    if parts_2d:
        sampler = MixedBatchSampler([len(p) for p in parts], [True] * len(parts_2d) + [False] * len(parts_3d),
                                    config.batch_size, config.seed,
                                    env.rank, env.world_size)
        return DataLoader(dataset, batch_sampler=sampler, **common), parts
    if env.world_size > 1:
        sampler = DistributedSampler(dataset, env.world_size, env.rank, shuffle=True, seed=config.seed, drop_last=True)
    else:
        sampler = RandomSampler(dataset, generator=torch.Generator().manual_seed(config.seed))
    return DataLoader(dataset, batch_size=config.batch_size, sampler=sampler, drop_last=True, **common), parts


def _set_epoch(loader: DataLoader, parts: list[EncodedDataset], epoch: int, seed: int) -> None:
    for part in parts:
        part.set_epoch(epoch)
    sampler = loader.batch_sampler if isinstance(loader.batch_sampler, MixedBatchSampler) else loader.sampler
    if hasattr(sampler, "set_epoch"):
        sampler.set_epoch(epoch)
    elif isinstance(sampler, RandomSampler):  # a fresh, reproducible shuffle per epoch
        sampler.generator.manual_seed(seed * 1000 + epoch)


def _starting_model(config: TrainConfig, dev: torch.device) -> torch.nn.Module:
    """The model a run started from: its preset's pretrained weights, or init_from's."""
    model = build_model(dataclasses.replace(config.model, pretrained=config.model.pretrained
                                            and not config.init_from)).to(dev)
    if config.init_from:
        load_state(model, load_checkpoint(config.init_from, dev)["model"], config.init_from)
    return frozen_copy(model)


def _prepare_model(config: TrainConfig, resume: str | Path | None, dev: torch.device) -> DRM:
    """The network on `dev`, its frozen parts frozen, in channels_last when asked."""
    # Weights that come from a checkpoint make pretrained weights pointless (and they need a package or a file).
    from_checkpoint = resume is not None or bool(config.init_from)
    model_config = dataclasses.replace(config.model, pretrained=config.model.pretrained and not from_checkpoint)
    model = build_model(model_config).to(dev)
    check_parts(model, config.freeze, "freeze")
    check_parts(model, list(config.lr_multipliers), "lr_multipliers")
    check_parts(model, config.bn_eval, "bn_eval")
    freeze_parts(model, config.freeze)
    if config.channels_last:
        model = model.to(memory_format=torch.channels_last)
    return model


def _restore(model: DRM, optimizer: torch.optim.Optimizer, schedule, config: TrainConfig,
             resume: str | Path | None, dev: torch.device) -> tuple[int, int]:
    """(start epoch, step): a resumed run's whole state, or init_from's weights with a new schedule, or (0, 0)."""
    if resume is not None:
        state = load_checkpoint(resume, dev)
        load_state(model, state["model"], resume)
        optimizer.load_state_dict(state["optimizer"])
        schedule.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["rng"]["torch"].cpu())
        log.info("resumed %s at epoch %d, step %d", resume, int(state["epoch"]), int(state["step"]))
        return int(state["epoch"]), int(state["step"])
    if config.init_from:  # weights only: a new schedule (fine-tuning, or a second stage of training)
        load_state(model, load_checkpoint(config.init_from, dev)["model"], config.init_from)
        log.info("started from the weights of %s", config.init_from)
    return 0, 0


def _add_distillation(total: torch.Tensor, parts_loss: dict, outputs: dict, teacher, images: torch.Tensor,
                      targets: dict, config: TrainConfig) -> tuple[torch.Tensor, dict]:
    """The loss plus the distillation term toward the starting model (on real frames when real_only)."""
    real = targets["real_frame"].view(-1) > 0 if config.distill.real_only else \
        torch.ones(len(images), dtype=torch.bool, device=images.device)
    extra, extra_parts = distill_loss(outputs, teacher, images, real, config.distill)
    return total + extra, {**parts_loss, **extra_parts}


def _precision(config: TrainConfig, dev: torch.device) -> tuple[torch.dtype, bool, torch.amp.GradScaler]:
    """(autocast dtype, autocast on, grad scaler): fp16 with loss scaling on CUDA when config.amp; bf16 (no
    scaling needed) on a CPU that has it, per config.cpu_bf16."""
    use_amp = config.amp and dev.type == "cuda"
    amp_dtype, amp_on = ((torch.float16, use_amp) if dev.type == "cuda"
                         else (torch.bfloat16, use_cpu_bf16(config.cpu_bf16)))
    return amp_dtype, amp_on, torch.amp.GradScaler("cuda", enabled=use_amp)


def _log_step(writer, step: int, loss: float, parts_loss: dict, lr: float) -> None:
    writer.add_scalar("loss/total", loss, step)
    for name, value in parts_loss.items():
        writer.add_scalar(f"loss/{name}", value.item(), step)
    writer.add_scalar("lr", lr, step)


def train(config: TrainConfig, resume: str | Path | None = None, device: str = "auto") -> TrainResult:
    """Run the experiment; returns the last checkpoint written (out_dir/last.pt) and the step losses.

    Kept as one 83-line loop: a step's order (forward, loss, backward, schedule, logging, snapshot, time limit)
    reads top to bottom; set-up, restoring, precision and distillation are the helpers above."""
    env = init_distributed()
    dev = _device(device, env)
    torch.manual_seed(config.seed + env.rank)
    codec = DRMCodec(config.codec)
    model = _prepare_model(config, resume, dev)
    loader, parts = build_loader(config, codec, env)
    steps_per_epoch = len(loader)
    total_steps = steps_per_epoch * config.epochs
    if config.max_steps is not None:
        total_steps = min(total_steps, config.max_steps)
    optimizer = torch.optim.Adam(param_groups(model, config.lr, config.lr_multipliers), lr=config.lr,
                                 weight_decay=config.weight_decay)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, warmup_linear_decay(max(1, math.ceil(config.warmup_epochs * steps_per_epoch)),
                                       steps_per_epoch * config.epochs))
    amp_dtype, amp_on, scaler = _precision(config, dev)
    criterion = DRMLoss(config.loss, config.model.root_joint)

    out_dir = Path(config.out_dir)
    start_epoch, step = _restore(model, optimizer, schedule, config, resume, dev)
    # The distillation teacher is the model as it starts (resuming: rebuilt as the run started).
    teacher = None
    if config.distill is not None:
        teacher = frozen_copy(model) if resume is None else _starting_model(config, dev)
    net = DistributedDataParallel(model, device_ids=[dev.index] if dev.type == "cuda" else None) \
        if env.world_size > 1 else model

    writer = None
    if env.is_main:
        from torch.utils.tensorboard import SummaryWriter  # only the main process logs
        writer = SummaryWriter(str(out_dir / "tensorboard"))
    losses: list[float] = []
    last = out_dir / "last.pt"
    started, out_of_time = time.monotonic(), False
    for epoch in range(start_epoch, config.epochs):
        if step >= total_steps or out_of_time:
            break
        _set_epoch(loader, parts, epoch, config.seed)
        net.train()
        frozen_to_eval(model, config.freeze + config.bn_eval)
        bar = tqdm(loader, desc=f"epoch {epoch + 1}/{config.epochs}", disable=not env.is_main, leave=False)
        for images, targets in bar:
            images = images.to(dev, non_blocking=True)
            if config.channels_last:
                images = images.contiguous(memory_format=torch.channels_last)
            targets = {k: v.to(dev, non_blocking=True) for k, v in targets.items()}
            with torch.autocast(dev.type, dtype=amp_dtype, enabled=amp_on):
                outputs = net(images)
            total, parts_loss = criterion({k: v.float() for k, v in outputs.items()}, targets)
            if teacher is not None:
                with torch.autocast(dev.type, dtype=amp_dtype, enabled=amp_on):
                    total, parts_loss = _add_distillation(total, parts_loss, outputs, teacher, images, targets,
                                                          config)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(total).backward()
            scaler.step(optimizer)
            scaler.update()
            schedule.step()
            step += 1
            losses.append(total.item())
            bar.set_postfix(loss=f"{losses[-1]:.4f}", lr=f"{schedule.get_last_lr()[0]:.2e}")
            if writer is not None and (step % config.log_every == 0 or step == 1):
                _log_step(writer, step, losses[-1], parts_loss, schedule.get_last_lr()[0])
            if env.is_main and config.snapshot_every and step % config.snapshot_every == 0:
                # Weights only, usable as a model; resuming needs an epoch-end checkpoint.
                save_checkpoint(out_dir / "snapshot.pt", model, config.codec, step=step)
            if step >= total_steps:
                break
            if config.max_seconds is not None and time.monotonic() - started > config.max_seconds:
                out_of_time = True  # the epoch-end checkpoint below is still written
                log.info("max_seconds %.0f reached at step %d", config.max_seconds, step)
                break
        if env.is_main:  # a checkpoint at each epoch end: resume continues with the next epoch exactly
            save_checkpoint(last, model, config.codec, optimizer=optimizer.state_dict(),
                            scheduler=schedule.state_dict(), epoch=epoch + 1, step=step,
                            rng={"torch": torch.get_rng_state()}, train_config=config.to_dict())
    if writer is not None:
        writer.close()
    if env.world_size > 1:
        dist.destroy_process_group()
    return TrainResult(last, step, losses)
