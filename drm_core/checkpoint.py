"""Checkpoint files: the model's weights with the configs needed to rebuild and decode it, plus training state."""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from drm_core.codec import CodecConfig
from drm_core.model import DRM, ModelConfig, build_model

FORMAT = "drm-checkpoint/1"
REQUIRED_KEYS = ("format", "model_config", "codec_config", "model")


class CheckpointError(ValueError):
    """A checkpoint file is missing, unreadable, or not a DRM checkpoint."""


def save_checkpoint(path: str | Path, model: DRM, codec_config: CodecConfig, **training_state: Any) -> Path:
    """Write model + configs (+ optional optimizer, scheduler, epoch, step, rng, train_config state dicts).

    Training state must hold only tensors and plain Python values, so that weights_only loading reads it.
    The file is written next to its final name and renamed, so a crash never leaves half a checkpoint.
    """
    allowed = {"optimizer", "scheduler", "epoch", "step", "rng", "train_config"}
    unknown = sorted(set(training_state) - allowed)
    if unknown:
        raise ValueError(f"unknown checkpoint entries {unknown}; allowed: {sorted(allowed)}")
    path = Path(path)
    data = {"format": FORMAT, "model_config": model.config.to_dict(),
            "codec_config": dataclasses.asdict(codec_config), "model": model.state_dict(), **training_state}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(data, tmp)
    os.replace(tmp, path)
    return path


def load_checkpoint(path: str | Path, device: str | torch.device = "cpu") -> dict[str, Any]:
    """The checkpoint dict, checked for format and required keys; CheckpointError names the path and the fault."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path}: no such file")
    try:
        data = torch.load(path, map_location=device, weights_only=True)
    except Exception as err:  # truncated zip, pickle errors, foreign files: all mean "not readable"
        raise CheckpointError(f"checkpoint {path}: cannot be read ({type(err).__name__}: {err})") from err
    if not isinstance(data, dict):
        raise CheckpointError(f"checkpoint {path}: holds a {type(data).__name__}, expected a dict")
    if data.get("format") != FORMAT:
        raise CheckpointError(f"checkpoint {path}: format is {data.get('format')!r}, expected {FORMAT!r}")
    missing = [k for k in REQUIRED_KEYS if k not in data]
    if missing:
        raise CheckpointError(f"checkpoint {path}: missing keys {missing}")
    return data


def configs_from_checkpoint(data: dict[str, Any], path: str | Path) -> tuple[ModelConfig, CodecConfig]:
    """The model and codec configs of a loaded checkpoint dict."""
    try:
        return ModelConfig.from_dict(data["model_config"]), CodecConfig(**data["codec_config"])
    except (TypeError, ValueError) as err:
        raise CheckpointError(f"checkpoint {path}: bad model_config or codec_config ({err})") from err


def load_model(path: str | Path, device: str | torch.device = "cpu") -> tuple[DRM, CodecConfig]:
    """The DRM in eval mode on `device` with its weights, and the codec config it was trained with."""
    data = load_checkpoint(path, device)
    model_config, codec_config = configs_from_checkpoint(data, path)
    # The checkpoint carries every weight: never fetch ImageNet weights on the way.
    model = build_model(dataclasses.replace(model_config, pretrained=False))
    load_state(model, data["model"], path)
    return model.to(device).eval(), codec_config


def load_state(module: nn.Module, state: dict[str, torch.Tensor], path: str | Path) -> None:
    """load_state_dict with a CheckpointError naming missing, unexpected or mis-shaped weights."""
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as err:
        raise CheckpointError(f"checkpoint {path}: weights do not fit the model ({err})") from err
