"""DRM predictor latency per stage: pre-processing (upload + letterbox on the device), network, download of the
maps, decoding; for each configuration, precision (autocast fp32/fp16/bf16) and mode (eager, CUDA graph,
torch.compile), on scenes of 1, 3, 10 and 20 people. Random weights, BatchNorm statistics calibrated on the
scene (common.calibrate_batchnorm) so that fp16 activations stay in range.

Decoding runs on the maps the codec encodes for each scene's ground truth, not on the network's output: random
weights find no people, and decoding costs what the number of center peaks makes it cost. The network, its
pre-processing and the download do not depend on the number of people (a fixed-size convolutional pass).
"""
from __future__ import annotations

import logging
import time
import traceback
from typing import Any, Callable

import numpy as np
import torch

from benchmarks.gpu.common import (Scene, Settings, Skipped, calibrate_batchnorm, make_scenes, model_configs,
                                   synchronize, time_stages)
from drm_core.codec import CodecConfig, DRMCodec
from drm_core.engines import TorchEngine
from drm_core.gpu_preprocess import letterbox_on_device
from drm_core.model import build_model
from drm_core.predictor import Predictor

log = logging.getLogger(__name__)

AUTOCAST = {"fp32": None, "fp16": torch.float16, "bf16": torch.bfloat16}
Runner = Callable[[torch.Tensor], dict[str, torch.Tensor]]


def network_runner(model: torch.nn.Module, device: str, precision: str, mode: str, example: torch.Tensor,
                   compile_mode: str = "max-autotune-no-cudagraphs") -> Runner:
    """The network as a callable from the input tensor to its output tensors on the device.

    eager: autocast as TorchEngine runs it. cudagraph: the same, captured once into a CUDA graph and replayed
    (no per-kernel launch cost; the input is copied into the captured buffer). compile: torch.compile.
    """
    dtype = AUTOCAST[precision]

    def autocast() -> torch.autocast:
        # No cast cache: CUDA graph capture wants none (torch.cuda.graph's notes), and one forward pass uses each
        # weight once, so eager loses nothing.
        return torch.autocast(device, dtype=dtype or torch.float32, enabled=dtype is not None, cache_enabled=False)

    def eager(x: torch.Tensor) -> dict[str, torch.Tensor]:
        with torch.inference_mode(), autocast():
            return model(x)

    if mode == "eager":
        return eager
    if mode == "cudagraph":
        if device != "cuda":
            raise Skipped("no CUDA")
        static_input = example.clone()
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):  # warm-up off the default stream, as torch.cuda.graph asks
            for _ in range(3):
                eager(static_input)
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            static_output = eager(static_input)

        def replay(x: torch.Tensor) -> dict[str, torch.Tensor]:
            static_input.copy_(x)
            graph.replay()
            return static_output  # overwritten by the next replay: the caller downloads it first
        return replay
    if mode == "compile":
        compiled = torch.compile(model, mode=compile_mode, dynamic=False)

        def run(x: torch.Tensor) -> dict[str, torch.Tensor]:
            with torch.inference_mode(), autocast():
                return compiled(x)
        return run
    raise ValueError(f"unknown mode {mode!r}")


def download(maps: dict[str, torch.Tensor]) -> dict[str, np.ndarray]:
    """The maps on the host as float32 numpy, as TorchEngine returns them."""
    return {k: v.float().cpu().numpy() for k, v in maps.items()}


def measure_variant(name: str, model: torch.nn.Module, codec: DRMCodec, scenes: list[Scene], precision: str,
                    mode: str, settings: Settings) -> list[dict[str, Any]]:
    """One row per scene: stage and total p50/p95 of one configuration, precision and mode."""
    device, size = settings.device, (codec.config.input_width, codec.config.input_height)
    example = letterbox_on_device(scenes[0].image, scenes[0].letterbox(size), device)
    start = time.perf_counter()
    runner = network_runner(model, device, precision, mode, example, settings.compile_mode)
    download(runner(example))  # first call: compilation, cuDNN autotuning
    synchronize(device)
    setup_s = time.perf_counter() - start
    rows = []
    for scene in scenes:
        letterbox = scene.letterbox(size)
        maps = scene.encoded_maps(codec)
        found = len(codec.decode(maps, scene.camera, letterbox))
        stages = [("preprocess", lambda s: letterbox_on_device(s.image, letterbox, device)),
                  ("network", runner),
                  ("download", download),
                  ("decode", lambda _: codec.decode(maps, scene.camera, letterbox))]
        timing = time_stages(stages, scene, settings.repeats, settings.warmup, device)
        rows.append({"config": name, "input": f"{size[0]}x{size[1]}", "precision": precision, "mode": mode,
                     "people": scene.people, "decoded_people": found, "setup_s": setup_s, **timing})
    return rows


