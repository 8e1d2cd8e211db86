"""Training on synthetic scenes: the loss goes down, resume continues exactly, configs load and fail clearly."""
from __future__ import annotations

from pathlib import Path
import argparse
import dataclasses
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
import yaml

from drm_core.checkpoint import load_checkpoint
from drm_core.codec import CodecConfig, DRMCodec
from drm_core.data.registry import DatasetSpec
from drm_core.losses import LossWeights
from drm_core.model import ModelConfig
from drm_core.train.config import TrainConfig, load_config
from drm_core.train.encoded import EncodedDataset
from drm_core.train.trainer import train, warmup_linear_decay
from tests.paths import ROOT



def _config(tmp_path: Path, **changes) -> TrainConfig:
    synthetic = {"name": "synthetic", "length": 4, "people": [1, 2], "sizes": [[160, 120]]}
    base = TrainConfig(
        name="tiny", datasets_3d=[DatasetSpec.from_mapping({**synthetic, "seed": 1})],
        datasets_2d=[DatasetSpec.from_mapping({**synthetic, "seed": 2})],
        model=dataclasses.replace(ModelConfig.small(), adaptive_blocks=1),
        codec=CodecConfig(input_width=128, input_height=96), augment=None, epochs=2, batch_size=2,
        warmup_epochs=0.5, workers=0, amp=False, out_dir=str(tmp_path / "run"))
    return dataclasses.replace(base, **changes)


def test_training_lowers_the_loss(tmp_path):
    # One batch of two scenes, seen every step: the loss must fall on it.
    spec = DatasetSpec.from_mapping({"name": "synthetic", "length": 2, "people": [1, 2], "sizes": [[160, 120]]})
    config = _config(tmp_path, epochs=15, lr=2e-3, datasets_3d=[spec], datasets_2d=[])
    result = train(config, device="cpu")
    assert result.steps == 15 and result.checkpoint.is_file()
    first, last = np.mean(result.losses[:3]), np.mean(result.losses[-3:])
    assert last < 0.75 * first, f"loss went from {first:.4f} to {last:.4f}"


def test_resume_reproduces_the_next_step_exactly(tmp_path):
    straight = train(_config(tmp_path / "a"), device="cpu")
    assert straight.steps == 8  # 2 epochs x 4 batches (4 3D samples, one per half-batch of 2)
    first = train(_config(tmp_path / "b", max_steps=4), device="cpu")  # stopped at the end of epoch 1
    resumed = train(_config(tmp_path / "b"), resume=first.checkpoint, device="cpu")
    assert first.losses == straight.losses[:4]
    assert resumed.losses == straight.losses[4:]


def test_init_from_starts_a_new_schedule_from_a_checkpoints_weights(tmp_path):
    checkpoint = train(_config(tmp_path / "a", max_steps=2), device="cpu").checkpoint
    trained = load_checkpoint(checkpoint)

    def weights_after_one_tiny_step(**changes) -> dict[str, torch.Tensor]:
        result = train(_config(tmp_path / "b", max_steps=1, lr=1e-12, **changes), device="cpu")
        state = load_checkpoint(result.checkpoint)
        assert state["step"] == 1  # a new schedule, not a resumed one
        return {k: v for k, v in state["model"].items() if v.is_floating_point() and "running" not in k}

    started = weights_after_one_tiny_step(init_from=str(checkpoint))
    fresh = weights_after_one_tiny_step()
    assert any(not torch.allclose(fresh[k], trained["model"][k]) for k in fresh)
    for key, value in started.items():
        torch.testing.assert_close(value, trained["model"][key], atol=1e-6, rtol=0, msg=key)


def test_torchrun_with_two_processes_splits_the_data_between_ranks(tmp_path):
    # DistributedDataParallel over gloo on the CPU: the path the paper's 8-GPU schedule takes with nccl.
    config = tmp_path / "ddp.yaml"
    synthetic = {"name": "synthetic", "length": 4, "people": [1, 2], "sizes": [[160, 120]]}
    config.write_text(yaml.safe_dump({
        "name": "ddp", "model": {"preset": "small", "adaptive_blocks": 1},
        "codec": {"input_width": 128, "input_height": 96}, "augment": None, "epochs": 2, "batch_size": 2,
        "warmup_epochs": 0.5, "workers": 0, "amp": False, "out_dir": str(tmp_path / "run"),
        "datasets_3d": [{**synthetic, "seed": 1}], "datasets_2d": [{**synthetic, "seed": 2}]}))
    env = dict(os.environ, OMP_NUM_THREADS="1")
    run = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                          "-m", "drm_core.train", str(config), "--device", "cpu"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    state = load_checkpoint(tmp_path / "run" / "last.pt")
    # One process alone takes 8 steps (see the resume test); two ranks share each epoch's batches: 4 each.
    assert state["step"] == 4 and state["epoch"] == 2
    assert run.stdout.count("4 steps, last loss") == 2  # both ranks trained and finished


