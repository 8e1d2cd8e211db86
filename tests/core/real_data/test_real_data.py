"""The real-footage data set's pieces that run without the teacher or a network: the Qualisys calibration
parser and triangulation on a synthetic four-camera rig with known 3D, the repeated-frame filter, the teacher
candidate filters, the split (whole recordings held out), the teacher's world landmarks kept as relative 3D, the
reader on a tiny data set written here in the build's format, and the compact copy."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from drm_core.camera import Camera, project
from drm_core.data.errors import DatasetError
from drm_core.real_data.dedup import DedupConfig, RepeatFilter
from drm_core.real_data.triangulation import CalibratedView, read_qca, triangulate, write_qca
from drm_core.real_data.build import (Clip, ClipStats, annotation, compact, default_clips, extract_frames,
                                      write_split)
from drm_core.real_data.sources import BuildError
from drm_core.real_data.labels import (BLAZEPOSE_TO_COCO17, FilterConfig, Person, rejection, select_people,
                                       static_mask)
from drm_core.data.registry import open_dataset
from drm_core.skeleton import COCO17, MPI15
from drm_core.data.template_scenes import person_at


def _look_at(centre: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """World -> OpenCV camera (R, t) for a camera at `centre` looking at `target`, world z up."""
    z = target - centre
    z /= np.linalg.norm(z)
    x = np.cross(z, [0.0, 0.0, 1.0])
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    R = np.stack([x, y, z])
    return R, -R @ centre


def _rig() -> list[CalibratedView]:
    views = []
    for i, angle in enumerate(np.radians([20, 110, 200, 290])):
        centre = np.array([4.0 * np.cos(angle), 4.0 * np.sin(angle), 1.8 + 0.1 * i])
        R, t = _look_at(centre, np.array([0.0, 0.0, 1.0]))
        K = np.array([[1500.0 + 10 * i, 0, 540.0 + i], [0, 1498.0 + 10 * i, 960.0 - i], [0, 0, 1]])
        views.append(CalibratedView(f"cam0{i + 1}", K, np.array([-0.01, 0.02, 0.001, -0.0005]), 1088, 1920, R, t))
    return views


def test_qca_round_trip_keeps_every_camera(tmp_path: Path) -> None:
    rig = _rig()
    write_qca(tmp_path / "Calib.qca.txt", rig)
    back = read_qca(tmp_path / "Calib.qca.txt")
    assert [v.name for v in back] == [v.name for v in rig]
    for a, b in zip(rig, back):
        np.testing.assert_allclose(b.K, a.K, atol=1e-9)
        np.testing.assert_allclose(b.R, a.R, atol=1e-12)
        np.testing.assert_allclose(b.t, a.t, atol=1e-9)
        np.testing.assert_allclose(b.dist, a.dist, atol=1e-12)
        assert (b.width, b.height) == (1088, 1920)


def test_qca_units_follow_qualisys(tmp_path: Path) -> None:
    """64ths of a pixel, principal point relative to the video window, position in mm, camera looking down its
    own -z: a world point straight ahead of the camera lands on the principal point at positive depth."""
    (tmp_path / "c.qca.txt").write_text("""<calibration><cameras>
      <camera serial="cam01"><fov_video left="8" top="4" right="1087" bottom="1923"/>
      <transform x="1000" y="-2000" z="1500" r11="1" r12="0" r13="0" r21="0" r22="1" r23="0" r31="0" r32="0" r33="1"/>
      <intrinsic focalLengthU="64000" focalLengthV="64064" centerPointU="34816" centerPointV="61696"
        radialDistortion1="0" radialDistortion2="0" tangentalDistortion1="0" tangentalDistortion2="0"/>
      </camera></cameras></calibration>""")
    (v,) = read_qca(tmp_path / "c.qca.txt")
    np.testing.assert_allclose(v.K, [[1000.0, 0, 544.0 - 8], [0, 1001.0, 964.0 - 4], [0, 0, 1]])
    assert (v.width, v.height) == (1080, 1920)
    np.testing.assert_allclose(-v.R.T @ v.t, [1.0, -2.0, 1.5])  # camera centre, metres
    ahead = np.array([1.0, -2.0, 1.5 - 3.0])  # 3 m along the camera's -z (Qualisys)
    assert v.to_camera(ahead)[2] == pytest.approx(3.0)
    np.testing.assert_allclose(v.project(ahead[None])[0], v.K[:2, 2], atol=1e-9)


def test_qca_errors_name_the_problem(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="not found"):
        read_qca(tmp_path / "none.qca.txt")
    (tmp_path / "bad.qca.txt").write_text("<calibration><cameras><camera serial='c1'><fov_video/>")
    with pytest.raises(DatasetError, match="not a valid Qualisys XML"):
        read_qca(tmp_path / "bad.qca.txt")
    (tmp_path / "part.qca.txt").write_text("<calibration><cameras><camera serial='c1'/></cameras></calibration>")
    with pytest.raises(DatasetError, match="camera 'c1' has no <fov_video>"):
        read_qca(tmp_path / "part.qca.txt")


def test_triangulation_recovers_known_points_and_drops_an_outlier_view() -> None:
    rig = _rig()
    rng = np.random.default_rng(0)
    points = rng.uniform([-0.8, -0.8, 0.1], [0.8, 0.8, 1.9], size=(20, 3))
    for X in points:
        uv = np.stack([v.project(X[None])[0] for v in rig])
        t = triangulate(rig, uv, np.ones(4, bool), max_error_px=1.0, min_views=2)
        assert t.used.all()
        np.testing.assert_allclose(t.point, X, atol=1e-6)
        assert np.nanmax(t.errors_px) < 1e-4
        bad = uv.copy()
        bad[2] += [60.0, -40.0]  # a teacher mistake in one view
        t = triangulate(rig, bad, np.ones(4, bool), max_error_px=2.0, min_views=3)
        assert t.used.tolist() == [True, True, False, True]
        np.testing.assert_allclose(t.point, X, atol=1e-6)
    t = triangulate(rig, bad, np.array([True, False, True, False]), max_error_px=2.0, min_views=2)
    assert not t.ok  # two views that disagree: no label rather than a wrong one


def test_repeat_filter_drops_repeats_and_keeps_small_motion() -> None:
    rng = np.random.default_rng(1)
    base = rng.integers(0, 255, (240, 320, 3)).astype(np.uint8)
    base = cv2.GaussianBlur(base, (9, 9), 3)
    moved = base.copy()
    cv2.rectangle(moved, (100, 100), (112, 130), (255, 255, 255), -1)  # one small walker
    noisy = np.clip(base.astype(int) + rng.integers(-2, 3, base.shape), 0, 255).astype(np.uint8)
    f = RepeatFilter()
    assert [f.is_repeat(x) for x in (base, noisy, base, moved, moved, base)] == [False, True, True, False, True, False]


def _person(xy: np.ndarray, flag: float = 0.99, conf: float = 0.9) -> Person:
    return Person(xy, np.full(17, conf), flag, 0.9)


def _upright(x: float = 100.0, y: float = 50.0, s: float = 1.0) -> np.ndarray:
    """COCO-17 pixel skeleton of a standing person about 160 px tall."""
    c = COCO17.index
    xy = np.zeros((17, 2))
    for j, (u, v) in {"nose": (0, 0), "l_eye": (3, -3), "r_eye": (-3, -3), "l_ear": (6, 0), "r_ear": (-6, 0),
                      "l_shoulder": (15, 25), "r_shoulder": (-15, 25), "l_elbow": (18, 50), "r_elbow": (-18, 50),
                      "l_wrist": (20, 72), "r_wrist": (-20, 72), "l_hip": (10, 80), "r_hip": (-10, 80),
                      "l_knee": (11, 120), "r_knee": (-11, 120), "l_ankle": (12, 160), "r_ankle": (-12, 160)}.items():
        xy[c(j)] = (x + s * u, y + s * v)
    return xy


def test_candidate_filters() -> None:
    cfg = FilterConfig()
    assert rejection(_person(_upright()), cfg) is None
    assert rejection(_person(_upright(), flag=0.2), cfg) == "pose_flag"
    assert rejection(_person(_upright(), conf=0.3), cfg) == "low_confidence"
    assert rejection(_person(_upright(s=0.2)), cfg) == "too_small"
    lying = _upright()[:, ::-1].copy()  # litter: the same shape on its side
    assert rejection(_person(lying), cfg) == "shape"
    blended = _upright()
    blended[COCO17.index("l_wrist")] += (300, 0)  # an arm reaching into the next person
    assert rejection(_person(blended), cfg) == "shape"
    counts: dict[str, int] = {}
    kept = select_people([_person(_upright()), _person(_upright() + 2.0, flag=0.9), _person(_upright(x=300))],
                         cfg, counts)
    assert len(kept) == 2 and counts == {"duplicate": 1}
    assert kept[0].flag == pytest.approx(0.99)  # the better of the two copies stays


def test_static_mask_finds_what_never_moves() -> None:
    walker = [[10 + 8 * f, 50, 30 + 8 * f, 110] for f in range(10)]
    litter = [[200, 100, 240, 115]] * 8  # in 8 of 10 frames
    frames = np.array(list(range(10)) + list(range(8)))
    mask = static_mask(np.array(walker + litter), frames)
    assert not mask[:10].any() and mask[10:].all()


def test_blazepose_to_coco_indices() -> None:
    # BlazePose: 0 nose, 2/5 eyes, 7/8 ears, 11-16 shoulders/elbows/wrists, 23-28 hips/knees/ankles (left first)
    assert BLAZEPOSE_TO_COCO17.tolist() == [0, 2, 5, 7, 8, 11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28]


W, H = 200, 150
K = np.array([[180.0, 0.0, 101.0], [0.0, 179.0, 74.0], [0.0, 0.0, 1.0]])


def _coco17_3d(camera: Camera, root_uv: tuple[float, float], depth: float) -> np.ndarray:
    """(17, 3) COCO-17 joints from the MPI15 test template by name; the face joints near the head top."""
    mpi = person_at(camera, root_uv, depth)
    out = np.zeros((17, 3))
    head = mpi[MPI15.index("head_top")]
    for j, name in enumerate(COCO17.joint_names):
        out[j] = mpi[MPI15.index(name)] if name in MPI15.joint_names else head + [0.02 * (j - 2), 0.08, -0.05]
    return out


def _write_dataset(root: Path) -> tuple[np.ndarray, np.ndarray]:
    """Two frames in the build's format: a calibrated one with two 3D people and one 2D-only person, a 2D-only
    one with one person."""
    cam = Camera(K, W, H)
    people = np.stack([_coco17_3d(cam, (60, 80), 3.0), _coco17_3d(cam, (140, 78), 4.0)])
    (root / "images" / "clip").mkdir(parents=True)
    for name in ("a", "b"):
        cv2.imwrite(str(root / "images" / "clip" / f"{name}.jpg"), np.full((H, W, 3), 90, np.uint8))
    images = [{"id": 1, "file_name": "images/clip/a.jpg", "width": W, "height": H, "split": "train", "clip": "clip",
               "frame": 0, "camera": {"K": K.tolist(), "dist": [0, 0, 0, 0]}},
              {"id": 2, "file_name": "images/clip/b.jpg", "width": W, "height": H, "split": "train", "clip": "clip",
               "frame": 3}]
    anns = []
    for p, joints in enumerate(people):
        uv = project(joints, cam)
        vis = np.full(17, 2)
        vis[COCO17.index("r_wrist")] = 0  # not triangulated
        kps = np.column_stack([np.where(vis[:, None] > 0, uv, 0), vis])
        anns.append({"id": p + 1, "image_id": 1, "keypoints": kps.ravel().tolist(), "bbox": [0, 0, 10, 20],
                     "keypoints_cam": np.where(vis[:, None] > 0, joints, 0).tolist()})
    seen_once = np.column_stack([project(people[1], cam) - [30, 0], np.full(17, 2)])  # not triangulated
    anns.append({"id": 4, "image_id": 1, "keypoints": seen_once.ravel().tolist(), "bbox": [0, 0, 10, 20]})
    kps2d = np.column_stack([project(people[0], cam) + 5, np.full(17, 2)])
    kps2d[COCO17.index("l_ankle"), 2] = 1
    anns.append({"id": 5, "image_id": 2, "keypoints": kps2d.ravel().tolist(), "bbox": [1, 2, 30, 60]})
    write_split(root / "real_train.json", images, anns)
    (root / "manifest.json").write_text("{}")
    return people, kps2d


def test_reader_gives_mpi15_samples_with_3d_where_calibrated(tmp_path: Path) -> None:
    people, kps2d = _write_dataset(tmp_path)
    ds = open_dataset({"name": "real", "annotations": str(tmp_path / "real_train.json"), "image_root": str(tmp_path)})
    assert len(ds) == 2 and ds.has_3d
    s3d, s2d = ds[0], ds[1]
    np.testing.assert_allclose(s3d.camera.K, K)
    assert s3d.num_people == 3 and s3d.image.shape == (H, W, 3)
    c, m = COCO17.index, MPI15.index
    pelvis = (people[:, c("l_hip")] + people[:, c("r_hip")]) / 2
    np.testing.assert_allclose(s3d.joints_3d_m[:2, m("pelvis")], pelvis)
    np.testing.assert_allclose(s3d.joints_3d_m[:2, m("l_knee")], people[:, c("l_knee")])
    np.testing.assert_allclose(s3d.joints_2d_px[:2, m("l_knee")], project(people[:, c("l_knee")], s3d.camera),
                               atol=1e-9)
    assert (s3d.visibility[:, m("head_top")] == 0).all() and (s3d.visibility[:2, m("r_wrist")] == 0).all()
    assert s3d.visibility[0, m("l_wrist")] == 2
    assert (s3d.joints_3d_m[:2, m("r_wrist")] == 0).all()  # labelled in neither 2D nor 3D
    # the person seen in one view only: 2D labels, 3D all zeros (the codec's and the metrics' "no 3D")
    assert (s3d.visibility[2, m("l_knee")] == 2) and not s3d.joints_3d_m[2].any()
    # the 2D-only frame: no 3D, SMAP's camera rule, COCO visibility kept
    assert s2d.joints_3d_m is None
    np.testing.assert_allclose(s2d.camera.K, [[W, 0, W / 2], [0, W, H / 2], [0, 0, 1]])
    np.testing.assert_allclose(s2d.joints_2d_px[0, m("l_ankle")], kps2d[c("l_ankle"), :2])
    assert s2d.visibility[0, m("l_ankle")] == 1
    np.testing.assert_allclose(s2d.meta["boxes_xywh"], [[1, 2, 30, 60]])


def test_reader_errors_name_file_and_annotation(tmp_path: Path) -> None:
    _write_dataset(tmp_path)
    data = json.loads((tmp_path / "real_train.json").read_text())
    data["annotations"][1]["keypoints"] = data["annotations"][1]["keypoints"][:-3]
    (tmp_path / "broken.json").write_text(json.dumps(data))
    with pytest.raises(DatasetError, match=r"broken.json: annotation index 1 keypoints has shape \(48,\)"):
        open_dataset({"name": "real", "annotations": str(tmp_path / "broken.json"), "image_root": str(tmp_path)})


def test_compact_copy_keeps_geometry(tmp_path: Path) -> None:
    """Half-size copy: the 3D stays, K and the 2D scale together, so 3D still projects onto the 2D labels."""
    src, dst = tmp_path / "full", tmp_path / "small"
    src.mkdir()
    _write_dataset(src)
    write_split(src / "real_val.json", [], [])
    manifest = compact(src, dst, long_side=100, quality=80)
    assert manifest["total_bytes"] > 0 and (dst / "images" / "clip" / "a.jpg").is_file()
    s = open_dataset({"name": "real", "annotations": str(dst / "real_train.json"), "image_root": str(dst)})[0]
    assert s.image.shape == (75, 100, 3)
    # joints copied by name (neck and pelvis are averages, and a projection of an average is not the average
    # of projections, so they differ by a fraction of a pixel)
    limbs = [MPI15.index(n) for n in MPI15.joint_names if n.startswith(("l_", "r_"))]
    labelled = (s.visibility[:, limbs] > 0) & (s.joints_3d_m[:, limbs, 2] > 0)
    assert labelled.sum() == 2 * 11  # two triangulated people, each without the right wrist
    np.testing.assert_allclose(project(s.joints_3d_m[:, limbs][labelled], s.camera),
                               s.joints_2d_px[:, limbs][labelled], atol=0.02)


def test_frame_selection_drops_repeats_and_names_a_corrupt_video(tmp_path: Path) -> None:
    video = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    rng = np.random.default_rng(2)
    frames = [cv2.GaussianBlur(rng.integers(0, 255, (48, 64, 3)).astype(np.uint8), (7, 7), 2) for _ in range(4)]
    for f in [frames[0], frames[0], frames[1], frames[2], frames[2], frames[3]]:
        writer.write(f)
    writer.release()
    clip = Clip("clip", "pkg", "clip.avi", every=2, tiles=(), split="train")
    stats = ClipStats()
    recs = extract_frames(clip, video, tmp_path / "out", long_side=32, dedup=DedupConfig(), stats=stats)
    assert (stats.frames_in_video, stats.repeats_dropped) == (6, 2)
    assert [r.frame for r in recs] == [0, 3]  # distinct frames 0, 2, 3, 5: every 2nd of them
    assert (recs[0].width, recs[0].height, recs[0].full_width) == (32, 24, 64)
    assert (tmp_path / "out" / recs[1].file_name).is_file()
    (tmp_path / "bad.mp4").write_bytes(b"not a video" * 100)
    with pytest.raises(BuildError, match="bad.mp4"):
        extract_frames(clip, tmp_path / "bad.mp4", tmp_path / "out", 32, DedupConfig(), ClipStats())


@pytest.mark.parametrize("val_trial", ["MultiPerson", "SinglePerson"])
def test_split_holds_out_whole_recordings(val_trial: str) -> None:
    clips = default_clips(3, val_trial)
    val = {c.name for c in clips if c.split == "val"}
    train_rigs = {c.rig for c in clips if c.split == "train" and c.rig}
    # every view of the held-out trial is in validation, and no view of it in training
    assert val == {"sports2d_demo"} | {f"pose2sim_{val_trial}_cam0{i}" for i in range(1, 5)}
    assert f"Demo_{val_trial}" not in train_rigs and len(train_rigs) == 1
    assert "vtest" not in val
    with pytest.raises(BuildError, match="val_trial"):
        default_clips(3, "cam04")


def test_teacher_world_landmarks_become_relative_depth_targets(tmp_path: Path) -> None:
    """BlazePose's hip-centred metres: kept by the build on labelled joints, read as MPI15 relative to the
    pelvis, and encoded as relative-depth targets with no root-depth, ray or DAPL weight."""
    world33 = np.zeros((33, 3))
    world33[BLAZEPOSE_TO_COCO17] = np.linspace(-0.5, 0.5, 51).reshape(17, 3)
    entry = {"landmarks": np.zeros((33, 5)).tolist(), "world": world33.tolist(), "flag": 0.9, "det_score": 0.8}
    p = Person.from_teacher(entry)
    np.testing.assert_allclose(p.world, world33[BLAZEPOSE_TO_COCO17])
    assert Person.from_teacher({k: v for k, v in entry.items() if k != "world"}).world is None
    xy = _upright()
    vis = np.full(17, 2)
    vis[COCO17.index("r_wrist")] = 0
    ann = annotation(xy, vis, np.full(17, 0.9), 0.8, p.world)
    rel = np.asarray(ann["keypoints_rel_m"])
    assert (rel[COCO17.index("r_wrist")] == 0).all()
    np.testing.assert_allclose(rel[COCO17.index("l_knee")], p.world[COCO17.index("l_knee")], atol=1e-4)

    (tmp_path / "images").mkdir()
    cv2.imwrite(str(tmp_path / "images" / "a.jpg"), np.full((240, 320, 3), 90, np.uint8))
    write_split(tmp_path / "real_train.json", [{"id": 1, "file_name": "images/a.jpg", "width": 320, "height": 240}],
                [{"id": 1, "image_id": 1, **ann}])
    sample = open_dataset({"name": "real", "annotations": str(tmp_path / "real_train.json"),
                           "image_root": str(tmp_path)})[0]
    assert sample.joints_3d_m is None
    m, c = MPI15.index, COCO17.index
    rel15 = sample.joints_rel_m[0]
    np.testing.assert_allclose(rel15[m("pelvis")], 0.0, atol=1e-9)
    mid_hip = (p.world[c("l_hip")] + p.world[c("r_hip")]) / 2
    np.testing.assert_allclose(rel15[m("l_knee")], p.world[c("l_knee")] - mid_hip, atol=2e-4)
    assert np.isnan(rel15[m("r_wrist")]).all() and np.isnan(rel15[m("head_top")]).all()

    from drm_core.codec import DRMCodec
    from drm_core.train.encoded import encode_sample
    _, t = encode_sample(sample, DRMCodec())
    assert t["rel_depth_weight"].any() and not t["root_depth_weight"].any() and not t["dapl_weight"].any()
    non_root = list(MPI15.non_root())
    k = non_root.index(m("l_knee"))
    ys, xs = np.nonzero(t["rel_depth_weight"][k])
    np.testing.assert_allclose(t["rel_depth"][k, ys, xs], -(p.world[c("l_knee"), 2] - mid_hip[2]), atol=2e-4)
    assert not t["rel_depth_weight"][non_root.index(m("r_wrist"))].any()
