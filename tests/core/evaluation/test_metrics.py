"""The benchmark metrics on hand-computed cases: matching, 3DPCK / AUC, bone rescaling, Panoptic, report."""
from __future__ import annotations

import json

import numpy as np
import pytest

from drm_core.camera import Camera, project
from drm_core.evaluation import FrameRecord, evaluate, evaluate_mupots, evaluate_panoptic, write_report
from drm_core.evaluation.matching import match_mupots, match_panoptic
from drm_core.evaluation.mupots import EVAL_JOINTS, mpi15_to_mupots17, rescale_to_gt_bones, scored_joints
from drm_core.evaluation.panoptic import activity_of
from drm_core.evaluation.report import mupots_markdown
from drm_core.skeleton import MPI15, MUPOTS17
from drm_core.pose_types import Poses3D, Sample

from drm_core.data.template_scenes import TEMPLATE_M

CAMERA = Camera(np.array([[1000.0, 0, 960], [0, 1000, 540], [0, 0, 1]]), 1920, 1080)
ROOT = MPI15.root
FULL_AUC = 100.0 * 30 / 31  # zero error still fails the 0 mm threshold (strict "<", as the official code)


def _people(xs_m: list[float], depth_m: float = 4.0) -> tuple[np.ndarray, np.ndarray]:
    """Ground truth (P, 15, 3) metres and (P, 15, 2) pixels of template people side by side."""
    joints = np.stack([TEMPLATE_M + [x, 0.0, depth_m] for x in xs_m])
    uv = project(joints.reshape(-1, 3), CAMERA).reshape(len(xs_m), -1, 2)
    return joints, uv


def _record(gt: np.ndarray, uv: np.ndarray, pred: np.ndarray, pred_uv: np.ndarray | None = None,
            sequence: str = "TS1", **kw) -> FrameRecord:
    return FrameRecord(sequence, pred, uv if pred_uv is None else pred_uv, gt, uv, **kw)


def test_perfect_prediction_scores_100_everywhere_and_auc_30_of_31():
    gt, uv = _people([-1.0, 1.0])
    result = evaluate_mupots([_record(gt, uv, gt.copy()), _record(gt, uv, gt.copy(), sequence="TS2")])
    for people in (result.matched, result.all_people):
        assert people.pck_rel == pytest.approx(100.0)
        assert people.pck_abs == pytest.approx(100.0)
        assert people.pck_root == pytest.approx(100.0)
        assert people.auc_rel == pytest.approx(FULL_AUC)
        assert people.auc_abs == pytest.approx(FULL_AUC)
    assert result.recall == 1.0 and result.num_matched == 4
    assert result.mpjpe_abs_mm == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("rescale", [True, False])
@pytest.mark.parametrize("offset_mm, expected_abs", [(100.0, 100.0), (200.0, 0.0)])
def test_constant_offset_moves_absolute_pck_only(offset_mm, expected_abs, rescale):
    gt, uv = _people([0.0])
    pred = gt + np.array([0.6, 0.0, 0.8]) * offset_mm / 1000.0  # |(0.6, 0, 0.8)| = 1
    result = evaluate_mupots([_record(gt, uv, pred)], rescale_bones=rescale)
    assert result.matched.pck_abs == pytest.approx(expected_abs)
    assert result.matched.pck_root == pytest.approx(expected_abs)
    assert result.matched.pck_rel == pytest.approx(100.0)
    assert result.root_error_mm == pytest.approx(offset_mm)


def test_half_of_the_joints_wrong_gives_50():
    gt, uv = _people([0.0])
    pred = gt.copy()
    wrong = EVAL_JOINTS[::2]  # 7 of the 14 evaluated joints
    assert len(wrong) == 7
    pred[0, wrong, 0] += 0.2
    result = evaluate_mupots([_record(gt, uv, pred)], rescale_bones=False)
    assert result.matched.pck_rel == pytest.approx(50.0)
    assert result.matched.pck_abs == pytest.approx(50.0)
    assert result.matched.pck_root == pytest.approx(100.0)