def test_mixed_batches_carry_no_3d_for_the_2d_half(tmp_path):
    config = _config(tmp_path)
    codec = DRMCodec(config.codec)
    from drm_core.data.registry import open_dataset
    two_d = EncodedDataset(open_dataset(config.datasets_2d[0]), codec, None, drop_3d=True)
    _, targets = two_d[0]
    assert float(targets["offset_weight"].sum()) > 0
    for key in ("root_depth_weight", "rel_depth_weight", "dapl_weight"):
        assert float(targets[key].sum()) == 0.0, key


def test_photometric_config_changes_the_pixels_of_training_samples_only(tmp_path):
    from drm_core.data.photometric import PhotometricConfig
    from drm_core.data.registry import open_dataset
    config = _config(tmp_path)
    codec = DRMCodec(config.codec)
    samples = open_dataset(config.datasets_3d[0])
    plain = EncodedDataset(samples, codec, None)
    noisy = EncodedDataset(samples, codec, None, photometric_config=dataclasses.replace(
        PhotometricConfig.off(), noise_prob=1.0, occluder_prob=0.0))
    (image_a, targets_a), (image_b, targets_b) = plain[0], noisy[0]
    assert not torch.equal(image_a, image_b)
    assert torch.equal(targets_a["offsets"], targets_b["offsets"])
    loaded = load_config(ROOT / "experiments" / "real_mix_effnet.yaml")
    assert loaded.photometric == PhotometricConfig()


def test_schedule_warms_up_then_decays_to_zero():
    f = warmup_linear_decay(10, 110)
    assert f(0) == pytest.approx(0.1) and f(9) == pytest.approx(1.0)
    assert f(60) == pytest.approx(0.5) and f(110) == 0.0


def test_shipped_experiment_configs_load():
    for path in sorted((ROOT / "experiments").glob("*.yaml")):
        config = load_config(path)
        assert config.datasets_3d and config.lr == 1e-3


def test_bad_config_names_the_file_and_the_key(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("name: x\ndatasets_3d: [{name: synthetic}]\nbatch_sise: 4\n")
    with pytest.raises(ValueError, match=r"bad.yaml.*batch_sise"):
        load_config(path)


def _script(name: str):
    import importlib.util
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_ablation_rows_switch_the_fixes_by_config(tmp_path):
    ablation = _script("ablation")
    args = argparse.Namespace(input=(256, 160), steps=10, batch=8, workers=0, seed=0, out=tmp_path)
    configs = {r.name: ablation.train_config(r, args) for r in ablation.rows(pdqm_full=False)}
    today, fixed = configs["today's code"], configs["+ radii"]
    assert (today.codec.reference_focal_px, today.codec.radius_fraction, today.codec.nearest_owner,
            today.loss.dapl_unit_m) == (1000.0, 0.0, False, 1.0)  # the older defaults
    assert (fixed.codec.reference_focal_px, fixed.loss.dapl_unit_m) == (CodecConfig().reference_focal_px,
                                                                        LossWeights().dapl_unit_m)
    assert len({c.seed for c in configs.values()}) == 1 and len({c.batch_size for c in configs.values()}) == 1


def test_ablation_tiny_run_trains_scores_and_writes_its_table(tmp_path):
    ablation = _script("ablation")
    assert ablation.main(["--tiny", "--input", "128", "96", "--only", "+ radii", "+ NMS", "--out", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "ablation.json").read_text())
    assert list(report["rows"]) == ["+ radii", "+ NMS"]
    radii, nms = report["rows"]["+ radii"], report["rows"]["+ NMS"]
    assert nms["checkpoint"] == radii["checkpoint"] and nms["train_seconds"] == 0.0  # decoding-only row
    assert load_checkpoint(radii["checkpoint"])["step"] == 2
    for row in (radii, nms):
        assert all(np.isfinite(v) for v in row["scores"].values())
    assert "| + NMS |" in (tmp_path / "ablation.md").read_text()


def test_paper_configs_follow_section_4_1():
    for name in ("paper_muco", "paper_panoptic"):
        config = load_config(ROOT / "experiments" / f"{name}.yaml")
        assert (config.epochs, config.batch_size, config.lr) == (15, 8, 1e-3)
        assert config.model.offset_group_channels == 64  # PDQM's (n-1) 64-channel features
