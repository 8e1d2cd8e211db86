"""MoveNet MultiPose's own decoder (the post-processing of its TF.js graph), in numpy, for the "MoveNet itself"
baseline of real-image reports, and the plain center + regression decode that the DRM `movenet` preset starts from.

Maps are one image's head logits as drm_core.model.movenet.MoveNet returns them, without the batch axis:
(C, h, w) at stride 4. MoveNet's pixel convention: map pixel m is input pixel 4 m (its graph multiplies by 4 / H).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from drm_core.skeleton import COCO17

STRIDE = 4
MAX_PEOPLE = 6  # the graph's TopK
NMS_KERNEL = 5  # the graph's MaxPool
PEAK_TOLERANCE = 1.0132789611816406e-06  # |heat - maxpool(heat)| below this is a peak
SPREAD = 0.300048828125  # regressed-joint weight exp(-d^2 / (SPREAD * min(h, w))), d in map pixels
JOINT_THRESHOLD = 0.126953125  # joints above this score count in the person score


@dataclass(frozen=True)
class MoveNetPeople:
    """People of one image in input pixels: keypoints (N, 17, 2) as (x, y) in COCO-17 order, keypoint_scores
    (N, 17), boxes (N, 4) as (x_min, y_min, x_max, y_max), scores (N,), best first by center score."""

    keypoints: np.ndarray
    keypoint_scores: np.ndarray
    boxes: np.ndarray
    scores: np.ndarray
    joint_names: tuple[str, ...] = COCO17.joint_names

    def __len__(self) -> int:
        return int(self.scores.shape[0])


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return (1.0 / (1.0 + np.exp(-x.astype(np.float32)))).astype(np.float32)


def center_peaks(center_logit: np.ndarray, k: int = MAX_PEOPLE) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ys, xs, scores) of the k strongest center peaks (sigmoid heat, 5x5 max-pool NMS), as the graph's TopK:
    best first, ties to the lower raster index; fewer than k peaks are filled with non-peaks of score 0."""
    heat = _sigmoid(center_logit.reshape(center_logit.shape[-2:]))
    h, w = heat.shape
    r = NMS_KERNEL // 2
    padded = np.pad(heat, r, constant_values=-np.inf)  # TF's SAME max-pool ignores the padding
    pooled = np.lib.stride_tricks.sliding_window_view(padded, (NMS_KERNEL, NMS_KERNEL)).max(axis=(-1, -2))
    peaks = (heat * (np.abs(heat - pooled) < PEAK_TOLERANCE)).ravel()
    index = np.argsort(-peaks, kind="stable")[:k]
    return index // w, index % w, peaks[index]


