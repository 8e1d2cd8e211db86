"""Real-image metrics: OKS, recall, false positives, hip-centred MPJPE and mid-hip error, each on
cases small enough to compute by hand."""
from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from drm_core.camera import Camera, project
from drm_core.evaluation import real_cli, real_report
from drm_core.evaluation.real_images import (LIMB_JOINTS, distance_bin, evaluate_real, gt_areas_px2,
                                             limb_joints, match_by_oks, oks, score_frame, summarise)
from drm_core.evaluation.real_report import SheetFrame
from drm_core.skeleton import COCO17, MPI15
from drm_core.pose_types import Poses3D, Sample
from drm_core.data.template_scenes import TEMPLATE_M

W, H = 640, 480
CAMERA = Camera(np.array([[500.0, 0.0, 320.0], [0.0, 500.0, 240.0], [0.0, 0.0, 1.0]]), W, H)
LIMBS = [MPI15.index(n) for n in LIMB_JOINTS]


def _sample(uv: np.ndarray, xyz: np.ndarray | None, vis: np.ndarray | None = None, **meta) -> Sample:
    vis = np.full(uv.shape[:2], 2, np.int8) if vis is None else vis
    return Sample(np.zeros((H, W, 3), np.uint8), CAMERA, uv, xyz, vis, "test", "frame0", dict(meta))


def _poses(uv: np.ndarray, xyz: np.ndarray | None = None, scores=None) -> Poses3D:
    xyz = np.zeros((*uv.shape[:2], 3)) if xyz is None else xyz
    scores = np.linspace(0.9, 0.5, len(uv)) if scores is None else np.asarray(scores, float)
    return Poses3D(xyz, uv, np.ones(uv.shape[:2]), scores, MPI15.joint_names)