def measure_predictor(name: str, model: torch.nn.Module, codec: DRMCodec, scenes: list[Scene],
                      settings: Settings) -> list[dict[str, Any]]:
    """Predictor.predict as the node calls it (TorchEngine with its default precision, letterbox on the device
    on a GPU): a cross-check of the staged figures. Its decoding runs on the random network's maps."""
    predictor = Predictor(TorchEngine(model, settings.device), codec)
    rows = []
    for scene in scenes:
        timing = time_stages([("predict", lambda s: predictor.predict(s.image, s.camera))], scene,
                             settings.repeats, settings.warmup, settings.device)
        rows.append({"config": name, "engine": predictor.description, "people": scene.people,
                     "decoded_people": len(predictor.predict(scene.image, scene.camera)), **timing})
    return rows


def _attempt(record: list[dict[str, Any]], what: dict[str, Any], work: Callable[[], list[dict[str, Any]]],
             into: list[dict[str, Any]]) -> None:
    """Run one variant; its rows go to `into`, its status (ok / skipped: why / failed: error) to `record`."""
    try:
        into.extend(work())
        record.append({**what, "status": "ok"})
    except Skipped as why:
        record.append({**what, "status": f"skipped: {why}"})
    except Exception as err:  # one failing variant (a compiler or capture error) must not end the run
        log.error("%s failed: %s", what, err)
        record.append({**what, "status": f"failed: {type(err).__name__}: {err}",
                       "traceback": traceback.format_exc()[-3000:]})
    finally:
        torch.cuda.empty_cache()  # graphs and compiled code of one variant leave memory to the next (no-op on CPU)


Progress = Callable[[dict[str, Any]], None]


def run_variants(settings: Settings, variants: list[tuple[str, str, str]], cross_check: bool,
                 progress: Progress | None = None) -> dict[str, Any]:
    """(config, precision, mode) variants, plus the Predictor cross-check per configuration when asked.
    Returns {"rows", "predictor", "variants"}; `progress` gets that after every variant (partial results
    survive a phase killed by its time limit)."""
    scenes = make_scenes(settings)
    configs = model_configs(settings)
    result: dict[str, list[dict[str, Any]]] = {"rows": [], "predictor": [], "variants": []}
    for name in dict.fromkeys(c for c, _, _ in variants):
        if name not in configs:
            result["variants"].append({"config": name, "precision": "-", "mode": "-",
                                       "status": f"skipped: ModelConfig has no preset {name!r} here"})
            continue
        config, size = configs[name]
        torch.manual_seed(0)
        model = build_model(config).to(settings.device)
        calibrate_batchnorm(model, letterbox_on_device(scenes[0].image, scenes[0].letterbox(size), settings.device))
        codec = DRMCodec(CodecConfig(input_width=size[0], input_height=size[1]))
        for _, precision, mode in [v for v in variants if v[0] == name]:
            log.info("latency: %s %s %s", name, precision, mode)
            _attempt(result["variants"], {"config": name, "precision": precision, "mode": mode},
                     lambda: measure_variant(name, model, codec, scenes, precision, mode, settings), result["rows"])
            if progress:
                progress(result)
        if cross_check:
            _attempt(result["variants"], {"config": name, "precision": "default", "mode": "predictor"},
                     lambda: measure_predictor(name, model, codec, scenes, settings), result["predictor"])
        del model
    return result


def run_latency(settings: Settings, progress: Progress | None = None) -> dict[str, Any]:
    """Eager, every configuration and precision, and the Predictor cross-check."""
    variants = [(c, p, "eager") for c in settings.configs for p in settings.precisions]
    return run_variants(settings, variants, True, progress)


def run_cudagraph(settings: Settings, progress: Progress | None = None) -> dict[str, Any]:
    """CUDA graphs of the eager network, every configuration and precision (a phase of its own: a failed
    capture can leave the CUDA context unusable)."""
    if settings.device != "cuda":
        raise Skipped("no CUDA")
    variants = [(c, p, "cudagraph") for c in settings.configs for p in settings.precisions]
    return run_variants(settings, variants, False, progress)


def run_compile(settings: Settings, progress: Progress | None = None) -> dict[str, Any]:
    """torch.compile of the settings' "config:precision" pairs (its own phase: compiling takes a minute)."""
    if not settings.compile_configs:
        raise Skipped("no configurations to compile (tiny mode)")
    variants = [(*pair.split(":"), "compile") for pair in settings.compile_configs]
    return run_variants(settings, variants, False, progress)