def test_auc_of_a_constant_error():
    gt, uv = _people([0.0])
    result = evaluate_mupots([_record(gt, uv, gt + [0.0, 0.0, 0.072])], rescale_bones=False)
    # 72 mm passes the thresholds 75, 80, ..., 150: 16 of 31.
    assert result.matched.auc_abs == pytest.approx(100.0 * 16 / 31)
    assert result.matched.auc_rel == pytest.approx(FULL_AUC)
    assert result.pck_abs_curve[14] == 0.0 and result.pck_abs_curve[15] == 100.0

    pred = gt.copy()
    pred[0, EVAL_JOINTS, 2] += 0.072  # every joint but the root: relative error 72 mm too
    result = evaluate_mupots([_record(gt, uv, pred)], rescale_bones=False)
    assert result.matched.auc_rel == pytest.approx(100.0 * 16 / 31)


def test_missed_person_counts_in_all_people_only_and_sequences_are_averaged():
    gt1, uv1 = _people([0.0])
    gt2, uv2 = _people([-1.0, 1.0])
    records = [_record(gt1, uv1, gt1.copy(), sequence="TS1"),
               _record(gt2, uv2, gt2[:1].copy(), pred_uv=uv2[:1], sequence="TS2")]
    result = evaluate_mupots(records)
    assert result.matched.pck_rel == pytest.approx(100.0)
    assert result.matched.pck_abs == pytest.approx(100.0)
    # TS1: 100, TS2: 1 of 2 people -> 50; the mean is over sequences (75), not over people (66.7).
    assert result.all_people.pck_rel == pytest.approx(75.0)
    assert result.all_people.pck_abs == pytest.approx(75.0)
    assert result.per_sequence["TS2"]["all_pck_rel"] == pytest.approx(50.0)
    assert result.recall == pytest.approx(2 / 3)


def test_invalid_ground_truth_people_are_not_counted():
    gt, uv = _people([-1.0, 1.0])
    record = _record(gt, uv, gt[:1].copy(), pred_uv=uv[:1], gt_valid=np.array([True, False]))
    result = evaluate_mupots([record])
    assert result.num_annotated == 1
    assert result.all_people.pck_rel == pytest.approx(100.0)


def test_mupots_matching_finds_shuffled_people_and_ignores_distractors():
    _, uv = _people([-1.5, 0.0, 1.5])
    _, far = _people([4.0])
    perm = np.array([2, 0, 1])
    preds = np.concatenate([far, uv[perm] + 5.0])  # a distractor first, then the people shuffled
    matching = match_mupots(uv, preds)
    np.testing.assert_array_equal(preds[matching], uv + 5.0)
    np.testing.assert_array_equal(matching, [2, 3, 1])


def test_mupots_matching_box_is_40_px_in_both_axes_strictly():
    uv = np.round(_people([0.0])[1])  # whole pixels: the 40 px edge is exact
    assert match_mupots(uv, uv + [39.0, -39.0])[0] == 0
    assert match_mupots(uv, uv + [40.0, 0.0])[0] == -1
    assert match_mupots(uv, uv + [0.0, 41.0])[0] == -1


def test_mupots_matching_prefers_more_joints_and_ignores_head_top_and_pelvis():
    _, uv = _people([0.0])
    few = uv + 100.0
    few[0, [0, 3, 4]] = uv[0, [0, 3, 4]]  # 3 joints inside the box
    many = uv + 100.0
    many[0, [5, 6, 7, 8, 9]] = uv[0, [5, 6, 7, 8, 9]]  # 5 joints inside
    assert match_mupots(uv, np.concatenate([few, many]))[0] == 1
    only_unmatched_joints = uv + 100.0
    only_unmatched_joints[0, [MPI15.index("head_top"), ROOT]] = uv[0, [MPI15.index("head_top"), ROOT]]
    assert match_mupots(uv, only_unmatched_joints)[0] == -1
    at_origin = np.zeros_like(uv)  # (0, 0) is "not predicted", even where the ground truth is near it
    assert match_mupots(np.zeros_like(uv) + 1.0, at_origin)[0] == -1


