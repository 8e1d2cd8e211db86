"""A dataset of Samples -> (network input, codec targets), with augmentation drawn from (seed, epoch, index)."""
from __future__ import annotations

import dataclasses

import numpy as np
import torch
from torch.utils.data import Dataset

from drm_core.camera import Letterbox
from drm_core.codec import DRMCodec
from drm_core.data.augment import AugmentConfig, augment
from drm_core.data.photometric import PhotometricConfig, photometric
from drm_core.pose_types import Sample


def encode_sample(sample: Sample, codec: DRMCodec) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Letterbox a sample to the network input and encode its people: ((3, H, W) float32 in [0, 1], targets)."""
    cfg = codec.config
    letterbox = Letterbox.fit(sample.camera.width, sample.camera.height, cfg.input_width, cfg.input_height)
    image = letterbox.warp(sample.image).astype(np.float32).transpose(2, 0, 1) / 255.0
    targets = codec.encode(letterbox.to_input(sample.joints_2d_px), sample.visibility, sample.joints_3d_m,
                           letterbox.input_K(sample.camera.K), sample.joints_rel_m)
    return np.ascontiguousarray(image), targets


class EncodedDataset(Dataset):
    """Training pairs from a Sample dataset. drop_3d turns it into the 2D-only stream of the paper's mixing.

    Randomness comes from numpy.random.default_rng([seed, epoch, index]) alone, so a resumed run and any
    number of data-loader workers see exactly the same batches.
    """

    def __init__(self, samples: Dataset, codec: DRMCodec, augment_config: AugmentConfig | None, seed: int = 0,
                 drop_3d: bool = False, photometric_config: PhotometricConfig | None = None):
        self.samples, self.codec, self.augment_config = samples, codec, augment_config
        self.photometric_config = photometric_config
        self.seed, self.drop_3d, self.epoch = seed, drop_3d, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        sample = self.samples[index]
        if self.drop_3d:
            sample = dataclasses.replace(sample, joints_3d_m=None, joints_rel_m=None)
        if self.augment_config is not None:
            sample = augment(sample, np.random.default_rng([self.seed, self.epoch, index]), self.augment_config)
        if self.photometric_config is not None:  # after the geometry, so occluders land where people now are
            sample = photometric(sample, np.random.default_rng([self.seed, self.epoch, index, 1]),
                                 self.photometric_config)
        image, targets = encode_sample(sample, self.codec)
        # Marks real footage in the batch (distillation toward the starting model uses real frames only).
        targets["real_frame"] = np.full((1, 1, 1), float(sample.dataset == "real"), np.float32)
        return torch.from_numpy(image), {k: torch.from_numpy(v) for k, v in targets.items()}
