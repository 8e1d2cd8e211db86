"""A walk recorded with ground-truth velocities, replayed: speed per track, speed and heading errors against the
truth, and the bird's-eye picture in the report."""
from __future__ import annotations

import json

from drm_ros.bag.record import RecordOptions, record
from drm_ros.bag.replay import main as replay_main


def test_replay_reports_speed_heading_and_draws_the_birds_eye_view(tmp_path, capsys):
    rec = record("synthetic-walk", tmp_path / "walk", RecordOptions(start_time_s=500.0, synthetic_frames=8,
                                                                    walk_speed_m_s=(1.0, 2.0)))
    assert rec["ground_truth_frames"] == 8
    assert replay_main([str(tmp_path / "walk"), "--out", str(tmp_path / "out"), "--engine", "torch",
                        "--input-size", "256", "160", "--device", "cpu", "--samples", "2"]) == 0, \
        capsys.readouterr().err
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    speeds = summary["tracking"]["speed_m_s_per_track"]
    assert set(speeds) == {str(i) for f in summary["per_frame"] for i in f["ids"]}
    motion = summary["motion"]  # the ground truth carries velocities: the errors are measured
    assert set(motion) >= {"observations", "speed_error_m_s_median", "heading_error_deg_median", "per_track"}
    for row in motion["per_track"].values():
        assert 1.0 <= row["gt_speed_m_s"] <= 2.0
    report = (tmp_path / "out" / "report.md").read_text()
    assert "## Velocity against ground truth" in report and "Speed per track" in report
    assert "(birds_eye.png)" in report and (tmp_path / "out" / "birds_eye.png").stat().st_size > 5000
