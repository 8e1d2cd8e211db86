"""Evaluation reports: JSON, Markdown tables laid out like the paper's Tables 1 and 4, and plots."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure  # a bare Figure renders with Agg and touches no pyplot global state

from drm_core.evaluation.mupots import MuPoTSResult
from drm_core.evaluation.panoptic import ACTIVITIES, PanopticResult
from drm_core.reporting import json_safe, number

# DRM paper, Table 1 (MuPoTS-3D, averages over the 20 sequences): matched PCK_rel, PCK_abs, PCK_root, AUC_rel;
# all people PCK_rel, PCK_abs. 3DMPPE is the paper's "CDMP".
TABLE1_COLUMNS = ("PCK_rel", "PCK_abs", "PCK_root", "AUC_rel", "PCK_rel", "PCK_abs")
TABLE1_PAPER = {
    "DRM (paper, HRNet-W32)": (85.1, 41.0, 45.6, 45.4, 80.9, 39.3),
    "SMAP (paper, Hourglass)": (80.5, 38.7, 45.5, 42.7, 73.5, 35.4),
    "3DMPPE / CDMP (paper, ResNet-50)": (82.5, 31.8, 31.0, 40.9, 81.8, 31.5),
}
# DRM paper, Table 4: RtError (mm) on CMU Panoptic per activity (the order of panoptic.ACTIVITIES), then mean.
TABLE4_PAPER = {
    "DRM (paper)": (63.7, 58.5, 52.3, 69.1, 60.9),
    "SMAP (paper)": (84.7, 87.7, 91.2, 78.5, 85.5),
    "3DMPPE / CDMP (paper)": (160.2, 151.9, 177.5, 127.7, 154.3),
}


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _provenance(result: MuPoTSResult) -> list[str]:
    """Report lines on where the ground truth 3D came from and how predictions reached the joint set."""
    lines = []
    if result.gt_source:
        caveat = ("" if result.gt_source == "univ_annot3" or result.joint_set != "mupots17" else
                  " (not univ_annot3, which the official evaluation scores on: not comparable to published figures)")
        lines.append(f"- Ground-truth 3D: {result.gt_source}{caveat}.")
    if result.pred_source:
        lines.append(f"- Predictions: {result.pred_source}")
    return lines


def mupots_markdown(result: MuPoTSResult, title: str, method: str = "Ours") -> str:
    """Table 1 of the paper with our row under the paper's rows, then the details behind our row."""
    m, a = result.matched, result.all_people
    ours = (m.pck_rel, m.pck_abs, m.pck_root, m.auc_rel, a.pck_rel, a.pck_abs)
    lines = [f"# {title}", "", "MuPoTS-3D style metrics (%; 3DPCK at 150 mm, AUC over 0..150 mm, per sequence "
             "then averaged over sequences), laid out like Table 1 of the DRM paper.", "",
             f"**Scoring: {result.scoring_description}.**", "",
             _row(["Method", "Matched PCK_rel", "Matched PCK_abs", "Matched PCK_root", "Matched AUC_rel",
                   "All PCK_rel", "All PCK_abs"]),
             _row(["---"] * 7)]
    lines += [_row([name] + [number(v) for v in values]) for name, values in TABLE1_PAPER.items()]
    lines.append(_row([f"**{method}**"] + [f"**{number(v)}**" for v in ours]))
    lines += ["", f"- Ground-truth people: {result.num_annotated}, matched: {result.num_matched} "
              f"(recall {100 * result.recall:.1f} %).",
              f"- Scoring `{result.scoring}` on {result.joint_set} records: {result.scoring_description}.",
              *_provenance(result),
              f"- Matched people: MPJPE rel {number(result.mpjpe_rel_mm)} mm, abs {number(result.mpjpe_abs_mm)} mm, "
              f"root error {number(result.root_error_mm)} mm; AUC_abs {number(m.auc_abs)}.",
              "- The paper's rows are on the full MuPoTS-3D test set (20 sequences, height-normalised ground "
              "truth); ours are comparable only when evaluated on the same data.", "",
              "## Per sequence", "",
              _row(["Sequence", "GT people", "Matched", "PCK_rel", "PCK_abs", "PCK_root", "AUC_rel",
                    "All PCK_rel", "All PCK_abs"]), _row(["---"] * 9)]
    for name, s in result.per_sequence.items():
        lines.append(_row([name, str(int(s["num_annotated"])), str(int(s["num_matched"]))] +
                          [number(s[k]) for k in ("pck_rel", "pck_abs", "pck_root", "auc_rel", "all_pck_rel",
                                                "all_pck_abs")]))
    return "\n".join(lines) + "\n"