def test_mupots_matching_goes_through_ground_truth_in_order():
    _, uv = _people([0.0, 0.0])  # two ground-truth people in the same place
    pred = uv[:1] + 1.0
    np.testing.assert_array_equal(match_mupots(uv, pred), [0, -1])
    np.testing.assert_array_equal(match_mupots(uv, pred, gt_valid=np.array([False, True])), [-1, 0])


def test_bone_rescaling_keeps_the_root_and_takes_ground_truth_lengths():
    gt, _ = _people([0.0])
    rng = np.random.default_rng(0)
    pred = (gt - gt[:, ROOT:ROOT + 1]) * 1.3 + gt[:, ROOT:ROOT + 1] + [0.2, -0.1, 0.5]
    pred = pred + rng.normal(0, 0.02, pred.shape)
    out = rescale_to_gt_bones(pred, gt)
    np.testing.assert_allclose(out[:, ROOT], pred[:, ROOT])
    for a, b in MPI15.bones:
        np.testing.assert_allclose(np.linalg.norm(out[:, a] - out[:, b], axis=-1),
                                   np.linalg.norm(gt[:, a] - gt[:, b], axis=-1), rtol=1e-9)
        # Directions are the prediction's.
        d_out = (out[:, a] - out[:, b]) / np.linalg.norm(out[:, a] - out[:, b], axis=-1, keepdims=True)
        d_pred = (pred[:, a] - pred[:, b]) / np.linalg.norm(pred[:, a] - pred[:, b], axis=-1, keepdims=True)
        np.testing.assert_allclose(d_out, d_pred, atol=1e-9)
    # A scaled-up but otherwise right pose is exactly right after rescaling, relative to its root.
    scaled = (gt - gt[:, ROOT:ROOT + 1]) * 1.3 + gt[:, ROOT:ROOT + 1]
    np.testing.assert_allclose(rescale_to_gt_bones(scaled, gt), gt, atol=1e-12)


def test_bone_rescaling_flag_changes_the_score_of_a_scaled_pose():
    gt, uv = _people([0.0])
    scaled = (gt - gt[:, ROOT:ROOT + 1]) * 1.5 + gt[:, ROOT:ROOT + 1]  # ankles ~440 mm off
    assert evaluate_mupots([_record(gt, uv, scaled)], rescale_bones=True).matched.pck_rel == pytest.approx(100.0)
    assert evaluate_mupots([_record(gt, uv, scaled)], rescale_bones=False).matched.pck_rel < 100.0


def _m17(**named: tuple[float, float, float]) -> np.ndarray:
    """(1, 17, 3) MuPoTS joints: the named ones as given, the rest 1 m below the pelvis in a row (unused)."""
    out = np.array([[0.1 * j, 1.0, 0.0] for j in range(MUPOTS17.num_joints)])
    for name, xyz in named.items():
        out[MUPOTS17.index(name)] = xyz
    return out[None]


