"""What the training CPU can do fast: native bf16 (benchmarks/results/train_speed.md measured bf16 autocast with
channels-last tensors 2.9x as fast as fp32 on an avx512_bf16 CPU; without native bf16 it is emulated, slower)."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

BF16_FLAGS = {"avx512_bf16", "amx_bf16"}


@lru_cache(maxsize=1)
def native_bf16() -> bool:
    """True when /proc/cpuinfo lists an instruction set with bf16 arithmetic (x86: avx512_bf16 or amx_bf16)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return any(line.startswith("flags") and BF16_FLAGS & set(line.split()) for line in text.splitlines())


def use_cpu_bf16(setting: bool | str) -> bool:
    """TrainConfig.cpu_bf16: True, False, or 'auto' (native bf16 only)."""
    return native_bf16() if setting == "auto" else bool(setting)
