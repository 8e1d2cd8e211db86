"""The paper's batch mixing (sec. 4.1): half of every mini-batch from 2D-only data (COCO), half from 3D data.

The datasets sit in one ConcatDataset; the sampler knows which index ranges are 2D-only from the dataset sizes
(ConcatDataset's layout). An epoch is one pass over the 3D data (the paper counts epochs of MuCo-3DHP or
Panoptic); the 2D pool is drawn without repetition and reshuffled when it runs out. Shuffles depend only on
(seed, epoch), so every DistributedDataParallel rank computes the same global order and takes its own disjoint
share of it; every rank yields the same number of batches.
"""
from __future__ import annotations

from typing import Iterator, Sequence

import numpy as np
import torch.distributed as dist
from torch.utils.data import ConcatDataset, Dataset, Sampler


class MixedBatchSampler(Sampler[list[int]]):
    """Yields per-rank batches of `batch_size` ConcatDataset indices: the first half 2D-only, the rest 3D.

    dataset_sizes / is_2d_only: one entry per dataset in ConcatDataset order. rank and world_size default to
    torch.distributed's when it is initialised, else 0 and 1. Call set_epoch(e) before each epoch.
    """

    def __init__(self, dataset_sizes: Sequence[int], is_2d_only: Sequence[bool], batch_size: int, seed: int = 0,
                 rank: int | None = None, world_size: int | None = None) -> None:
        if len(dataset_sizes) != len(is_2d_only):
            raise ValueError(f"{len(dataset_sizes)} dataset sizes but {len(is_2d_only)} is_2d_only flags")
        if batch_size < 2 or batch_size % 2:
            raise ValueError(f"batch_size must be even and at least 2 to be half 2D-only, got {batch_size}")
        if world_size is None:
            world_size = dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1
        if rank is None:
            rank = dist.get_rank() if dist.is_available() and dist.is_initialized() else 0
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} is outside world_size {world_size}")
        starts = np.concatenate([[0], np.cumsum(dataset_sizes)])
        ranges = [np.arange(starts[i], starts[i + 1]) for i in range(len(dataset_sizes))]
        self.pool_2d = np.concatenate([r for r, flag in zip(ranges, is_2d_only) if flag] + [np.zeros(0, int)])
        self.pool_3d = np.concatenate([r for r, flag in zip(ranges, is_2d_only) if not flag] + [np.zeros(0, int)])
        if len(self.pool_2d) == 0 or len(self.pool_3d) == 0:
            raise ValueError(f"mixing needs both 2D-only and 3D samples; got {len(self.pool_2d)} 2D-only "
                             f"and {len(self.pool_3d)} 3D")
        self.half = batch_size // 2
        self.batch_size, self.seed, self.rank, self.world_size = batch_size, seed, rank, world_size
        self.num_batches = len(self.pool_3d) // (self.half * world_size)
        if self.num_batches == 0:
            raise ValueError(f"{len(self.pool_3d)} 3D samples cannot fill one batch of {self.half} on each of "
                             f"{world_size} ranks")
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.num_batches

    def __iter__(self) -> Iterator[list[int]]:
        rng = np.random.default_rng([self.seed, self.epoch])
        needed = self.num_batches * self.half * self.world_size
        order_3d = rng.permutation(self.pool_3d)[:needed]
        repeats = -(-needed // len(self.pool_2d))  # whole reshuffles of the 2D pool, no repeat within one
        order_2d = np.concatenate([rng.permutation(self.pool_2d) for _ in range(repeats)])[:needed]
        for b in range(self.num_batches):
            start = (b * self.world_size + self.rank) * self.half
            yield order_2d[start:start + self.half].tolist() + order_3d[start:start + self.half].tolist()


def mixed_concat(datasets_2d: Sequence[Dataset], datasets_3d: Sequence[Dataset], batch_size: int, seed: int = 0,
                 rank: int | None = None, world_size: int | None = None) -> tuple[ConcatDataset, MixedBatchSampler]:
    """The ConcatDataset (2D-only datasets first) and its sampler; use DataLoader(ds, batch_sampler=sampler)."""
    datasets = list(datasets_2d) + list(datasets_3d)
    concat = ConcatDataset(datasets)
    flags = [True] * len(datasets_2d) + [False] * len(datasets_3d)
    sampler = MixedBatchSampler([len(d) for d in datasets], flags, batch_size, seed, rank, world_size)
    return concat, sampler
