"""Merge the phases' JSON into OUT/results.json, draw the plots and print the summary with the latency goals
(H100, fp16, paper configuration: end-to-end p50 at most 8 ms; 20 people at most 1.1x the cost of 3)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

PHASE_ORDER = ("env", "tests", "latency", "cudagraph", "compile", "topdown", "training")
STAGES = ("preprocess", "network", "download", "decode")
GOAL_P50_MS = 8.0
GOAL_PEOPLE_RATIO = 1.1


def load_phases(out: Path) -> dict[str, Any]:
    """Every phase's result; a phase whose process died (timeout, crash) is marked with its exit code."""
    phases = {}
    for name in PHASE_ORDER:
        path, rc = out / f"{name}.json", out / f"{name}.rc"
        code = rc.read_text().strip() if rc.is_file() else "0"
        why = "timed out" if code in ("124", "137") else f"exited {code}"
        if path.is_file():
            phases[name] = json.loads(path.read_text())
            if phases[name]["status"].startswith("incomplete"):
                phases[name]["status"] = f"failed: the process {why} during the phase; its partial results are kept"
        elif code != "0":
            phases[name] = {"status": f"failed: the process {why} before writing its result (see {name}.log)"}
    return phases


def _rows(phases: dict[str, Any], *names: str) -> list[dict[str, Any]]:
    return [row for name in names for row in phases.get(name, {}).get("rows", [])]


def best_drm(rows: list[dict[str, Any]], config: str, precision: str) -> tuple[str, dict[int, dict]] | None:
    """The mode with the lowest worst-case total p50 over the people counts, and its rows by people count."""
    by_mode: dict[str, dict[int, dict]] = {}
    for row in rows:
        if row["config"] == config and row["precision"] == precision:
            by_mode.setdefault(row["mode"], {})[row["people"]] = row
    if not by_mode:
        return None
    mode = min(by_mode, key=lambda m: max(r["total"]["p50_ms"] for r in by_mode[m].values()))
    return mode, by_mode[mode]


def goal_lines(phases: dict[str, Any], drm_rows: list[dict[str, Any]]) -> list[str]:
    env = phases.get("env", {})
    gpu = env.get("gpu") or env.get("device", "?")
    conditions = "" if (env.get("device") == "cuda" and not env.get("tiny")) else \
        f" [not the goal's conditions: {'tiny, ' if env.get('tiny') else ''}{env.get('device', 'device unknown')}]"
    if env.get("device") == "cuda" and "H100" not in str(gpu):
        conditions += f" [measured on {gpu}; the goals are stated for an H100]"
    precision = "fp16" if any(r["precision"] == "fp16" for r in drm_rows) else \
        next((r["precision"] for r in drm_rows), "fp16")
    if precision != "fp16":
        conditions += f" [{precision}, not fp16]"
    best = best_drm(drm_rows, "paper", precision)
    if best is None:
        return [f"GOAL fp16 p50 <= {GOAL_P50_MS:g} ms (paper config): not measured{conditions}",
                f"GOAL 20 people <= {GOAL_PEOPLE_RATIO:g}x 3 people: not measured{conditions}"]
    mode, by_people = best
    worst = max(r["total"]["p50_ms"] for r in by_people.values())
    lines = [f"GOAL fp16 end-to-end p50 <= {GOAL_P50_MS:g} ms (paper config, {precision} {mode}): worst over "
             f"{sorted(by_people)} people {worst:.2f} ms -> {'PASS' if worst <= GOAL_P50_MS else 'FAIL'}{conditions}"]
    if 3 in by_people and 20 in by_people:
        ratio = by_people[20]["total"]["p50_ms"] / by_people[3]["total"]["p50_ms"]
        theirs = ""
        for crops in ("batched", "one by one"):
            topdown = {r["people"]: r["total"]["p50_ms"] for r in _rows(phases, "topdown") if r["crops"] == crops}
            if 3 in topdown and 20 in topdown:
                theirs += f"; top-down, crops {crops}: {topdown[20] / topdown[3]:.2f}x"
        lines.append(f"GOAL 20 people <= {GOAL_PEOPLE_RATIO:g}x 3 people (paper config, {precision} {mode}): "
                     f"{ratio:.3f}x "
                     f"-> {'PASS' if ratio <= GOAL_PEOPLE_RATIO else 'FAIL'}{theirs}{conditions}")
    else:
        lines.append(f"GOAL 20 people <= {GOAL_PEOPLE_RATIO:g}x 3 people: 3 and 20 people not both measured"
                     f"{conditions}")
    return lines


