"""The replay's human-readable report: report.md beside summary.json, a contact sheet of overlays (JPEG), a 3D plot
of sample frames and per-frame curves (PNG). Needs no ROS: it draws from the replay's plain records."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from matplotlib.figure import Figure  # a bare Figure renders with Agg and touches no pyplot global state

from drm_core.drawing import draw_people
from drm_core.reporting import number
from drm_core.skeleton import Skeleton

GOLDEN_RATIO = 0.618033988749895
THUMB_WIDTH = 240
SHEET_COLUMNS = 4


def track_colour(track_id: int) -> tuple[float, float, float]:
    """RGB in [0, 1], the hue sequence of drm_ros.frame.markers.colour_of (so RViz and the report agree)."""
    import colorsys

    return colorsys.hsv_to_rgb((track_id * GOLDEN_RATIO) % 1.0, 0.85, 0.95)


@dataclass
class Thumbnail:
    """A sample frame for the pictures: the image (downscaled) and its people in its pixels and in metres."""

    index: int
    stamp_s: float
    rgb: np.ndarray
    scale: float  # thumbnail pixels per source pixel
    uv_px: np.ndarray  # (P, J, 2) source pixels
    xyz_m: np.ndarray  # (P, J, 3)
    conf: np.ndarray  # (P, J)
    ids: np.ndarray  # (P,)
    gt_uv_px: np.ndarray | None = None


def thumbnail(index: int, stamp_s: float, rgb: np.ndarray, uv_px, xyz_m, conf, ids, gt_uv_px=None) -> Thumbnail:
    scale = THUMB_WIDTH / rgb.shape[1]
    small = cv2.resize(rgb, (THUMB_WIDTH, max(1, round(rgb.shape[0] * scale))), interpolation=cv2.INTER_AREA)
    return Thumbnail(index, stamp_s, small, scale, np.asarray(uv_px), np.asarray(xyz_m), np.asarray(conf),
                     np.asarray(ids), None if gt_uv_px is None else np.asarray(gt_uv_px))


def _overlay(thumb: Thumbnail, skeleton: Skeleton, min_conf: float) -> np.ndarray:
    img = thumb.rgb.copy()
    colours = [tuple(int(255 * c) for c in track_colour(int(tid))) for tid in thumb.ids]
    # ground truth thin and white under the predictions
    draw_people(img, thumb.uv_px, skeleton.bones, colours, scale=thumb.scale, confidences=thumb.conf,
                min_confidence=min_conf, thickness=2, ground_truth_uv_px=thumb.gt_uv_px, ground_truth_thickness=1)
    for uv, tid, colour in zip(thumb.uv_px * thumb.scale, thumb.ids, colours):
        top = uv[np.argmin(uv[:, 1])]
        cv2.putText(img, f"#{int(tid)}", (int(top[0]) - 8, max(10, int(top[1]) - 4)), cv2.FONT_HERSHEY_SIMPLEX, 0.4,
                    colour, 1, cv2.LINE_AA)
    cv2.putText(img, f"frame {thumb.index}  t={thumb.stamp_s:.2f}s", (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4,
                (255, 255, 0), 1, cv2.LINE_AA)
    return img


def contact_sheet(thumbs: list[Thumbnail], skeleton: Skeleton, path: Path, min_conf: float = 0.1) -> Path | None:
    """A grid of overlays (track colours; ground truth in white), written as JPEG to keep it small."""
    if not thumbs:
        return None
    tiles = [_overlay(t, skeleton, min_conf) for t in thumbs]
    h = max(t.shape[0] for t in tiles)
    tiles = [cv2.copyMakeBorder(t, 0, h - t.shape[0], 0, 0, cv2.BORDER_CONSTANT) for t in tiles]
    cols = min(SHEET_COLUMNS, len(tiles))
    tiles += [np.zeros_like(tiles[0])] * (-len(tiles) % cols)
    rows = [np.hstack(tiles[i:i + cols]) for i in range(0, len(tiles), cols)]
    cv2.imwrite(str(path), cv2.cvtColor(np.vstack(rows), cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 65])
    return path


def plot_3d(thumbs: list[Thumbnail], skeleton: Skeleton, path: Path, count: int = 3) -> Path | None:
    """People of `count` sample frames in the camera frame (x right, z forward, height up), track colours."""
    chosen = [t for t in thumbs if len(t.ids)]
    if not chosen:
        return None
    chosen = [chosen[int(i)] for i in np.linspace(0, len(chosen) - 1, min(count, len(chosen))).round()]
    fig = Figure(figsize=(3.5 * len(chosen), 3.5), dpi=60)
    for k, thumb in enumerate(chosen):
        ax = fig.add_subplot(1, len(chosen), k + 1, projection="3d")
        for xyz, tid in zip(thumb.xyz_m, thumb.ids):
            colour = track_colour(int(tid))
            for a, b in skeleton.bones:
                ax.plot([xyz[a, 0], xyz[b, 0]], [xyz[a, 2], xyz[b, 2]], [-xyz[a, 1], -xyz[b, 1]], color=colour, lw=2)
            ax.text(xyz[skeleton.root, 0], xyz[skeleton.root, 2], -xyz[:, 1].min() + 0.15, f"#{int(tid)}",
                    color=colour, fontsize=8)
        ax.scatter([0], [0], [0], marker="^", color="k")  # the camera
        ax.set(xlabel="x (m)", ylabel="depth z (m)", zlabel="up (m)", title=f"frame {thumb.index}")
        pts = np.vstack([thumb.xyz_m.reshape(-1, 3), np.zeros((1, 3))])
        lo, hi = pts.min(axis=0) - 0.25, pts.max(axis=0) + 0.25  # a margin: never an empty axis
        ax.set(xlim=(lo[0], hi[0]), ylim=(lo[2], hi[2]), zlim=(-hi[1], -lo[1]))
        ax.set_box_aspect(tuple(hi[[0, 2, 1]] - lo[[0, 2, 1]]))  # metres equal on every axis
    fig.tight_layout()
    fig.savefig(path)
    return path


def plot_curves(per_frame: list[dict], jitter: list[float | None], path: Path) -> Path | None:
    """People per frame (and ground truth), latency, joint jitter and each track's life over the frames."""
    if not per_frame:
        return None
    idx = np.array([f["index"] for f in per_frame])
    fig = Figure(figsize=(9, 8), dpi=56)
    axes = fig.subplots(4, 1, sharex=True)
    axes[0].step(idx, [f["people"] for f in per_frame], where="mid", label="detected")
    if any(f.get("gt_people") is not None for f in per_frame):
        axes[0].step(idx, [f.get("gt_people") or 0 for f in per_frame], where="mid", ls="--", label="ground truth")
    axes[0].set(ylabel="people")
    axes[0].legend(loc="upper right", fontsize=8)
    axes[1].plot(idx, [f["latency_ms"] for f in per_frame], lw=1)
    axes[1].set(ylabel="latency (ms)")
    axes[2].plot(idx, [np.nan if v is None else v for v in jitter], lw=1)
    axes[2].set(ylabel="jitter (m/s²)")
    tracks: dict[int, list[int]] = {}
    for f in per_frame:
        for tid in f["ids"]:
            tracks.setdefault(int(tid), []).append(f["index"])
    for tid, frames in tracks.items():
        axes[3].scatter(frames, [tid] * len(frames), s=4, color=track_colour(tid))
    axes[3].set(ylabel="track id", xlabel="frame")
    for ax in axes:
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    return path


