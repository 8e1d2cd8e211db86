"""Phases of the GPU benchmark, each result written to OUT/<phase>.json. benchmarks/gpu/run.sh calls every
phase in its own process on a GPU (a sticky CUDA error or a hang in one cannot take the others down) and all
of them in one process in tiny mode (imports once), then `report`.

    PYTHONPATH=. python -m benchmarks.gpu PHASE[,PHASE...] --out OUT [--tiny] [--device auto|cpu|cuda] ...
Phases: env, tests, latency, cudagraph, topdown, training, compile, report.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import os
import platform
import subprocess
import sys
import tempfile
import time
import traceback
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any, Callable

import torch

from benchmarks.gpu.common import Settings, Skipped, resolve_device

ROOT = Path(__file__).resolve().parents[2]

PHASES = ("env", "tests", "latency", "cudagraph", "topdown", "training", "compile", "report")
CUDA_PHASES = ("latency", "cudagraph", "topdown", "training", "compile")  # full size only on a GPU


def environment(settings: Settings, args: argparse.Namespace) -> dict[str, Any]:
    info: dict[str, Any] = {"python": platform.python_version(), "torch": torch.__version__,
                            "cuda_runtime": torch.version.cuda, "cpu_count": os.cpu_count(),
                            "platform": platform.platform(), "device": settings.device, "tiny": settings.tiny}
    if settings.device == "cuda":
        props = torch.cuda.get_device_properties(0)
        info.update(gpu=props.name, gpu_memory_gb=props.total_memory / 2 ** 30,
                    capability=f"{props.major}.{props.minor}", cudnn=torch.backends.cudnn.version())
    try:
        import torchvision
        import timm
        info.update(torchvision=torchvision.__version__, timm=timm.__version__)
        info["nvidia_smi"] = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version,clocks.max.sm,power.limit",
                                             "--format=csv,noheader"], capture_output=True, text=True,
                                            timeout=20).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        info["nvidia_smi"] = None
    try:
        info["git_commit"] = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                                            timeout=10).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        info["git_commit"] = None
    return info


WHEELS = ROOT / "benchmarks" / "gpu" / "wheels"  # pytest and its dependencies, for a machine without them


def pytest_site() -> str | None:
    """None when pytest is importable; else the temporary folder it was installed into from WHEELS (offline;
    not under OUT, whose files travel back from the GPU machine)."""
    if importlib.util.find_spec("pytest") is not None:
        return None
    if not any(WHEELS.glob("pytest-*.whl")):
        raise RuntimeError(f"pytest is not installed and {WHEELS} holds no pytest wheel (see benchmarks/gpu/README.md)")
    site = Path(tempfile.gettempdir()) / "drm_gpu_bench_pytest"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-index", "--find-links", str(WHEELS),
                    "--target", str(site), "pytest"], check=True, timeout=120)
    return str(site)


def core_tests(settings: Settings, args: argparse.Namespace) -> dict[str, Any]:
    """pytest -k cuda over the core tests (no ROS import there), in a child process; counts from its JUnit XML."""
    xml = args.out / "cuda_tests.xml"
    site = pytest_site()
    path = os.pathsep.join(p for p in (str(ROOT), site, os.environ.get("PYTHONPATH", "")) if p)
    env = {**os.environ, "PYTHONPATH": path}
    command = [sys.executable, "-m", "pytest", "-q", "-k", "cuda", "-p", "no:cacheprovider", f"--junitxml={xml}",
               *args.test_paths]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=args.test_timeout)
    counts = {}
    if xml.is_file():
        suite = ET.parse(xml).getroot()
        suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
        counts = {k: int(suite.get(k, 0)) for k in ("tests", "failures", "errors", "skipped")}
    result = {"command": " ".join(command[1:]), "returncode": done.returncode, "pytest_from": site or "installed",
              **counts,
              "output_tail": (done.stdout + done.stderr)[-4000:]}
    if settings.device != "cuda":
        result["note"] = "skipped: no CUDA (the CUDA cases skip themselves; the CPU cases ran)"
    if done.returncode not in (0, 5):  # 5: nothing collected
        raise RuntimeError(f"pytest exited {done.returncode}: {result['output_tail'][-600:]}")
    return result


Work = Callable[[Settings, argparse.Namespace, Callable[[dict[str, Any]], None]], dict[str, Any]]


def phase_work(phase: str) -> Work:
    """The phase's function of (settings, arguments, progress): progress(partial result) may be called."""
    if phase == "env":
        return lambda s, a, _: environment(s, a)
    if phase == "tests":
        return lambda s, a, _: core_tests(s, a)
    if phase in ("latency", "cudagraph", "compile"):
        from benchmarks.gpu import latency
        work = {"latency": latency.run_latency, "cudagraph": latency.run_cudagraph, "compile": latency.run_compile}
        return lambda s, _, progress: work[phase](s, progress)
    if phase == "topdown":
        from benchmarks.gpu.topdown import run_topdown
        return lambda s, _, __: run_topdown(s)
    if phase == "training":
        from benchmarks.gpu.training import run_training
        return lambda s, _, __: run_training(s)
    raise ValueError(f"unknown phase {phase!r}")