def test_official_bone_rescaling_walks_pelvis_spine_thorax_and_hangs_head_top_from_the_thorax():
    # Ground truth bone lengths: pelvis-spine 0.5, spine-thorax 0.4, thorax-head_top 0.3, thorax-head 0.25,
    # thorax-r_shoulder 0.2, r_shoulder-r_elbow 0.25.
    gt = _m17(pelvis=(0, 0, 0), spine=(0, 0.3, 0.4), thorax=(0, 0.3, 0), head_top=(0, 0.6, 0),
              head=(0, 0.45, 0.2), r_shoulder=(-0.2, 0.3, 0), r_elbow=(-0.2, 0.05, 0))
    # Predicted directions: spine +y, thorax +z, head_top (0.6, 0.8, 0), head -z, r_shoulder -x, r_elbow -y;
    # predicted lengths deliberately wrong (1, 2, 5, 3, 4, 7).
    p = np.array([1.0, 0.0, 5.0])
    spine, thorax = p + [0, 1, 0], p + [0, 1, 2]
    pred = _m17(pelvis=p, spine=spine, thorax=thorax, head_top=thorax + [3, 4, 0], head=thorax + [0, 0, -3],
                r_shoulder=thorax + [-4, 0, 0], r_elbow=thorax + [-4, -7, 0])
    out = rescale_to_gt_bones(pred, gt, MUPOTS17)[0]
    expected = {"pelvis": (1, 0, 5),               # kept
                "spine": (1, 0.5, 5),              # pelvis + 0.5 * (0, 1, 0)
                "thorax": (1, 0.5, 5.4),           # spine' + 0.4 * (0, 0, 1)
                "head_top": (1.18, 0.74, 5.4),     # thorax' + 0.3 * (0.6, 0.8, 0): from the thorax, not the head
                "head": (1, 0.5, 5.15),            # thorax' + 0.25 * (0, 0, -1)
                "r_shoulder": (0.8, 0.5, 5.4),     # thorax' + 0.2 * (-1, 0, 0)
                "r_elbow": (0.8, 0.25, 5.4)}       # r_shoulder' + 0.25 * (0, -1, 0)
    for name, xyz in expected.items():
        np.testing.assert_allclose(out[MUPOTS17.index(name)], xyz, atol=1e-12, err_msg=name)
    # SMAP's 15-joint tree on the same records: thorax straight from the pelvis, |gt thorax - gt pelvis| = 0.3
    # along the predicted pelvis -> thorax direction (0, 1, 2) / sqrt(5).
    smap = rescale_to_gt_bones(pred, gt, MUPOTS17, tree="mpi15")[0]
    np.testing.assert_allclose(smap[MUPOTS17.index("thorax")], p + 0.3 * np.array([0, 1, 2]) / np.sqrt(5), atol=1e-12)


def _mupots17_person(spine_offset_m: float) -> tuple[np.ndarray, np.ndarray]:
    """A template person (pelvis -> thorax 0.5 m straight up, -y) in 17 joints, its spine moved off that line
    by `spine_offset_m` along z; (1, 17, 3) metres at 4 m and (1, 17, 2) pixels."""
    gt = mpi15_to_mupots17(TEMPLATE_M + [0.0, 0.0, 4.0])[None]
    gt[0, MUPOTS17.index("spine"), 2] += spine_offset_m
    return gt, project(gt.reshape(-1, 3), CAMERA).reshape(1, -1, 2)


def test_official_scoring_of_a_15_joint_prediction_against_an_off_line_spine():
    gt, uv = _mupots17_person(spine_offset_m=0.3)
    mpi15 = TEMPLATE_M[None] + [0.0, 0.0, 4.0]  # the exact MPI15 joints of that person
    pred = mpi15_to_mupots17(mpi15)
    np.testing.assert_allclose(pred[0, MUPOTS17.index("spine")], [0.0, -0.25, 4.0])  # pelvis-thorax midpoint
    np.testing.assert_allclose(pred[0, MUPOTS17.index("head")], [0.0, -0.64, 4.01])  # thorax-head top midpoint
    record = FrameRecord("TS1", pred, mpi15_to_mupots17(project(mpi15.reshape(-1, 3), CAMERA).reshape(1, -1, 2)),
                         gt, uv, skeleton=MUPOTS17)
    # Official: both predicted spine bones point up (-y); the ground truth's are sqrt(0.25^2 + 0.3^2) = 0.3905 m
    # each, so the thorax lands 0.781 m above the pelvis instead of 0.5: 281 mm off, and so are head top,
    # shoulders, elbows and wrists (they hang from the thorax with exact directions and lengths). Hips, knees
    # and ankles are exact: 6 of 14 scored joints pass.
    shift_mm = 1000 * (2 * np.hypot(0.25, 0.3) - 0.5)
    official = evaluate_mupots([record])
    assert official.scoring == "official" and official.joint_set == "mupots17"
    assert official.matched.pck_rel == pytest.approx(100 * 6 / 14)
    assert official.mpjpe_rel_mm == pytest.approx(8 * shift_mm / 14)
    assert official.matched.pck_root == pytest.approx(100.0)
    # SMAP's variant: thorax straight from the pelvis at the ground truth's 0.5 m: exact everywhere.
    assert evaluate_mupots([record], scoring="smap15").matched.pck_rel == pytest.approx(100.0)
    # Any spine on the pelvis-thorax segment scores the same as the midpoint.
    other = pred.copy()
    other[0, MUPOTS17.index("spine")] = [0.0, -0.1, 4.0]
    np.testing.assert_allclose(rescale_to_gt_bones(other, gt, MUPOTS17), rescale_to_gt_bones(pred, gt, MUPOTS17))


