"""The real-image evaluation's report: JSON, Markdown against the goals below, a contact sheet of frames with
predicted and true skeletons drawn over them, and the mid-hip error against distance as a plot."""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from matplotlib.figure import Figure  # a bare Figure renders with Agg and touches no pyplot global state

from drm_core.drawing import draw_people
from drm_core.evaluation.real_images import LOOSE_OKS_THRESHOLD, OKS_THRESHOLD, FrameScore, RealImageResult
from drm_core.reporting import json_safe, measured, number
from drm_core.skeleton import MPI15
from drm_core.pose_types import Sample

# What the model should reach on real images it never saw (the report's 'goal' column).
GOALS = {"recall": 0.80, "fp_per_image": 0.3, "mpjpe_mm": 120.0, "root_error_3_7_m": 0.30}
GT_RGB, PRED_RGB, FALSE_RGB = (40, 220, 40), (235, 60, 40), (250, 210, 0)


@dataclass
class SheetFrame:
    """A frame kept for the contact sheet: the picture, its people and the predictions over it."""

    image: np.ndarray
    gt_uv_px: np.ndarray  # (G, 15, 2)
    gt_visibility: np.ndarray  # (G, 15)
    pred_uv_px: np.ndarray  # (P, 15, 2)
    pred_matched: np.ndarray  # (P,) bool
    caption: str

    @classmethod
    def of(cls, sample: Sample, prediction: Any, score: FrameScore) -> "SheetFrame":
        matched = np.zeros(len(prediction.scores), bool)
        matched[[p.pred_index for p in score.people if p.pred_index >= 0]] = True
        found = sum(p.pred_index >= 0 for p in score.people)
        caption = f"{score.image_id}  {found}/{len(score.people)} found, {score.false_positives} FP"
        return cls(sample.image, sample.joints_2d_px, sample.visibility, np.asarray(prediction.joints_uv_px),
                   matched, caption)