def _header(phases: dict[str, Any]) -> list[str]:
    env = phases.get("env", {})
    lines = [f"machine: {env.get('gpu') or env.get('device')}, torch {env.get('torch')}, "
             f"CUDA {env.get('cuda_runtime')}, {env.get('cpu_count')} CPUs{', TINY MODE' if env.get('tiny') else ''}"]
    for name in PHASE_ORDER:
        if name in phases:
            p = phases[name]
            lines.append(f"phase {name:9s} {p['status'][:150]} ({p.get('seconds', 0):.0f} s)")
            for v in p.get("variants", []):
                if v["status"] != "ok":
                    lines.append(f"    {v['config']} {v['precision']} {v['mode']}: {v['status'][:150]}")
    tests = phases.get("tests", {})
    if "tests" in tests:
        lines.append(f"core tests -k cuda: {tests['tests']} run, {tests['failures']} failed, {tests['errors']} "
                     f"errors, {tests['skipped']} skipped")
    return lines


def _latency(phases: dict[str, Any]) -> list[str]:
    lines = []
    drm = _rows(phases, "latency", "cudagraph", "compile")
    if drm:
        lines.append("DRM latency, p50 (p95) ms: preprocess / network / download / decode = total")
    for row in drm:
        stages = " / ".join(f"{row[s]['p50_ms']:.2f}" for s in STAGES)
        lines.append(f"  {row['config']:6s} {row['input']:8s} {row['precision']} {row['mode']:9s} "
                     f"{row['people']:2d} people ({row['decoded_people']:2d} decoded): {stages} = "
                     f"{row['total']['p50_ms']:.2f} ({row['total']['p95_ms']:.2f})")
    decode: dict[str, dict[int, float]] = {}
    for row in _rows(phases, "latency"):
        decode.setdefault(f"{row['config']} {row['input']}", {}).setdefault(row["people"], row["decode"]["p50_ms"])
    for config, by_people in decode.items():
        fewest, most = min(by_people), max(by_people)
        lines.append(f"  decoding, {config}: {by_people[fewest]:.2f} ms for {fewest} people, {by_people[most]:.2f} ms "
                     f"for {most} (numpy over the maps; Python loops only over the at most top_k candidates)")
    for row in phases.get("latency", {}).get("predictor", []):
        lines.append(f"  Predictor.predict {row['config']} [{row['engine']}] {row['people']:2d} people: "
                     f"p50 {row['total']['p50_ms']:.2f} ms, p95 {row['total']['p95_ms']:.2f} ms "
                     f"({row['decoded_people']} decoded from random maps)")
    return lines


def _topdown(phases: dict[str, Any]) -> list[str]:
    topdown = _rows(phases, "topdown")
    if not topdown:
        return []
    drm = _rows(phases, "latency", "cudagraph", "compile")
    best = best_drm(drm, "paper", "fp16") or best_drm(drm, "paper", drm[0]["precision"] if drm else "")
    backbone = phases["topdown"].get("crop_backbone", "HRNet")
    lines = [f"Top-down baseline (Faster R-CNN MobileNetV3 detector + {backbone} crops), p50 ms: "
             f"detector / crop net = total; DRM paper config beside it"]
    ours = best[1] if best else {}
    for row in topdown:
        drm_ms = ours.get(row["people"], {}).get("total", {}).get("p50_ms")
        beside = f"; DRM ({best[0]}) {drm_ms:.2f} ms = {drm_ms / row['total']['p50_ms']:.2f}x theirs" if drm_ms else ""
        lines.append(f"  {row['crops']:10s} {row['precision']} {row['people']:2d} people: "
                     f"{row['detector']['p50_ms']:.2f} / {row['crop_network']['p50_ms']:.2f} = "
                     f"{row['total']['p50_ms']:.2f}{beside}")
    return lines


def _training(phases: dict[str, Any]) -> list[str]:
    lines = []
    training = phases.get("training", {})
    through = training.get("throughput", {})
    if through.get("status") == "ok":
        projection = through["projection"]
        lines.append(f"training throughput (paper config {through['input']}, batch {through['batch']}, "
                     f"{through['amp']}): {through['images_per_s']:.1f} images/s ({through['step_ms']:.0f} ms/step); "
                     f"paper schedule on {projection['gpus']} such GPUs: {projection['hours']:.1f} h "
                     f"({projection['assumption']})")
    elif through:
        lines.append(f"training throughput: {through.get('status')}")
    short = training.get("short_run", {})
    if short.get("status") == "ok":
        parts = ", ".join(f"{k} {a:.3g} -> {b:.3g}" for k, (a, b) in short["parts_first_last"].items())
        lines.append(f"short training run (small preset {short['input']}, {short['steps']} steps, "
                     f"batch {short['batch']}, AMP {short['amp']}): loss {short['loss_first']:.4f} -> "
                     f"{short['loss_last']:.4f} (mean of {short['averaged_over']} steps) "
                     f"{'went down' if short['loss_went_down'] else 'DID NOT GO DOWN'}; parts (unweighted): {parts}")
    elif short:
        lines.append(f"short training run: {short.get('status')}")
    return lines


