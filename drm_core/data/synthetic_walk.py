"""A synthetic video with ground-truth identities: the people of one synthetic scene walk across the view.

Scene `index` of SyntheticDataset(config.scene) gives the camera, background and people; each person then
glides on the floor at a constant velocity along the camera's lateral axis (directions alternate, so people
cross each other in the image half way through), with the same pose in every frame (no limb animation: the
sequence exists to test identities over time, crossings and occlusions, not gait). Frame i is at i / fps s.
Sample.meta["person_ids"] holds each person's identity and Sample.meta["velocities_m_s"] their ground-truth
velocity (m/s, camera frame: constant over the walk, the same for every joint); people with fewer than
`min_joints_in_view` joints in the image are left out of that frame (they walked out of view).
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field

import numpy as np

from drm_core.camera import project
from drm_core.data.synthetic import SyntheticConfig, SyntheticDataset, render_scene
from drm_core.skeleton import MPI15
from drm_core.pose_types import Sample


@dataclass(frozen=True)
class WalkConfig:
    frames: int = 60
    fps: float = 10.0
    speed_m_s: tuple[float, float] = (0.3, 0.7)
    scene: SyntheticConfig = field(default_factory=lambda: SyntheticConfig(
        sizes=((640, 480),), people=(3, 4), depth_range_m=(3.0, 7.0), focal_range=(0.7, 0.9), distortion_prob=0.0,
        camera_height_m=(1.3, 1.7), camera_pitch_deg=(0.0, 8.0), seed=7))
    index: int = 0
    min_joints_in_view: int = 4

    def __post_init__(self) -> None:
        if self.frames < 1 or self.fps <= 0 or not 0 <= self.speed_m_s[0] <= self.speed_m_s[1]:
            raise ValueError(f"WalkConfig needs frames >= 1, fps > 0 and 0 <= speed low <= high, got {self}")


class SyntheticWalk:
    """Frame i of the walk as a Sample (rendered) or as ground truth only (`people`, no rendering)."""

    def __init__(self, config: WalkConfig = WalkConfig()):
        self.config = config
        self.dataset = SyntheticDataset(config.scene, config.index + 1)
        self.scene = self.dataset.scene(config.index)[0]
        rng = np.random.default_rng([config.scene.seed, config.index, 1])
        n = len(self.scene.people)
        speeds = rng.uniform(*config.speed_m_s, n) * np.where(np.arange(n) % 2 == 0, 1.0, -1.0)
        # World x is the camera's lateral axis on the floor; velocity in the camera frame = R @ world velocity.
        self._velocity_cam = np.stack([self.scene.world_to_camera @ np.array([s, 0.0, 0.0]) for s in speeds])
        self._t_mid = (config.frames - 1) / (2 * config.fps)  # people stand at their drawn places mid-sequence

    def __len__(self) -> int:
        return self.config.frames

    def time_s(self, index: int) -> float:
        return index / self.config.fps

    def velocities(self, ids) -> np.ndarray:
        """Ground-truth velocities (len(ids), 3) of the people `ids`, m/s in the camera frame."""
        return self._velocity_cam[np.asarray(ids, dtype=int)].copy()

    def people(self, index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(ids (P,), joints_3d_m (P, 15, 3), joints_2d_px (P, 15, 2)) of the people in view in frame `index`."""
        if not 0 <= index < len(self):
            raise IndexError(f"walk frame {index} out of range for {len(self)} frames")
        dt = self.time_s(index) - self._t_mid
        joints = np.stack([p.joints + dt * self._velocity_cam[k] for k, p in enumerate(self.scene.people)])
        cam = self.scene.camera
        uv = project(joints.reshape(-1, 3), cam).reshape(joints.shape[0], -1, 2)
        inside = ((uv[..., 0] >= 0) & (uv[..., 0] <= cam.width - 1) & (uv[..., 1] >= 0) &
                  (uv[..., 1] <= cam.height - 1) & (joints[..., 2] > 0.1)).sum(axis=1)
        keep = np.flatnonzero(inside >= self.config.min_joints_in_view)
        return keep, joints[keep], uv[keep]

    def __getitem__(self, index: int) -> Sample:
        ids, joints, uv = self.people(index)
        scene = copy.copy(self.scene)
        dt = self.time_s(index) - self._t_mid
        scene.people = [copy.copy(p) for p in self.scene.people]
        for k, person in enumerate(scene.people):
            person.joints = person.joints + dt * self._velocity_cam[k]
            person.props = [(corners + dt * self._velocity_cam[k], colour) for corners, colour in person.props]
        _, background_rng, post_rng = self.dataset.scene(self.config.index)  # the same background every frame
        image, vis = render_scene(scene, background_rng, post_rng)
        return Sample(image=image, camera=scene.camera, joints_2d_px=uv, joints_3d_m=joints, visibility=vis[ids],
                      dataset="synthetic_walk", image_id=f"walk-{self.config.scene.seed}-{self.config.index}-{index}",
                      meta={"person_ids": ids.tolist(), "time_s": self.time_s(index),
                            "velocities_m_s": self.velocities(ids),
                            "joint_names": MPI15.joint_names})