def test_scoring_names_and_joint_sets_are_checked():
    gt, uv = _people([0.0])
    with pytest.raises(ValueError, match="spine"):  # official needs the ground truth's spine
        evaluate_mupots([_record(gt, uv, gt)], scoring="official")
    with pytest.raises(ValueError, match="unknown MuPoTS scoring"):
        evaluate_mupots([_record(gt, uv, gt)], scoring="smap")
    assert evaluate_mupots([_record(gt, uv, gt)]).scoring == "smap15"  # MPI15 records: the only tree they allow
    assert evaluate_mupots([_record(gt, uv, gt)], rescale_bones=False).scoring == "metric"
    gt17, uv17 = _mupots17_person(0.0)
    with pytest.raises(ValueError, match="mix joint sets"):
        evaluate_mupots([_record(gt, uv, gt), FrameRecord("TS1", gt17, uv17, gt17, uv17, skeleton=MUPOTS17)])
    np.testing.assert_array_equal(scored_joints(MUPOTS17), np.arange(14))  # pelvis, spine, head not scored


def test_panoptic_matching_is_greedy_on_pelvis_distance():
    gt = np.array([[0.0, 0.0], [20.0, 0.0]])
    pred = np.array([[15.0, 0.0], [40.0, 0.0]])
    # Closest pair first: gt1-pred0 (5 px); gt0-pred1 is 40 px, beyond 30 px.
    np.testing.assert_array_equal(match_panoptic(gt, pred), [-1, 0])
    np.testing.assert_array_equal(match_panoptic(gt[:1], np.array([[29.0, 0.0]])), [0])
    np.testing.assert_array_equal(match_panoptic(gt[:1], np.array([[30.0, 0.0]])), [-1])


def test_panoptic_rt_error_and_mpjpe_by_activity():
    mask = np.ones((1, MPI15.num_joints), bool)
    mask[0, MPI15.index("head_top")] = False  # Panoptic has no head top
    gt, uv = _people([0.0])
    pred_a = gt + [0.0, 0.0, 0.05]  # root 50 mm off
    pred_a[0, MPI15.index("l_wrist"), 0] += 0.14  # one joint 140 mm off after alignment
    pred_a[0, MPI15.index("head_top"), 0] += 5.0  # unlabelled: must not count
    pred_b = gt + [0.03, 0.0, 0.0]
    records = [_record(gt, uv, pred_a, sequence="160422_haggling1", gt_joint_mask=mask),
               _record(gt, uv, pred_b, sequence="160906_pizza1", gt_joint_mask=mask),
               _record(gt, uv, np.zeros((0, 15, 3)), pred_uv=np.zeros((0, 15, 2)), sequence="160906_pizza1",
                       gt_joint_mask=mask)]
    result = evaluate_panoptic(records)
    assert result.rt_error_mm["haggling"] == pytest.approx(50.0)
    assert result.rt_error_mm["pizza"] == pytest.approx(30.0)
    assert result.mpjpe_mm["haggling"] == pytest.approx(140.0 / 13)  # 15 joints minus pelvis and head top
    assert result.mpjpe_mm["pizza"] == pytest.approx(0.0, abs=1e-9)
    assert result.mean_rt_error_mm == pytest.approx(40.0)
    assert result.num_annotated == {"haggling": 1, "pizza": 2} and result.recall == pytest.approx(2 / 3)
    assert activity_of("170407_haggling_a1") == "haggling" and activity_of("other") == "other"