def _tile(frame: SheetFrame, box: int) -> np.ndarray:
    """The frame fitted into a box x box square (white margins), skeletons drawn, caption below."""
    h, w = frame.image.shape[:2]
    scale = box / max(w, h)
    picture = cv2.resize(frame.image, (max(1, round(w * scale)), max(1, round(h * scale))),
                         interpolation=cv2.INTER_AREA)
    draw_people(picture, frame.pred_uv_px, MPI15.bones, [PRED_RGB if m else FALSE_RGB for m in frame.pred_matched],
                scale=scale, thickness=1, joint_radius=2, ground_truth_uv_px=frame.gt_uv_px,
                ground_truth_shown=frame.gt_visibility > 0, ground_truth_colour=GT_RGB, ground_truth_thickness=2,
                ground_truth_joint_radius=3)
    tile = np.full((box + 22, box, 3), 255, np.uint8)
    tile[:picture.shape[0], :picture.shape[1]] = picture
    cv2.putText(tile, frame.caption, (4, box + 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    return tile


def write_contact_sheet(frames: list[SheetFrame], path: Path, columns: int = 4, box: int = 320) -> Path:
    """A grid of the frames (PNG), each fitted into a box x box square; ground truth green, matched predictions
    red, false positives yellow."""
    if not frames:
        raise ValueError("the contact sheet needs at least one frame")
    tiles = [_tile(f, box) for f in frames]
    columns = min(columns, len(tiles))
    rows = math.ceil(len(tiles) / columns)
    header, cell_h, cell_w = 26, tiles[0].shape[0] + 4, box + 4
    sheet = np.full((header + rows * cell_h, columns * cell_w, 3), 255, np.uint8)
    legend = [("ground truth", GT_RGB), ("prediction, matched at OKS >= 0.5", PRED_RGB),
              ("prediction, false positive", FALSE_RGB)]
    x = 6
    for text, rgb in legend:
        cv2.rectangle(sheet, (x, 8), (x + 14, 20), rgb, -1)
        cv2.putText(sheet, text, (x + 20, 19), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
        x += 30 + 8 * len(text)
    for i, tile in enumerate(tiles):
        r, c = divmod(i, columns)
        y0, x0 = header + r * cell_h, c * cell_w
        sheet[y0:y0 + tile.shape[0], x0:x0 + tile.shape[1]] = tile
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_PNG_COMPRESSION, 9]):
        raise OSError(f"could not write {path}")
    return path


def plot_root_error(frames: list[FrameScore], path: Path, title: str) -> Path | None:
    """Mid-hip error against true distance for the matched people with 3D (None when there are none)."""
    people = [p for f in frames for p in f.people if p.has_3d and p.pred_index >= 0]
    if not people:
        return None
    fig = Figure(figsize=(6, 4))
    ax = fig.add_subplot()
    ax.scatter([p.distance_m for p in people], [p.root_error_m for p in people], s=10)
    ax.axhline(GOALS["root_error_3_7_m"], color="grey", linestyle="--", label="goal at 3-7 m")
    ax.set_xlabel("true mid-hip distance from the camera (m)")
    ax.set_ylabel("mid-hip error (m)")
    ax.set_title(title, fontsize=9)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


def _goal_row(metric: str, shown: str, value: float | None, goal: float, goal_text: str, higher: bool) -> str:
    """A row of the headline table; 'met' is blank when the value could not be measured."""
    met = "" if not measured(value) else ("yes" if (value >= goal if higher else value <= goal) else "no")
    return f"| {metric} | {shown} | {goal_text} | {met} |"


def markdown(result: RealImageResult, title: str, settings: dict[str, Any], sheet: str | None,
             plot: str | None, baseline: Baseline | None = None) -> str:
    """The report page: headline metrics against the goals, the baseline beside them, mid-hip error by distance,
    per source."""
    r = result
    root = r.root_error_by_distance.get("3-7 m", {"people": 0, "median_m": math.nan})
    lines = [f"# {title}", "", " ".join(f"{k}: `{v}`." for k, v in settings.items()), "",
             "| metric (12 limb joints) | value | goal | met |", "|---|---|---|---|",
             _goal_row(f"recall at OKS >= {OKS_THRESHOLD}",
                       f"{number(r.recall, '.1f', 100)} % ({r.matched} of {r.gt_people})", r.recall,
                       GOALS["recall"], f">= {GOALS['recall'] * 100:.0f} %", True),
             _goal_row("false positives per image",
                       f"{number(r.fp_per_image, '.2f')} ({r.false_positives} in {r.frames} frames)", r.fp_per_image,
                       GOALS["fp_per_image"], f"<= {GOALS['fp_per_image']}", False),
             _goal_row("hip-centred MPJPE, median (mean)",
                       f"{number(r.mpjpe_mm_median, '.0f')} mm ({number(r.mpjpe_mm_mean, '.0f')} mm; {r.matched_3d} "
                       f"matched of {r.people_3d} people with 3D)", r.mpjpe_mm_median, GOALS["mpjpe_mm"],
                       f"<= {GOALS['mpjpe_mm']:.0f} mm", False),
             _goal_row("mid-hip error at 3-7 m, median",
                       f"{number(root['median_m'], '.2f')} m ({root['people']} people)", root["median_m"],
                       GOALS["root_error_3_7_m"], f"<= {GOALS['root_error_3_7_m']} m", False),
             f"| mean OKS of the matched | {number(r.mean_oks_matched, '.3f')} | | |",
             f"| loose match (OKS >= {LOOSE_OKS_THRESHOLD}), diagnostic only: MPJPE median / mid-hip median "
             f"(3-7 m) | {number(r.loose_3d['mpjpe_mm_median'], '.0f')} mm / "
             f"{number(r.loose_3d['root_error_m_median'], '.2f')} m ({number(r.loose_3d['root_error_m_median_3_7'], '.2f')}"
             f" m); {r.loose_3d['people']} people with 3D | | |",
             "", "Mid-hip error by true distance (matched people with 3D ground truth):", "",
             "| distance | people | median (m) | mean (m) |", "|---|---|---|---|"]
    if baseline is not None:
        lines[lines.index("", 4) + 1:lines.index("", 4) + 1] = baseline_rows(r, baseline) + [""]
    for label, row in r.root_error_by_distance.items():
        lines.append(f"| {label} | {row['people']} | {number(row['median_m'], '.2f')} | {number(row['mean_m'], '.2f')} |")
    lines += ["", "Per source:", "",
              "| source | frames | people | recall | FP / image | people with 3D | MPJPE median (mm) "
              "| mid-hip median (m) |", "|---|---|---|---|---|---|---|---|"]
    for name, s in r.by_source.items():
        lines.append(f"| {name} | {s.frames} | {s.gt_people} | {number(s.recall, '.1f', 100)} % | "
                     f"{number(s.fp_per_image, '.2f')} | {s.people_3d} | {number(s.mpjpe_mm_median, '.0f')} | "
                     f"{number(s.root_error_m_median, '.2f')} |")
    lines += ["", "How it is measured (drm_core/evaluation/real_images.py): OKS is COCO's, over the 12 limb joints "
              "with COCO's per-joint sigmas; the person's area is the area of its ground-truth box (the dataset's "
              "box, else the tight box of its labelled joints), about twice COCO's segmentation area, so these OKS "
              "are more lenient than COCO's. Predictions are matched greedily in score order; a prediction matched "
              "to nobody is a false positive. MPJPE centres both skeletons on their mid-hip; the mid-hip error is "
              "the 3D distance between the two mid-hips, binned by the true mid-hip's distance from the camera."]
    if plot:
        lines += ["", f"![mid-hip error against distance]({plot})"]
    if sheet:
        lines += ["", "Contact sheet: ground truth green, matched predictions red, false positives yellow.", "",
                  f"![contact sheet]({sheet})"]
    return "\n".join(lines) + "\n"


@dataclass
class Baseline:
    """Another model's result on the same frames (MoveNet itself: the floor to beat), with its name."""

    name: str
    result: RealImageResult


def baseline_rows(result: RealImageResult, baseline: Baseline) -> list[str]:
    """The model and the baseline side by side on the same frames (2D figures: the baseline may have no 3D)."""
    b = baseline.result
    rows = [f"Against {baseline.name} on the same frames (2D; the floor to beat):", "",
            "| | recall at OKS >= 0.5 | false positives / image | mean OKS of the matched |", "|---|---|---|---|",
            f"| this model | {number(result.recall, '.1f', 100)} % | {number(result.fp_per_image, '.2f')} | "
            f"{number(result.mean_oks_matched, '.3f')} |",
            f"| {baseline.name} | {number(b.recall, '.1f', 100)} % | {number(b.fp_per_image, '.2f')} | "
            f"{number(b.mean_oks_matched, '.3f')} |"]
    for name, s in result.by_source.items():
        other = b.by_source.get(name)
        if other is not None:
            rows.append(f"| {name}: this model / baseline | {number(s.recall, '.1f', 100)} % / "
                        f"{number(other.recall, '.1f', 100)} % | {number(s.fp_per_image, '.2f')} / "
                        f"{number(other.fp_per_image, '.2f')} | |")
    return rows


def write_report(out_dir: Path | str, result: RealImageResult, frames: list[FrameScore], title: str,
                 settings: dict[str, Any], sheet_frames: list[SheetFrame],
                 baseline: Baseline | None = None) -> list[Path]:
    """real_eval.json (totals, settings and every frame's scores), real_eval.md, contact_sheet.png and
    root_error_vs_distance.png in out_dir; returns the paths written."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    sheet = write_contact_sheet(sheet_frames, out / "contact_sheet.png") if sheet_frames else None
    plot = plot_root_error(frames, out / "root_error_vs_distance.png", title)
    data = {"title": title, "settings": settings, "goals": GOALS, "result": result.as_dict(),
            "baseline": {"name": baseline.name, "result": baseline.result.as_dict()} if baseline else None,
            "frames": [asdict(f) for f in frames]}
    (out / "real_eval.json").write_text(json.dumps(json_safe(data), indent=1), encoding="utf-8")
    written.append(out / "real_eval.json")
    (out / "real_eval.md").write_text(markdown(result, title, settings, sheet and sheet.name, plot and plot.name,
                                               baseline), encoding="utf-8")
    written.append(out / "real_eval.md")
    return written + [p for p in (sheet, plot) if p is not None]