def summary_lines(phases: dict[str, Any]) -> list[str]:
    """The summary, section by section; a section that cannot read its phase's data says so and the rest go on."""
    lines = ["== GPU benchmark summary =="]
    sections = (_header, _latency, _topdown, _training,
                lambda p: goal_lines(p, _rows(p, "latency", "cudagraph", "compile")))
    for section in sections:
        try:
            lines += section(phases)
        except (KeyError, TypeError, ValueError, IndexError, ZeroDivisionError) as err:
            lines.append(f"(a summary section could not be written: {type(err).__name__}: {err})")
    return lines


def plot(phases: dict[str, Any], out: Path) -> list[str]:
    """latency_stages.png, people_scaling.png, short_training_loss.png (those with data)."""
    written = []
    drm = _rows(phases, "latency", "cudagraph", "compile")
    if drm:
        middle = sorted({r["people"] for r in drm})[len({r["people"] for r in drm}) // 2]
        rows = [r for r in drm if r["people"] == middle]
        fig, ax = plt.subplots(figsize=(max(6, 0.6 * len(rows)), 4.5))
        bottom = [0.0] * len(rows)
        for stage in STAGES:
            values = [r[stage]["p50_ms"] for r in rows]
            ax.bar(range(len(rows)), values, bottom=bottom, label=stage)
            bottom = [b + v for b, v in zip(bottom, values)]
        ax.set_xticks(range(len(rows)), [f"{r['config']}\n{r['precision']}\n{r['mode']}" for r in rows], fontsize=7)
        ax.set_ylabel("p50 ms")
        ax.set_title(f"DRM latency per stage, {middle} people")
        ax.legend()
        fig.tight_layout()
        fig.savefig(out / "latency_stages.png", dpi=110)
        plt.close(fig)
        written.append("latency_stages.png")
    topdown = _rows(phases, "topdown")
    if drm or topdown:
        fig, ax = plt.subplots(figsize=(6.5, 4.5))
        lines: dict[str, list[tuple[int, float]]] = {}
        for r in drm:
            if r["config"] == "paper":
                lines.setdefault(f"DRM {r['precision']} {r['mode']}", []).append((r["people"], r["total"]["p50_ms"]))
        for r in topdown:
            lines.setdefault(f"top-down {r['precision']} {r['crops']}", []).append((r["people"], r["total"]["p50_ms"]))
        for label, points in lines.items():  # (a run of one small configuration has no paper rows)
            points.sort()
            ax.plot(*zip(*points), marker="o", label=label, linestyle="--" if label.startswith("top") else "-")
        ax.set_xlabel("people in the image")
        ax.set_ylabel("end-to-end p50 ms")
        ax.set_title("Cost against the number of people (paper input size)")
        if lines:
            ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(out / "people_scaling.png", dpi=110)
        plt.close(fig)
        written.append("people_scaling.png")
    short = phases.get("training", {}).get("short_run", {})
    if short.get("losses"):
        fig, ax = plt.subplots(figsize=(5.5, 3.5))
        ax.plot(range(1, len(short["losses"]) + 1), short["losses"])
        ax.set_xlabel("step")
        ax.set_ylabel("loss")
        ax.set_title(f"AMP training, small preset {short['input']}")
        fig.tight_layout()
        fig.savefig(out / "short_training_loss.png", dpi=110)
        plt.close(fig)
        written.append("short_training_loss.png")
    return written


def write_report(out: Path) -> int:
    phases = load_phases(out)
    lines = summary_lines(phases)
    try:
        plots = plot(phases, out)
    except Exception as err:  # a plot must not cost the summary
        plots = []
        lines.append(f"plots failed: {type(err).__name__}: {err}")
    results = {"phases": phases, "summary": lines, "plots": plots}
    (out / "results.json").write_text(json.dumps(results, indent=1, default=str) + "\n")
    (out / "summary.txt").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    print(f"[gpu-bench] wrote {out / 'results.json'}, {out / 'summary.txt'} and {', '.join(plots) or 'no plots'}")
    return 0
