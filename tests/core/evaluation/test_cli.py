"""The evaluation command runs a checkpoint over held-out synthetic frames and writes the report."""
from __future__ import annotations

import json

import pytest
import torch

from drm_core.checkpoint import save_checkpoint
from drm_core.codec import CodecConfig
from drm_core.evaluation.cli import main
from drm_core.model import ModelConfig, build_model


def test_eval_cli_writes_the_report(tmp_path, capsys):
    torch.manual_seed(0)
    model = save_checkpoint(tmp_path / "m.pt", build_model(ModelConfig.small()),
                            CodecConfig(input_width=128, input_height=96))
    assert main(["--model", str(model), "--device", "cpu", "--count", "2", "--out", str(tmp_path / "r")]) == 0
    metrics = json.loads((tmp_path / "r" / "mupots_metrics.json").read_text())
    assert metrics["num_annotated"] > 0 and 0.0 <= metrics["all_people"]["pck_rel"] <= 100.0
    assert metrics["scoring"] == "metric" and metrics["joint_set"] == "mpi15"  # synthetic ground truth is metric
    report = (tmp_path / "r" / "mupots_report.md").read_text()
    assert report.count("DRM") >= 1 and "Scoring: no bone rescaling" in report
    assert (tmp_path / "r" / "mupots_pck_curve.png").stat().st_size > 1000


def test_eval_cli_fails_clearly_on_a_missing_model(tmp_path, capsys):
    assert main(["--model", str(tmp_path / "missing.pt"), "--count", "1"]) == 1
    assert "missing.pt" in capsys.readouterr().err


def test_eval_cli_refuses_official_scoring_without_mupots_joints(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--dataset", "synthetic-val", "--scoring", "official", "--count", "1"])
    assert exit_info.value.code != 0
    assert "17-joint" in capsys.readouterr().err


def test_eval_cli_scores_mupots_officially_and_says_so(tmp_path):
    from tests.core.data.test_readers import _coco_style_3d  # the MuPoTS json fixture in the file's own format

    path, root, _ = _coco_style_3d(tmp_path, mupots=True, univ=True)
    torch.manual_seed(0)
    model = save_checkpoint(tmp_path / "m.pt", build_model(ModelConfig.small()),
                            CodecConfig(input_width=128, input_height=96))
    assert main(["--model", str(model), "--device", "cpu", "--dataset", "mupots", "--annotations", str(path),
                 "--image-root", str(root), "--out", str(tmp_path / "r")]) == 0
    metrics = json.loads((tmp_path / "r" / "mupots_metrics.json").read_text())
    assert metrics["scoring"] == "official" and metrics["joint_set"] == "mupots17"
    assert metrics["num_annotated"] == 2  # 3 people in the file, 1 marked invalid
    assert metrics["gt_source"] == "univ_annot3" and "spine = midpoint of pelvis and thorax" in metrics["pred_source"]
    report = (tmp_path / "r" / "mupots_report.md").read_text()
    assert "Scoring: official MuPoTS-3D" in report and "Ground-truth 3D: univ_annot3." in report
