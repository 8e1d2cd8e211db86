"""The experiment config: one YAML file holds everything a training run needs, checked on load."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from drm_core.codec import CodecConfig
from drm_core.data.augment import AugmentConfig
from drm_core.data.photometric import PhotometricConfig
from drm_core.data.registry import DatasetSpec
from drm_core.losses import LossWeights
from drm_core.model import ModelConfig
from drm_core.train.finetune import DistillConfig


@dataclass
class TrainConfig:
    """An experiment. batch_size is per process (the paper, sec. 4.1: 8 GPUs x 8 = 64); lr is the paper's 1e-3 with one
    epoch of linear warm-up then linear decay to 0 (sec. 4.1)."""

    name: str
    datasets_3d: list[DatasetSpec]
    datasets_2d: list[DatasetSpec] = field(default_factory=list)  # 2D-only stream: half of every batch when set
    model: ModelConfig = field(default_factory=ModelConfig.small)
    codec: CodecConfig = field(default_factory=CodecConfig)
    augment: AugmentConfig | None = field(default_factory=AugmentConfig)
    photometric: PhotometricConfig | None = None  # real-frame pixel changes (drm_core/data/photometric.py); off when None
    loss: LossWeights = field(default_factory=LossWeights)
    epochs: int = 1
    batch_size: int = 4
    lr: float = 1e-3
    warmup_epochs: float = 1.0
    weight_decay: float = 0.0
    amp: bool = True  # mixed precision (only on CUDA)
    workers: int = 2
    seed: int = 0
    max_steps: int | None = None  # stop early (smoke runs and tests)
    max_seconds: float | None = None  # stop after this much training time (a run on a lent machine), checkpoint kept
    log_every: int = 10
    snapshot_every: int | None = None  # also write the weights to out_dir/snapshot.pt every N steps
    out_dir: str = "runs/experiment"
    init_from: str | None = None  # start from this checkpoint's weights (a fresh optimiser and schedule)
    # Keeping what a pretrained start knows (drm_core/train/finetune.py): parts are the model's top-level
    # modules (backbone, center_head, offset_head, ...), checked against the model when training starts.
    freeze: list[str] = field(default_factory=list)  # no gradient, not optimised, batch norm kept in eval mode
    lr_multipliers: dict[str, float] = field(default_factory=dict)  # part -> factor on lr (e.g. backbone: 0.1)
    # Parts whose batch norm keeps the start's statistics (eval mode) while their weights train: small mixed
    # batches would otherwise pull a pretrained part's statistics, and its maps, away from the start.
    bn_eval: list[str] = field(default_factory=list)
    distill: DistillConfig | None = None  # toward a frozen copy of the starting model's 2D maps on real frames
    # CPU speed (benchmarks/results/train_speed.md: bf16 + channels-last 2.9x fp32 on an avx512_bf16 CPU):
    # bf16 autocast on the CPU (True, False, or 'auto': where the CPU has native bf16), channels-last tensors.
    cpu_bf16: bool | str = "auto"
    channels_last: bool = True

    def __post_init__(self) -> None:
        if not self.datasets_3d:
            raise ValueError("TrainConfig.datasets_3d is empty: the model needs 3D supervision")
        if self.batch_size < 1 or (self.datasets_2d and self.batch_size % 2):
            raise ValueError(f"batch_size {self.batch_size} must be positive, and even when mixing 2D data")
        if self.epochs < 1 or self.lr <= 0:
            raise ValueError(f"epochs ({self.epochs}) and lr ({self.lr}) must be positive")
        bad = {k: v for k, v in self.lr_multipliers.items() if not (isinstance(v, (int, float)) and v > 0)}
        if bad:
            raise ValueError(f"lr_multipliers must be positive numbers (freeze a part instead of 0), got {bad}")
        if self.cpu_bf16 not in (True, False, "auto"):
            raise ValueError(f"cpu_bf16 must be true, false or auto, got {self.cpu_bf16!r}")
        both = sorted(set(self.freeze) & set(self.lr_multipliers))
        if both:
            raise ValueError(f"parts {both} are both frozen and given an lr multiplier")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


_PRESETS = {"small": ModelConfig.small, "small_effnet": ModelConfig.small_effnet, "paper": ModelConfig.paper,
            "movenet": ModelConfig.movenet}


def _model_config(data: dict[str, Any]) -> ModelConfig:
    """{preset: small|small_effnet|paper|movenet, ...overrides} or plain ModelConfig fields."""
    data = dict(data)
    preset = data.pop("preset", None)
    if preset is not None and preset not in _PRESETS:
        raise ValueError(f"model.preset must be one of {sorted(_PRESETS)}, got {preset!r}")
    base = _PRESETS[preset]() if preset else ModelConfig()
    return dataclasses.replace(base, **data)


def _build(cls, data: dict[str, Any] | None, where: str):
    if data is None:
        return None
    if not isinstance(data, dict):
        raise ValueError(f"{where} must be a mapping, got {data!r}")
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ValueError(f"{where}: unknown keys {unknown}; known: {sorted(names)}")
    tuples = {f.name for f in dataclasses.fields(cls) if "tuple" in str(f.type)}
    return cls(**{k: tuple(v) if k in tuples and isinstance(v, list) else v for k, v in data.items()})


def config_from_dict(data: dict[str, Any]) -> TrainConfig:
    data = dict(data)
    kwargs: dict[str, Any] = {}
    for key in ("datasets_3d", "datasets_2d"):
        kwargs[key] = [DatasetSpec.from_mapping(d) for d in data.pop(key, []) or []]
    if "model" in data:
        kwargs["model"] = _model_config(data.pop("model") or {})
    for key, cls in (("codec", CodecConfig), ("loss", LossWeights)):
        if key in data:
            kwargs[key] = _build(cls, data.pop(key) or {}, key)
    if "augment" in data:
        kwargs["augment"] = _build(AugmentConfig, data.pop("augment"), "augment")
    if data.get("distill") is not None:
        kwargs["distill"] = _build(DistillConfig, data.pop("distill"), "distill")
    if "photometric" in data:
        kwargs["photometric"] = _build(PhotometricConfig, data.pop("photometric") or {}, "photometric")
    unknown = sorted(set(data) - {f.name for f in dataclasses.fields(TrainConfig)})
    if unknown:
        raise ValueError(f"unknown config keys {unknown}")
    return TrainConfig(**data, **kwargs)


def load_config(path: str | Path) -> TrainConfig:
    """The TrainConfig of a YAML file; ValueError names the file and the fault."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise ValueError("the file does not hold a mapping")
        return config_from_dict(data)
    except (OSError, yaml.YAMLError, ValueError, TypeError) as err:
        raise ValueError(f"config {path}: {err}") from err