def _person_uv(x0: float, y0: float) -> np.ndarray:
    """(15, 2) pixels of a person whose joints lie on a grid starting at (x0, y0), 10 px apart."""
    return np.stack([x0 + 10.0 * (np.arange(15) % 3), y0 + 10.0 * (np.arange(15) // 3)], axis=1)


def test_oks_by_hand():
    # One person, box 100 x 100 (area 10000), 12 limb joints labelled; the prediction is exact but for the left
    # shoulder, 10 px off. Shoulder sigma 0.079: e = 10^2 / (2 * 10000 * (2 * 0.079)^2) = 100 / 499.28
    # = 0.200288; exp(-e) = 0.818495; OKS = (11 + 0.818495) / 12 = 0.984875.
    gt = _person_uv(100, 100)[None]
    pred = gt.copy()
    pred[0, MPI15.index("l_shoulder"), 0] += 10.0
    sample = _sample(gt, None, boxes_xywh=[[50, 50, 100, 100]])
    frame = score_frame(sample, _poses(pred))
    assert frame.people[0].oks == pytest.approx(0.984875, abs=1e-6)
    assert frame.people[0].pred_index == 0 and frame.false_positives == 0
    # Unlabelled joints do not count: with only the shoulder and the right knee labelled, OKS = (0.818495 + 1) / 2.
    vis = np.zeros((1, 15), np.int8)
    vis[0, [MPI15.index("l_shoulder"), MPI15.index("r_knee")]] = 2
    frame = score_frame(_sample(gt, None, vis, boxes_xywh=[[50, 50, 100, 100]]), _poses(pred))
    assert frame.people[0].oks == pytest.approx((0.818495 + 1) / 2, abs=1e-6)


def test_area_is_the_box_else_the_labelled_joints_box():
    uv = _person_uv(100, 100)[None]  # joints span 20 x 40 px
    assert gt_areas_px2(_sample(uv, None)) == pytest.approx([800.0])
    assert gt_areas_px2(_sample(uv, None, boxes_xywh=[[0, 0, 30, 50]])) == pytest.approx([1500.0])
    assert gt_areas_px2(_sample(uv, None, boxes_xywh=[[0, 0, 0, 0]])) == pytest.approx([800.0])  # empty box


def test_greedy_matching_by_score_counts_duplicates_and_strays_as_false_positives():
    person_a, person_b = _person_uv(100, 100), _person_uv(400, 100)
    sample = _sample(np.stack([person_a, person_b]), None, boxes_xywh=[[90, 90, 40, 60], [390, 90, 40, 60]])
    near_a = person_a + np.array([3.0, 0.0])  # a little off, but the highest score: COCO gives it person A
    stray = _person_uv(250, 350)  # nobody there
    exact_a = person_a.copy()  # better for A but lower score: a duplicate, so a false positive
    frame = score_frame(sample, _poses(np.stack([near_a, stray, exact_a]), scores=[0.9, 0.8, 0.7]))
    a, b = frame.people
    assert a.pred_index == 0 and 0.5 <= a.oks < 1.0
    assert b.pred_index == -1  # a miss
    assert frame.false_positives == 2
    result = summarise([frame])
    assert (result.gt_people, result.matched, result.recall) == (2, 1, 0.5)
    assert (result.false_positives, result.fp_per_image) == (2, 2.0)


def test_match_needs_oks_of_at_least_one_half():
    sim = np.array([[0.49, 0.5]])
    assert match_by_oks(sim, [0.9, 0.1]).tolist() == [1]
    assert match_by_oks(np.array([[0.49]]), [0.9]).tolist() == [-1]
    assert match_by_oks(np.zeros((0, 2)), [0.9, 0.1]).tolist() == []


def _person_3d(root: np.ndarray) -> np.ndarray:
    return root + TEMPLATE_M


def test_hip_centred_mpjpe_and_mid_hip_error_by_hand():
    # Ground truth: the template person with its mid-hip at (0, 0, 5) m (5 m from the camera). The prediction is
    # that person moved by (0.3, 0, 0.4) m (a mid-hip error of 0.5 m) with its left wrist 0.12 m further back:
    # centred on each mid-hip, only the wrist differs, so the MPJPE over 12 joints is 120 / 12 = 10 mm.
    mid_hip = TEMPLATE_M[[MPI15.index("l_hip"), MPI15.index("r_hip")]].mean(axis=0)
    gt_xyz = _person_3d(np.array([0.0, 0.0, 5.0]) - mid_hip)[None]
    gt_uv = project(gt_xyz[0], CAMERA)[None]
    pred_xyz = gt_xyz + np.array([0.3, 0.0, 0.4])
    pred_xyz[0, MPI15.index("l_wrist"), 2] += 0.12
    frame = score_frame(_sample(gt_uv, gt_xyz), _poses(gt_uv.copy(), pred_xyz))
    person = frame.people[0]
    assert person.has_3d and person.pred_index == 0
    assert person.mpjpe_mm == pytest.approx(10.0, abs=1e-9)
    assert person.root_error_m == pytest.approx(0.5, abs=1e-12)
    assert person.distance_m == pytest.approx(5.0, abs=1e-12)
    result = summarise([frame])
    assert result.mpjpe_mm_median == pytest.approx(10.0)
    assert result.root_error_by_distance["5-7 m"] == {"people": 1, "median_m": pytest.approx(0.5),
                                                      "mean_m": pytest.approx(0.5)}
    assert result.root_error_by_distance["3-7 m"]["people"] == 1
    assert result.root_error_by_distance["<3 m"]["people"] == 0
    assert math.isnan(result.root_error_by_distance["<3 m"]["median_m"])


def test_joints_without_a_3d_label_are_left_out_of_mpjpe():
    # The left wrist's 3D is (0, 0, 0), the "not triangulated" mark: only the other 11 joints count, and the
    # prediction, exact on those, scores 0 mm however far its wrist is.
    gt_xyz = _person_3d(np.array([0.0, 0.0, 4.0]))[None]
    gt_uv = project(gt_xyz[0], CAMERA)[None]
    pred_xyz = gt_xyz.copy()
    pred_xyz[0, MPI15.index("l_wrist")] += 1.0
    gt_xyz[0, MPI15.index("l_wrist")] = 0.0
    person = score_frame(_sample(gt_uv, gt_xyz), _poses(gt_uv.copy(), pred_xyz)).people[0]
    assert person.has_3d and person.mpjpe_mm == pytest.approx(0.0, abs=1e-9)
    gt_xyz[0, MPI15.index("r_hip")] = 0.0  # a hip without 3D: no centre, so no 3D score at all
    assert not score_frame(_sample(gt_uv, gt_xyz), _poses(gt_uv.copy(), pred_xyz)).people[0].has_3d


def test_loose_match_gives_3d_errors_for_a_person_missed_at_oks_one_half():
    # Every 2D joint 30 px to the right (OKS 0.32 for this person): missed at 0.5, matched loosely at 0.1. The 3D
    # is the truth moved by 0.3 m: no error once centred on the mid-hip, a mid-hip error of 0.3 m.
    gt_xyz = _person_3d(np.array([0.0, 0.0, 4.0]))[None]
    gt_uv = project(gt_xyz[0], CAMERA)[None]
    frame = score_frame(_sample(gt_uv, gt_xyz), _poses(gt_uv + np.array([30.0, 0.0]),
                                                             gt_xyz + np.array([0.3, 0.0, 0.0])))
    person = frame.people[0]
    assert person.pred_index == -1 and math.isnan(person.mpjpe_mm) and frame.false_positives == 1
    assert person.loose_mpjpe_mm == pytest.approx(0.0, abs=1e-9)
    assert person.loose_root_error_m == pytest.approx(0.3)
    result = summarise([frame])
    assert result.matched_3d == 0 and result.loose_3d["people"] == 1
    assert result.loose_3d["root_error_m_median_3_7"] == pytest.approx(0.3)


def test_a_missed_person_with_3d_has_no_3d_error_but_counts_against_recall():
    gt_xyz = _person_3d(np.array([0.0, 0.0, 4.0]))[None]
    gt_uv = project(gt_xyz[0], CAMERA)[None]
    result = summarise([score_frame(_sample(gt_uv, gt_xyz), Poses3D.empty(MPI15.joint_names))])
    assert (result.recall, result.people_3d, result.matched_3d) == (0.0, 1, 0)
    assert math.isnan(result.mpjpe_mm_median)


def test_3d_needs_both_hips_labelled():
    gt_xyz = _person_3d(np.array([0.0, 0.0, 4.0]))[None]
    gt_uv = project(gt_xyz[0], CAMERA)[None]
    vis = np.full((1, 15), 2, np.int8)
    vis[0, MPI15.index("r_hip")] = 0
    frame = score_frame(_sample(gt_uv, gt_xyz, vis), _poses(gt_uv.copy(), gt_xyz.copy()))
    assert frame.people[0].pred_index == 0 and not frame.people[0].has_3d


def test_people_without_a_labelled_limb_joint_are_left_out():
    uv = np.stack([_person_uv(100, 100), _person_uv(400, 100)])
    vis = np.full((2, 15), 2, np.int8)
    vis[1, LIMBS] = 0  # only neck, head top and pelvis labelled
    frame = score_frame(_sample(uv, None, vis), _poses(uv[:1].copy()))
    assert [p.gt_index for p in frame.people] == [0]


def test_predictions_in_coco17_are_read_by_joint_name():
    gt = _person_uv(100, 100)[None]
    coco_uv = np.zeros((1, 17, 2))
    for j, name in enumerate(COCO17.joint_names):
        if name in MPI15.joint_names:
            coco_uv[0, j] = gt[0, MPI15.index(name)]
    prediction = Poses3D(np.zeros((1, 17, 3)), coco_uv, np.ones((1, 17)), np.ones(1), COCO17.joint_names)
    assert score_frame(_sample(gt, None), prediction).people[0].oks == pytest.approx(1.0)
    assert limb_joints(coco_uv, COCO17.joint_names).shape == (1, 12, 2)


def test_distance_bins():
    assert [distance_bin(d) for d in (2.99, 3.0, 5.5, 7.0, 12.0)] == ["<3 m", "3-5 m", "5-7 m", ">=7 m", ">=7 m"]


def test_evaluate_real_scores_every_frame_and_groups_by_source():
    gt_xyz = _person_3d(np.array([0.2, 0.0, 6.0]))[None]
    gt_uv = project(gt_xyz[0], CAMERA)[None]
    samples = [_sample(gt_uv, gt_xyz, source="cam1"), _sample(gt_uv, None, source="film")]
    seen = []
    result, frames = evaluate_real(lambda s: _poses(s.joints_2d_px.copy(), gt_xyz.copy()), samples,
                                   on_frame=lambda i, *_: seen.append(i), progress=False)
    assert seen == [0, 1] and len(frames) == 2
    assert (result.recall, result.fp_per_image, result.mpjpe_mm_median) == (1.0, 0.0, pytest.approx(0.0))
    assert set(result.by_source) == {"cam1", "film"}
    assert result.by_source["film"].people_3d == 0 and result.by_source["cam1"].matched_3d == 1


def _coco_folder(folder: Path) -> Path:
    """A two-frame COCO-format data set: a person in each frame, one frame with two."""
    folder.mkdir()
    rng = np.random.default_rng(0)
    images, annotations = [], []
    for i, people in enumerate([[(150, 100)], [(100, 80), (450, 120)]]):
        cv2.imwrite(str(folder / f"f{i}.png"), rng.integers(0, 256, (H, W, 3), dtype=np.uint8))
        images.append({"id": i, "file_name": f"f{i}.png", "width": W, "height": H})
        for x0, y0 in people:
            kps = np.zeros((17, 3))
            for j, name in enumerate(COCO17.joint_names):
                kps[j] = [x0 + 10 * (j % 3), y0 + 15 * (j // 3), 2]
            annotations.append({"id": len(annotations), "image_id": i, "keypoints": kps.ravel().tolist(),
                                "num_keypoints": 17, "iscrowd": 0})
    ann = folder / "real_val.json"
    ann.write_text(json.dumps({"images": images, "annotations": annotations}))
    return ann


def test_cli_writes_json_markdown_and_contact_sheet(tmp_path, capsys):
    ann = _coco_folder(tmp_path / "data")
    out = tmp_path / "out"
    rc = real_cli.main(["--data", str(ann.parent), "--reader", "coco", "--engine", "torch", "--device", "cpu",
                        "--out", str(out)])
    assert rc == 0, capsys.readouterr().err
    report = json.loads((out / "real_eval.json").read_text())
    assert report["result"]["frames"] == 2 and report["result"]["gt_people"] == 3
    assert len(report["frames"]) == 2
    assert report["result"]["people_3d"] == 0 and report["result"]["mpjpe_mm_median"] is None  # no 3D: no MPJPE
    md = (out / "real_eval.md").read_text()
    assert "recall at OKS >= 0.5" in md and "contact_sheet.png" in md
    sheet = cv2.imread(str(out / "contact_sheet.png"))
    assert sheet is not None and sheet.shape[1] == 2 * (320 + 4)  # two frames side by side


def test_cli_refuses_bad_data_with_a_message(tmp_path, capsys):
    assert real_cli.main(["--data", str(tmp_path / "nowhere"), "--reader", "coco"]) == 1
    assert "no such file or folder" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert real_cli.main(["--data", str(tmp_path / "empty"), "--reader", "coco"]) == 1
    assert "expected one annotation json" in capsys.readouterr().err
    bad = tmp_path / "bad_val.json"
    bad.write_text("{\"images\": []")
    assert real_cli.main(["--data", str(bad), "--reader", "coco"]) == 1
    assert str(bad) in capsys.readouterr().err


def test_contact_sheet_draws_truth_green_and_predictions_red():
    image = np.zeros((H, W, 3), np.uint8)
    gt = _person_uv(100, 100)[None]
    pred = _person_uv(400, 100)[None]
    frame = SheetFrame(image, gt, np.full((1, 15), 2), pred, np.array([True]), "test")
    tile = real_report._tile(frame, W)  # full size: pixels of the tile are pixels of the image
    u, v = gt[0, MPI15.index("l_knee")].astype(int)
    assert tuple(tile[v, u]) == real_report.GT_RGB
    u, v = pred[0, MPI15.index("l_knee")].astype(int)
    assert tuple(tile[v, u]) == real_report.PRED_RGB