def decode_graph(maps: dict[str, np.ndarray], input_hw: tuple[int, int]) -> np.ndarray:
    """The graph's output (6, 56) for one image: per person 17 x (y, x, score) normalised to the input, then
    (ymin, xmin, ymax, xmax) normalised, then the person score; in TopK (center score) order.

    Each joint: the pixel maximising sigmoid(kpt_heatmap) x exp(-d^2 / (0.3 min(h, w))) (d: distance to the
    center's regressed joint) inside the person's box, refined by kpt_offset. Person score: center score x the
    mean score of its joints above 0.127.
    """
    H, W = input_hw
    f32 = np.float32
    ys, xs, scores = center_peaks(maps["center"])
    J = COCO17.num_joints
    _, h, w = maps["kpt_regress"].shape
    reg = maps["kpt_regress"].reshape(J, 2, h, w)[:, :, ys, xs].transpose(2, 0, 1)  # (k, J, (dy, dx))
    ry, rx = ys[:, None].astype(f32) + reg[..., 0], xs[:, None].astype(f32) + reg[..., 1]
    scale = np.maximum(maps["box_scale"][:, ys, xs].T, 0)  # (k, 2) (height, width), map pixels
    shift = maps["box_offset"][:, ys, xs].T
    cy, cx = ys.astype(f32) + shift[:, 0], xs.astype(f32) + shift[:, 1]
    ymin, ymax = np.clip(cy - 0.5 * scale[:, 0], 0, h), np.clip(cy + 0.5 * scale[:, 0], 0, h)
    xmin, xmax = np.clip(cx - 0.5 * scale[:, 1], 0, w), np.clip(cx + 0.5 * scale[:, 1], 0, w)

    gy, gx = (g.astype(f32) for g in np.mgrid[0:h, 0:w])
    d2 = (gy[:, :, None, None] - ry) ** 2 + (gx[:, :, None, None] - rx) ** 2  # (h, w, k, J)
    weight = np.exp(-d2 / (f32(min(h, w)) * f32(SPREAD)))
    inside = ((gy[..., None] >= ymin) & (gy[..., None] < ymax) & (gx[..., None] >= xmin) & (gx[..., None] < xmax))
    heat = _sigmoid(maps["kpt_heatmap"]).transpose(1, 2, 0)  # (h, w, J)
    value = heat[:, :, None, :] * weight * inside[..., None]  # (h, w, k, J)
    k = len(ys)
    best = value.reshape(h * w, k * J).argmax(axis=0).reshape(k, J)  # first maximum, as TF's ArgMax
    by, bx = best // w, best % w
    joint = np.arange(J)[None, :]
    joint_score = value.max(axis=2)[by, bx, joint]  # the best over people at that pixel, as the graph
    offset = maps["kpt_offset"].reshape(J, 2, h, w)
    ky = (by + offset[joint, 0, by, bx]) * f32(STRIDE / H)
    kx = (bx + offset[joint, 1, by, bx]) * f32(STRIDE / W)
    confident = joint_score > JOINT_THRESHOLD
    person = scores * (joint_score * confident).sum(-1) / np.maximum(confident.sum(-1), 1)
    box = np.clip(np.stack([ymin, xmin, ymax, xmax], -1) * (STRIDE / np.array([H, W, H, W], f32)), 0, 1)
    keypoints = np.stack([ky, kx, joint_score], -1).reshape(k, 3 * J)
    return np.concatenate([keypoints, box, person[:, None]], -1).astype(f32)


def decode_movenet(maps: dict[str, np.ndarray], input_hw: tuple[int, int], min_score: float = 0.0) -> MoveNetPeople:
    """MoveNet's people in input pixels (its own decoder), those with person score above `min_score`."""
    raw = decode_graph(maps, input_hw)
    raw = raw[raw[:, -1] > min_score]
    H, W = input_hw
    J = COCO17.num_joints
    kp = raw[:, : 3 * J].reshape(-1, J, 3).astype(np.float64)
    keypoints = np.stack([kp[..., 1] * W, kp[..., 0] * H], -1)
    box = raw[:, 3 * J: 3 * J + 4].astype(np.float64) * [H, W, H, W]
    return MoveNetPeople(keypoints, kp[..., 2], box[:, [1, 0, 3, 2]], raw[:, -1].astype(np.float64))


def decode_center_regress(maps: dict[str, np.ndarray], k: int = MAX_PEOPLE) -> tuple[np.ndarray, np.ndarray]:
    """The coarse decode: joints at center peak + kpt_regress, (k, 17, 2) (x, y) in input pixels (4 m), and the
    center scores (k,). What the DRM `movenet` preset reproduces before training."""
    ys, xs, scores = center_peaks(maps["center"], k)
    J = COCO17.num_joints
    _, h, w = maps["kpt_regress"].shape
    reg = maps["kpt_regress"].reshape(J, 2, h, w)[:, :, ys, xs].transpose(2, 0, 1).astype(np.float64)
    joints = np.stack([xs[:, None] + reg[..., 1], ys[:, None] + reg[..., 0]], -1) * STRIDE
    return joints, scores.astype(np.float64)