def panoptic_markdown(result: PanopticResult, title: str, method: str = "Ours") -> str:
    """Table 4 of the paper (RtError, mm) with our row under the paper's rows, then our MPJPE."""
    header = ["Method", "Haggling", "Mafia", "Ultimatum", "Pizza", "Mean"]
    lines = [f"# {title}", "", "CMU Panoptic RtError (mm, pelvis absolute 3D error of people matched within "
             "30 px), laid out like Table 4 of the DRM paper.", "", _row(header), _row(["---"] * len(header))]
    lines += [_row([name] + [number(v) for v in values]) for name, values in TABLE4_PAPER.items()]
    lines.append(_row([f"**{method}**"] + [f"**{number(result.rt_error_mm.get(a))}**" for a in ACTIVITIES] +
                      [f"**{number(result.mean_rt_error_mm)}**"]))
    lines += ["", "MPJPE (mm, pelvis-aligned, labelled joints; the paper gives it only in its supplement):", "",
              _row(header), _row(["---"] * len(header)),
              _row([method] + [number(result.mpjpe_mm.get(a)) for a in ACTIVITIES] + [number(result.mean_mpjpe_mm)])]
    others = [a for a in result.rt_error_mm if a not in ACTIVITIES]
    if others:
        lines += ["", "Sequences outside the four activities (counted in our means): " +
                  ", ".join(f"{a} RtError {number(result.rt_error_mm[a])} mm, MPJPE {number(result.mpjpe_mm[a])} mm"
                            for a in others)]
    lines += ["", f"- Ground-truth people: {sum(result.num_annotated.values())}, matched: "
              f"{sum(result.num_matched.values())} (recall {100 * result.recall:.1f} %).",
              "- Our mean is over the activities present; the exact test frames of the paper were never released."]
    return "\n".join(lines) + "\n"


def plot_pck_curves(result: MuPoTSResult, path: Path, title: str) -> Path:
    """3DPCK (matched people) against the threshold, relative and absolute."""
    fig = Figure(figsize=(5.5, 4.0), dpi=120)
    ax = fig.add_subplot()
    for curve, kind, auc in ((result.pck_rel_curve, "relative", result.matched.auc_rel),
                             (result.pck_abs_curve, "absolute", result.matched.auc_abs)):
        ax.plot(result.thresholds_mm, curve, marker=".", label=f"{kind} (AUC {number(auc)})")
    ax.axvline(150.0, color="grey", lw=0.8, ls="--")
    ax.set(xlabel="threshold (mm)", ylabel="3DPCK (%)", xlim=(0, 150), ylim=(0, 100), title=title)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(path)
    return path


def plot_depth_errors(depth_gt_m: np.ndarray, depth_pred_m: np.ndarray, path: Path, title: str) -> Path:
    """Fig. 4 style scatter: root depth error (predicted - ground truth) against ground-truth root depth."""
    fig = Figure(figsize=(5.5, 4.0), dpi=120)
    ax = fig.add_subplot()
    if len(depth_gt_m):
        err = depth_pred_m - depth_gt_m
        ax.scatter(depth_gt_m, err, s=4, alpha=0.5)
        ax.set_title(f"{title}\nmean |error| {np.mean(np.abs(err)):.3f} m over {len(err)} people")
    else:
        ax.text(0.5, 0.5, "no matched people", ha="center", va="center", transform=ax.transAxes)
        ax.set_title(title)
    ax.axhline(0.0, color="grey", lw=0.8)
    ax.set(xlabel="ground-truth root depth (m)", ylabel="predicted - ground-truth root depth (m)")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    return path


def write_report(out_dir: Path | str, result: MuPoTSResult | PanopticResult, title: str,
                 method: str = "Ours") -> list[Path]:
    """Write <benchmark>_metrics.json, the paper-style Markdown table and the plots; return their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if isinstance(result, MuPoTSResult):
        stem, markdown = "mupots", mupots_markdown(result, title, method)
    elif isinstance(result, PanopticResult):
        stem, markdown = "panoptic", panoptic_markdown(result, title, method)
    else:
        raise TypeError(f"write_report takes a MuPoTSResult or PanopticResult, got {type(result).__name__}")
    paths = [out / f"{stem}_metrics.json", out / f"{stem}_report.md"]
    paths[0].write_text(json.dumps(json_safe(result.to_dict()), indent=2) + "\n")
    paths[1].write_text(markdown)
    if isinstance(result, MuPoTSResult):
        paths.append(plot_pck_curves(result, out / f"{stem}_pck_curve.png", title))
    paths.append(plot_depth_errors(result.root_depth_gt_m, result.root_depth_pred_m,
                                   out / f"{stem}_root_depth_error.png", title))
    return paths
