"""Multi-person BlazePose teacher: MediaPipe's pose detector + full landmarker, run per person crop.

Runs ONLY in the teacher environment the real-data build creates (.venv-teacher: ai-edge-litert, numpy<2,
opencv-python-headless); it never imports drm_core and nothing in drm_core or the node imports it.

    python scripts/real_data/teacher.py --models DIR --job job.json --out labels.jsonl

job.json: {"video": path, "frames": [indices], "tiles": [fractions of the short side]}. For each listed frame
one JSON line: {"frame": i, "people": [{"landmarks": 33 x [x_px, y_px, z, visibility, presence],
"world": 33 x [x, y, z], "flag": p, "det_score": s}]}; "world" is the landmarker's metric 3D (metres, origin at the hip centre, x right,
y down, z away from the camera, rotated back from the crop into the image's axes as MediaPipe's
WorldLandmarkProjectionCalculator does). Every candidate is written; the build filters (flag, visibility,
shape). A rerun appends only frames not yet in the output (a line without "world", from a teacher before it
kept them, counts as not done), so an interrupted build resumes.

The mediapipe wheel ships the graphs' parameters compiled in, not as text; the values below are the ones its
pose_detection / pose_landmark graphs use (see ENVIRONMENT.md, "A multi-person teacher that runs offline").
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from ai_edge_litert.interpreter import Interpreter
from tqdm import tqdm

DET_SIZE, LMK_SIZE = 224, 256
DET_SCORE_MIN, NMS_IOU = 0.5, 0.3
NUM_LANDMARKS = 33  # of the model's 39: the last 6 are ROI helpers (33: hip centre, 34: scale point)


def ssd_anchors() -> np.ndarray:
    """(2254, 2) anchor centres of MediaPipe's SsdAnchorsCalculator for pose_detection: 5 layers, strides
    8/16/32/32/32, one aspect ratio plus the interpolated scale (2 anchors per layer), fixed anchor size."""
    strides = [8, 16, 32, 32, 32]
    out, layer = [], 0
    while layer < len(strides):
        n_same = 0
        while layer + n_same < len(strides) and strides[layer + n_same] == strides[layer]:
            n_same += 1
        per_cell = 2 * n_same
        side = math.ceil(DET_SIZE / strides[layer])
        ys, xs = np.mgrid[0:side, 0:side]
        centres = np.stack([(xs + 0.5) / side, (ys + 0.5) / side], -1).reshape(-1, 1, 2)
        out.append(np.repeat(centres, per_cell, axis=1).reshape(-1, 2))
        layer += n_same
    return np.concatenate(out).astype(np.float32)


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of box a (4,) against boxes b (N, 4), boxes as x0, y0, x1, y1."""
    x0, y0 = np.maximum(a[0], b[:, 0]), np.maximum(a[1], b[:, 1])
    x1, y1 = np.minimum(a[2], b[:, 2]), np.minimum(a[3], b[:, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area = lambda r: (r[..., 2] - r[..., 0]) * (r[..., 3] - r[..., 1])  # noqa: E731
    return inter / np.maximum(area(a) + area(b) - inter, 1e-9)


def weighted_nms(boxes: np.ndarray, kps: np.ndarray, scores: np.ndarray) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """MediaPipe's WEIGHTED non-max suppression: each cluster (IoU > 0.3 with its best box) is replaced by the
    score-weighted mean of its boxes and keypoints, keeping the best score."""
    order = np.argsort(-scores)
    boxes, kps, scores = boxes[order], kps[order], scores[order]
    alive = np.ones(len(scores), bool)
    out = []
    for i in range(len(scores)):
        if not alive[i]:
            continue
        member = alive & (iou(boxes[i], boxes) > NMS_IOU)
        member[i] = True
        w = scores[member][:, None]
        out.append(((boxes[member] * w).sum(0) / w.sum(), (kps[member] * w[:, :, None]).sum(0) / w.sum(),
                    float(scores[i])))
        alive &= ~member
    return out


@dataclass
class Roi:
    """A square, rotated person crop in image pixels: centre, side and rotation (radians)."""

    cx: float
    cy: float
    side: float
    angle: float

    @classmethod
    def from_points(cls, centre: np.ndarray, scale_point: np.ndarray) -> "Roi":
        """MediaPipe's alignment rect: centred on the hip point, side 2 x 1.25 x |scale_point - centre|,
        rotated so that the scale point (head side) is up (target angle 90 degrees)."""
        d = scale_point - centre
        angle = math.pi / 2 - math.atan2(-d[1], d[0])
        angle = (angle + math.pi) % (2 * math.pi) - math.pi
        return cls(float(centre[0]), float(centre[1]), float(2.5 * np.hypot(*d)), angle)

    def crop_to_image(self) -> np.ndarray:
        """2x3 affine map from crop pixels (LMK_SIZE square) to image pixels."""
        c, s, k = math.cos(self.angle), math.sin(self.angle), self.side / LMK_SIZE
        return np.array([[k * c, -k * s, self.cx - self.side / 2 * (c - s)],
                         [k * s, k * c, self.cy - self.side / 2 * (s + c)]])


class Teacher:
    """The two TFLite models and the glue MediaPipe's graphs put between them."""

    def __init__(self, model_dir: Path) -> None:
        self.det = Interpreter(model_path=str(model_dir / "pose_detection.tflite"), num_threads=1)
        self.lmk = Interpreter(model_path=str(model_dir / "pose_landmark_full.tflite"), num_threads=1)
        self.det.allocate_tensors()
        self.lmk.allocate_tensors()
        self.anchors = ssd_anchors()
        self.lmk_out = {d["name"]: d["index"] for d in self.lmk.get_output_details()}

    def detect(self, rgb: np.ndarray, x0: int, y0: int) -> list[tuple[np.ndarray, np.ndarray, float]]:
        """Detections in one image region (offset x0, y0): (box x0y0x1y1 px, 4 keypoints px, score)."""
        h, w = rgb.shape[:2]
        scale = DET_SIZE / max(h, w)
        nw, nh = round(w * scale), round(h * scale)
        px, py = (DET_SIZE - nw) // 2, (DET_SIZE - nh) // 2
        canvas = np.full((DET_SIZE, DET_SIZE, 3), -1.0, np.float32)  # letterbox: black padding, -1 after scaling
        canvas[py:py + nh, px:px + nw] = cv2.resize(rgb, (nw, nh), interpolation=cv2.INTER_AREA) / 127.5 - 1.0
        self.det.set_tensor(self.det.get_input_details()[0]["index"], canvas[None])
        self.det.invoke()
        outs = {d["name"]: self.det.get_tensor(d["index"])[0] for d in self.det.get_output_details()}
        raw, logits = outs["Identity"], outs["Identity_1"][:, 0]
        scores = 1.0 / (1.0 + np.exp(-np.clip(logits, -100, 100)))
        keep = scores >= DET_SCORE_MIN
        if not keep.any():
            return []
        raw, scores, anc = raw[keep], scores[keep], self.anchors[keep]
        ctr = raw[:, 0:2] / DET_SIZE + anc
        wh = raw[:, 2:4] / DET_SIZE
        boxes = np.concatenate([ctr - wh / 2, ctr + wh / 2], 1)
        kps = raw[:, 4:12].reshape(-1, 4, 2) / DET_SIZE + anc[:, None]
        out = []
        for box, kp, score in weighted_nms(boxes, kps, scores):
            # letterbox-normalised -> region pixels -> image pixels
            to_px = lambda p: (p * DET_SIZE - [px, py]) / scale + [x0, y0]  # noqa: E731
            out.append((to_px(box.reshape(2, 2)).ravel(), to_px(kp), score))
        return out

    def landmarks(self, rgb01: np.ndarray, roi: Roi) -> tuple[np.ndarray, float, np.ndarray]:
        """(39, 5) landmarks in image pixels (x, y, z, visibility, presence as probabilities), the pose flag
        and (39, 3) world landmarks (metres, hip-centred, the crop's rotation undone)."""
        m = roi.crop_to_image()
        crop = cv2.warpAffine(rgb01, m, (LMK_SIZE, LMK_SIZE), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                              borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        self.lmk.set_tensor(self.lmk.get_input_details()[0]["index"], crop[None].astype(np.float32))
        self.lmk.invoke()
        lm = self.lmk.get_tensor(self.lmk_out["Identity"]).reshape(39, 5).astype(np.float64)
        flag = float(self.lmk.get_tensor(self.lmk_out["Identity_1"]).ravel()[0])
        xy = lm[:, :2] @ m[:, :2].T + m[:, 2]
        sig = 1.0 / (1.0 + np.exp(-lm[:, 3:5]))
        z = lm[:, 2] * roi.side / LMK_SIZE
        world = self.lmk.get_tensor(self.lmk_out["Identity_4"]).reshape(39, 3).astype(np.float64)
        c, s = math.cos(roi.angle), math.sin(roi.angle)
        world[:, :2] = world[:, :2] @ np.array([[c, -s], [s, c]]).T
        return np.column_stack([xy, z, sig]), flag, world

    def people(self, bgr: np.ndarray, tiles: list[float]) -> list[dict]:
        """Every person candidate of one frame: detector over the full frame and overlapping square tiles,
        one global weighted NMS, then the landmarker per crop and once more on the crop its own landmarks give
        (the graph's tracking step, which repairs crops from detections cut by a tile edge)."""
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        h, w = rgb.shape[:2]
        dets = self.detect(rgb, 0, 0)
        for frac in tiles:
            side = int(round(frac * min(h, w)))
            step = max(side // 2, 1)
            for y0 in _starts(h, side, step):
                for x0 in _starts(w, side, step):
                    dets += self.detect(rgb[y0:y0 + side, x0:x0 + side], x0, y0)
        if not dets:
            return []
        boxes = np.array([d[0] for d in dets])
        kps = np.array([d[1] for d in dets])
        scores = np.array([d[2] for d in dets])
        rgb01 = rgb.astype(np.float32) / 255.0
        out = []
        for _, kp, score in weighted_nms(boxes, kps, scores):
            lm, flag, world = self.landmarks(rgb01, Roi.from_points(kp[0], kp[1]))
            if flag >= 0.5:  # refine on the landmarks' own ROI (helper points 33, 34), as the tracking graph does
                lm2, flag2, world2 = self.landmarks(rgb01, Roi.from_points(lm[33, :2], lm[34, :2]))
                if flag2 >= flag:
                    lm, flag, world = lm2, flag2, world2
            out.append({"landmarks": np.round(lm[:NUM_LANDMARKS], 3).tolist(),
                        "world": np.round(world[:NUM_LANDMARKS], 4).tolist(), "flag": round(flag, 4),
                        "det_score": round(score, 4)})
        return out


def _starts(length: int, side: int, step: int) -> list[int]:
    if side >= length:
        return [0]
    starts = list(range(0, length - side, step))
    return starts + [length - side]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", type=Path, required=True, help="folder with the two .tflite files")
    ap.add_argument("--job", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    job = json.loads(args.job.read_text())
    done, kept = set(), []
    if args.out.exists():
        for line in args.out.read_text().splitlines():
            try:
                entry = json.loads(line)
                frame = entry["frame"]
            except (json.JSONDecodeError, KeyError):
                break  # a line cut by an interruption: everything before it stands
            if all("world" in p for p in entry["people"]):  # older lines lack the world landmarks: redo them
                done.add(frame)
                kept.append(line)
        args.out.write_text("".join(ln + "\n" for ln in kept))
    todo = sorted(set(job["frames"]) - done)
    if not todo:
        return 0
    teacher = Teacher(args.models)
    cap = cv2.VideoCapture(job["video"])
    if not cap.isOpened():
        print(f"teacher: cannot open video {job['video']}", file=sys.stderr)
        return 2
    wanted, index = set(todo), 0
    with args.out.open("a") as f, tqdm(total=len(todo), desc=f"teacher {Path(job['video']).name}",
                                       unit="frame", file=sys.stderr) as bar:
        while wanted:
            ok, frame = cap.read()
            if not ok:
                print(f"teacher: {job['video']} ended at frame {index}; {len(wanted)} listed frames missing",
                      file=sys.stderr)
                return 3
            if index in wanted:
                f.write(json.dumps({"frame": index, "people": teacher.people(frame, job["tiles"])}) + "\n")
                f.flush()
                wanted.discard(index)
                bar.update(1)
            index += 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