def settings_from(args: argparse.Namespace) -> Settings:
    device = resolve_device(args.device)
    base = Settings.tiny_run(device) if args.tiny else Settings.full(device)
    split = lambda text, cast=str: tuple(cast(x) for x in text.split(",")) if text else None  # noqa: E731
    return base.replace(repeats=args.repeats, warmup=args.warmup, people=split(args.people, int),
                        precisions=split(args.precisions), configs=split(args.configs),
                        compile_configs=split(args.compile), compile_mode=args.compile_mode,
                        train_steps=args.train_steps, short_run_steps=args.short_run_steps,
                        topdown_sequential=False if args.no_topdown_sequential else None)


def write_result(out: Path, phase: str, result: dict[str, Any], settings: Settings) -> None:
    result = {**result, "settings": vars(settings)}
    (out / f"{phase}.json").write_text(json.dumps(result, indent=1, default=str) + "\n")


def run_phase(phase: str, settings: Settings, args: argparse.Namespace) -> dict[str, Any]:
    """The phase's result with its status: ok, skipped: why, or failed: error (and the traceback). Partial
    results are written as the phase goes, marked incomplete, and replaced by the final result."""
    start = time.perf_counter()

    def progress(partial: dict[str, Any]) -> None:
        write_result(args.out, phase, {"status": "incomplete: the phase's process ended before its end",
                                       "seconds": time.perf_counter() - start, **partial}, settings)
    try:
        if phase in CUDA_PHASES and settings.device != "cuda" and not settings.tiny:
            raise Skipped("no CUDA (run with --tiny to exercise the phase on the CPU)")
        result = {"status": "ok", **phase_work(phase)(settings, args, progress)}
    except Skipped as why:
        result = {"status": f"skipped: {why}"}
    except Exception as err:  # recorded; run.sh goes on with the next phase
        traceback.print_exc()
        result = {"status": f"failed: {type(err).__name__}: {err}", "traceback": traceback.format_exc()[-4000:]}
    result["seconds"] = time.perf_counter() - start
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("phases", help=f"comma-separated, of {', '.join(PHASES)}")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--tiny", action="store_true", help="tiny sizes and 1-2 repeats, for the CPU unit test")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    parser.add_argument("--repeats", type=int, help="timed iterations per measurement (full: 30)")
    parser.add_argument("--warmup", type=int, help="untimed iterations first (full: 5)")
    parser.add_argument("--people", help="people counts, e.g. 1,3,10,20")
    parser.add_argument("--precisions", help="e.g. fp32,fp16,bf16")
    parser.add_argument("--configs", help="e.g. paper,small")
    parser.add_argument("--compile", help="config:precision pairs for torch.compile, e.g. paper:fp16,small:fp16")
    parser.add_argument("--compile-mode", help="torch.compile mode (full: reduce-overhead, i.e. with CUDA graphs)")
    parser.add_argument("--train-steps", type=int, help="timed training steps of the throughput (full: 10)")
    parser.add_argument("--short-run-steps", type=int, help="steps of the CPU preset's AMP run (full: 40)")
    parser.add_argument("--no-topdown-sequential", action="store_true",
                        help="do not time the top-down crop network one person at a time")
    parser.add_argument("--test-paths", nargs="*", default=["tests/core"])
    parser.add_argument("--test-timeout", type=int, default=300)
    args = parser.parse_args(argv)
    phases = args.phases.split(",")
    unknown = sorted(set(phases) - set(PHASES))
    if unknown:
        parser.error(f"unknown phases {unknown}; known: {', '.join(PHASES)}")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    args.out.mkdir(parents=True, exist_ok=True)
    settings = settings_from(args)
    if settings.tiny and settings.device == "cpu":
        torch.set_num_threads(1)  # on a few shared cores, OpenMP threads spin-waiting for each other cost ~6x
    for phase in phases:
        if phase == "report":
            from benchmarks.gpu.report import write_report
            write_report(args.out)
            continue
        result = run_phase(phase, settings, args)
        write_result(args.out, phase, result, settings)
        print(f"[gpu-bench] {phase}: {result['status']} ({result['seconds']:.1f} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