def markdown(summary: dict, figures: dict[str, Path | None], skipped_listed: int = 50) -> str:
    """report.md: what was replayed, what was skipped and why, label-free figures, ground truth, pictures."""
    s = summary
    lines = [f"# Replay of {Path(s['bag']).name}", ""]
    if s.get("error"):
        lines += [f"**Stopped by an error: {s['error']}** The figures below cover the frames read before it.", ""]
    if s.get("interrupted"):
        lines += ["**Interrupted (SIGINT/SIGTERM): the figures cover the frames processed before.**", ""]
    lines += [f"- bag: `{s['bag']}`; image topic `{s.get('image_topic')}`, camera info `{s.get('camera_info_topic')}`"
              f", ground truth " + (f"`{s['ground_truth_topic']}`" if s.get("ground_truth_topic") else "none"),
              f"- model: {s.get('model')}",
              f"- output bag: `{s.get('output_bag')}` (images, camera info, PoseArray3D, MarkerArray)",
              f"- frames: {s.get('frames', 0)} read, {s.get('processed', 0)} processed, "
              f"{len(s.get('skipped_frames', []))} skipped", ""]
    lat = s.get("latency_ms")
    if lat:
        lines += [f"Latency of one image (conversion, intrinsics, model): mean {lat['mean']:.0f} ms, p50 "
                  f"{lat['p50']:.0f} ms, p95 {lat['p95']:.0f} ms.", ""]
    skipped = s.get("skipped_frames", [])
    if skipped:
        lines += ["## Skipped frames", "", "| # | bag time (s) | stamp | frame_id | reason |", "|---|---|---|---|---|"]
        for f in skipped[:skipped_listed]:
            lines.append(f"| {f['index']} | {f['bag_time_ns'] / 1e9:.6f} | {f.get('stamp') or '-'} | "
                         f"{f.get('frame_id') or '-'} | {f['reason']}: {f['message']} |")
        if len(skipped) > skipped_listed:
            lines.append(f"| ... | {len(skipped) - skipped_listed} more in summary.json | | | |")
        lines.append("")
    t = s.get("tracking") or {}
    if t:
        lines += ["## Tracking and label-free quality", "",
                  "Computed from the output alone (no labels needed).", "",
                  "| figure | value |", "|---|---|",
                  f"| frames with nobody | {t['frames_with_nobody']} of {t['frames']} |",
                  f"| tracks (distinct ids) | {t['tracks']} |",
                  f"| mean track length (frames) | {number(t['mean_track_frames'])} |",
                  f"| tracks shorter than 5 frames | {t['short_tracks']} |",
                  f"| bone-length variation per track (median CV, %) | {number(t['bone_cv_percent_median'])} |",
                  f"| joint jitter, median acceleration (m/s²) | {number(t['jitter_m_s2_median'], '.2f')} |",
                  f"| joint jitter, p95 acceleration (m/s²) | {number(t['jitter_m_s2_p95'], '.2f')} |", "",
                  f"Tracker: {s.get('tracker')}; smoothing: {s.get('smoothing') or 'off'}.", ""]
        speeds = t.get("speed_m_s_per_track") or {}
        if speeds:
            lines += ["Speed per track (median over its frames of the tracker's reported root speed, m/s): "
                      + ", ".join(f"#{tid} {number(v, '.2f')}" for tid, v in speeds.items()) + ".", ""]
    m = s.get("metrics")
    if m:
        lines += ["## Against ground truth", "",
                  f"On {s['ground_truth_frames']} frames with ground truth (drm_core.evaluation, MuPoTS-style "
                  "matching at 40 px, absolute metric joints, no bone rescaling):", "",
                  "| figure | value |", "|---|---|",
                  f"| MPJPE absolute (mm) | {number(m.get('mpjpe_abs_mm'))} |",
                  f"| MPJPE root-relative (mm) | {number(m.get('mpjpe_rel_mm'))} |",
                  f"| root error (mm) | {number(m.get('root_error_mm'))} |",
                  f"| recall (matched / annotated people) | {number(m.get('recall'), '.3f')} |",
                  f"| matched PCK_rel / PCK_abs / PCK_root (%) | {number(m['matched'].get('pck_rel'))} / "
                  f"{number(m['matched'].get('pck_abs'))} / {number(m['matched'].get('pck_root'))} |"]
        ident = s.get("identity")
        if ident:
            lines += [f"| id switches (ground-truth identities) | {ident['id_switches']} |",
                      f"| tracks per ground-truth person | {ident['fragments']} for {ident['gt_people']} people |"]
        lines += ["", "Full tables: `mupots_report.md`, `mupots_metrics.json`.", ""]
    motion = s.get("motion")
    if motion:
        lines += ["## Velocity against ground truth", "",
                  f"Confirmed tracks' reported root velocity against the matched person's true velocity, over "
                  f"{motion['observations']} observations: speed error | |v| - |v_true| |, heading error the angle "
                  f"between them seen from above (x, z), where both speeds reach 0.1 m/s "
                  f"({motion['heading_observations']} observations).", "",
                  "| figure | value |", "|---|---|",
                  f"| speed error, median / p90 (m/s) | {number(motion['speed_error_m_s_median'], '.2f')} / "
                  f"{number(motion['speed_error_m_s_p90'], '.2f')} |",
                  f"| heading error, median (degrees) | {number(motion['heading_error_deg_median'], '.1f')} |", "",
                  "| track | frames | true speed (m/s) | reported speed (m/s) | speed error (m/s) | heading error (°) |",
                  "|---|---|---|---|---|---|"]
        for tid, row in motion["per_track"].items():
            lines.append(f"| #{tid} | {row['frames']} | {number(row['gt_speed_m_s'], '.2f')} | "
                         f"{number(row['speed_m_s'], '.2f')} | {number(row['speed_error_m_s'], '.2f')} | "
                         f"{number(row['heading_error_deg'], '.1f')} |")
        lines.append("")
    names = {"contact_sheet": "Overlays of sample frames (colour = track id; white = ground truth)",
             "plot_3d": "Sample frames in 3D (camera frame)", "curves": "Per frame",
             "birds_eye": "From above: each track's trail, id and last velocity (arrow: 1 s of motion; grey dashed: "
                          "ground truth; dotted: the field of view)"}
    pictures = [(names[k], p) for k, p in figures.items() if p is not None]
    if pictures:
        lines += ["## Pictures", ""]
        for title, path in pictures:
            lines += [f"### {title}", "", f"![{title}]({Path(path).name})", ""]
    if s.get("command"):
        lines += ["## Reproduce", "", "```", s["command"], "```", ""]
    return "\n".join(lines)
