"""Batch mixing: half of every batch 2D-only, deterministic per (seed, epoch), disjoint across DDP ranks."""
from __future__ import annotations

from collections import Counter

import pytest
from torch.utils.data import DataLoader, Dataset

from drm_core.data.mixing import MixedBatchSampler, mixed_concat


class _Tagged(Dataset):
    def __init__(self, name: str, n: int) -> None:
        self.name, self.n = name, n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> tuple[str, int]:
        if not 0 <= i < self.n:
            raise IndexError(i)
        return self.name, i


def _setup(batch_size=8, rank=0, world_size=1, seed=0, n_coco=50):
    return mixed_concat([_Tagged("coco", n_coco)], [_Tagged("muco", 37), _Tagged("panoptic", 23)], batch_size,
                        seed=seed, rank=rank, world_size=world_size)


def test_every_batch_is_half_2d_only():
    concat, sampler = _setup()
    batches = list(DataLoader(concat, batch_sampler=sampler, collate_fn=list))
    assert len(batches) == len(sampler) == 60 // 4
    for batch in batches:
        names = [name for name, _ in batch]
        assert len(names) == 8 and names[:4] == ["coco"] * 4
        assert set(names[4:]) <= {"muco", "panoptic"}
    # both 3D datasets are drawn from, each sample at most once per epoch
    seen = Counter(item for batch in batches for item in batch if item[0] != "coco")
    assert {name for name, _ in seen} == {"muco", "panoptic"} and max(seen.values()) == 1


def test_epochs_differ_and_repeat_with_the_seed():
    _, a = _setup(seed=3)
    _, b = _setup(seed=3)
    first = list(a)
    a.set_epoch(1)
    second = list(a)
    b.set_epoch(1)
    assert first != second
    assert list(b) == second  # another instance, same (seed, epoch): same batches
    _, c = _setup(seed=4)
    c.set_epoch(1)
    assert list(c) != second


def test_ranks_partition_the_data():
    world = 3
    samplers = [_setup(batch_size=4, rank=r, world_size=world, n_coco=80)[1] for r in range(world)]
    for s in samplers:
        s.set_epoch(2)
    lengths = {len(s) for s in samplers}
    assert lengths == {60 // (2 * world)}  # DDP needs the same number of steps everywhere
    per_rank = [[i for batch in s for i in batch] for s in samplers]
    assert all(len(p) == len(samplers[0]) * 4 for p in per_rank)
    everything = [i for p in per_rank for i in p]
    assert len(everything) == len(set(everything))  # no index on two ranks (80 2D samples cover the 60 drawn)
    threes = {i for i in everything if i >= 80}
    assert len(threes) == 60  # one pass over all 3D samples, split over the ranks


def test_small_2d_pool_is_reshuffled_not_repeated_within_a_pass():
    _, sampler = _setup(n_coco=7)
    drawn = [i for batch in sampler for i in batch[:4]]
    assert len(drawn) == 60 and all(i < 7 for i in drawn)
    for k in range(0, 56, 7):  # each consecutive run of 7 is a permutation of the pool
        assert sorted(drawn[k:k + 7]) == list(range(7))


def test_bad_arguments():
    with pytest.raises(ValueError, match="even"):
        _setup(batch_size=5)
    with pytest.raises(ValueError, match="rank 3 is outside world_size 3"):
        _setup(rank=3, world_size=3)
    with pytest.raises(ValueError, match="both 2D-only and 3D"):
        MixedBatchSampler([10, 10], [False, False], 4)