def test_report_writes_json_markdown_and_plots_with_the_paper_rows(tmp_path):
    gt, uv = _people([-1.0, 1.0])
    mupots = evaluate_mupots([_record(gt, uv, gt + [0.0, 0.0, 0.1])])
    paths = write_report(tmp_path / "mupots", mupots, "unit test")
    assert {p.suffix for p in paths} == {".json", ".md", ".png"} and len(paths) == 4
    data = json.loads(next(p for p in paths if p.suffix == ".json").read_text())
    assert data["matched"]["pck_abs"] == pytest.approx(100.0)
    md = next(p for p in paths if p.suffix == ".md").read_text()
    for name, numbers in (("DRM (paper", "85.1 | 41.0 | 45.6 | 45.4 | 80.9 | 39.3"),
                          ("SMAP (paper", "80.5 | 38.7 | 45.5 | 42.7 | 73.5 | 35.4"),
                          ("3DMPPE", "82.5 | 31.8 | 31.0 | 40.9 | 81.8 | 31.5")):
        assert any(name in line and numbers in line for line in md.splitlines()), name
    assert "**Ours**" in md and "**100.0**" in md
    assert "Scoring: SMAP's 15-joint variant" in md and data["scoring"] == "smap15"  # MPI15 records
    gt17, uv17 = _mupots17_person(0.0)
    official = evaluate_mupots([FrameRecord("TS1", gt17, uv17, gt17, uv17, skeleton=MUPOTS17,
                                            gt_source="univ_annot3", pred_source="predicted in 17 joints.")])
    md17 = mupots_markdown(official, "unit test")
    assert "Scoring: official MuPoTS-3D (bone lengths rescaled to the ground truth's along the dataset's " \
           "17-joint tree" in md17
    assert "Ground-truth 3D: univ_annot3." in md17 and "Predictions: predicted in 17 joints." in md17
    for p in paths:
        if p.suffix == ".png":
            assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 1000

    panoptic = evaluate_panoptic([_record(gt, uv, gt + [0.0, 0.0, 0.05], sequence="haggling")])
    paths = write_report(tmp_path / "panoptic", panoptic, "unit test")
    md = next(p for p in paths if p.suffix == ".md").read_text()
    assert "63.7 | 58.5 | 52.3 | 69.1 | 60.9" in md and "154.3" in md and "**50.0**" in md
    assert json.loads(next(p for p in paths if p.suffix == ".json").read_text())["rt_error_mm"]["haggling"] \
        == pytest.approx(50.0)


def test_evaluate_runs_a_predictor_over_samples():
    gt, uv = _people([-1.0, 1.0])
    image = np.zeros((4, 4, 3), np.uint8)
    vis = np.full(gt.shape[:2], 2, np.int8)
    samples = [Sample(image, CAMERA, uv, gt, vis, "mupots", image_id=f"TS{s}/img_0", meta={"sequence": f"TS{s}"})
               for s in (1, 2)]

    def predict(sample: Sample) -> Poses3D:  # perfect for TS1, the first person only for TS2
        keep = slice(None) if sample.meta.get("sequence") == "TS1" else slice(0, 1)
        p = sample.joints_3d_m[keep]
        return Poses3D(p, sample.joints_2d_px[keep], np.ones(p.shape[:2]), np.ones(len(p)), MPI15.joint_names)

    result = evaluate(predict, samples, progress=False)
    assert result.matched.pck_abs == pytest.approx(100.0)
    assert result.all_people.pck_abs == pytest.approx(75.0)
    assert set(result.per_sequence) == {"TS1", "TS2"}

    no_3d = Sample(image, CAMERA, uv, None, vis, "coco", image_id="img_9")
    with pytest.raises(ValueError, match="img_9"):
        evaluate(predict, [no_3d], progress=False)


def test_bad_shapes_are_named():
    gt, uv = _people([0.0])
    with pytest.raises(ValueError, match="pred_cam_m.*MPI15"):
        FrameRecord("TS1", gt[:, :14], uv, gt, uv, image_id="img_3")
    with pytest.raises(ValueError, match="gt_valid"):
        FrameRecord("TS1", gt, uv, gt, uv, gt_valid=np.array([True, True]))
