"""Dataset readers on small fixtures written in each dataset's real file format.

Each fixture is built from people whose 3D is known (the scenes.py template placed in front of the file's own
camera) and whose 2D is that 3D projected with the file's intrinsics, so the test checks units (mm/cm -> m),
the joint mapping by name, the camera and the image, not just that parsing does not crash.
"""
from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from drm_core.camera import Camera, project
from drm_core.data.augment import augment
from drm_core.data.errors import DatasetError
from drm_core.data.registry import open_dataset
from drm_core.evaluation import evaluate
from drm_core.skeleton import COCO17, MPI15, MUCO21
from drm_core.pose_types import OCCLUDED, VISIBLE
from drm_core.data.template_scenes import person_at

W, H = 160, 120
K = np.array([[150.0, 0.0, 81.0], [0.0, 148.0, 58.5], [0.0, 0.0, 1.0]])
CAMERA = Camera(K, W, H)


def _muco21_people(n: int, seed: int = 0) -> np.ndarray:
    """(n, 21, 3) metres: the MPI15 template by name (neck = thorax), the extra MuCo joints nearby."""
    rng = np.random.default_rng(seed)
    out = np.zeros((n, MUCO21.num_joints, 3))
    for p in range(n):
        mpi = person_at(CAMERA, (50.0 + 60 * p, 60.0), 3.5 + p, yaw_rad=0.4 * p)
        for j, name in enumerate(MUCO21.joint_names):
            src = "neck" if name == "thorax" else name
            if src in MPI15.joint_names:
                out[p, j] = mpi[MPI15.index(src)]
            else:  # spine, head, hands, toes: distinct made-up positions
                out[p, j] = mpi[MPI15.root] + rng.normal(0, 0.3, 3)
    return out


def _write_image(path: Path, seed: int, size: tuple[int, int] = (W, H)) -> np.ndarray:
    """A random RGB image saved as PNG (lossless, so the read-back must match exactly)."""
    rgb = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    return rgb


def _univ(person_m: np.ndarray) -> np.ndarray:
    """A stand-in for univ_annot3: the person scaled by 0.9 about its pelvis (MuPoTS index 14)."""
    return person_m[14] + 0.9 * (person_m - person_m[14])


def _coco_style_3d(tmp_path: Path, mupots: bool, univ: bool = False) -> tuple[Path, Path, dict]:
    """A 3DMPPE-style json (MuCo or MuPoTS) with 2 images: 2 people and 1 person. MuPoTS: each image's first
    person is valid, the others not; `univ` adds univ_annot3 (mm) to every annotation."""
    root = tmp_path / "images"
    joints = 17 if mupots else 21
    truth = {"images": {}, "people": {}}
    images, annotations = [], []
    for image_id, n in ((7, 2), (9, 1)):
        name = f"TS3/img_{image_id:06d}.png" if mupots else f"unaugmented_set/1/{image_id:05d}.png"
        truth["images"][image_id] = _write_image(root / name, image_id)
        img = {"id": image_id, "file_name": name, "width": W, "height": H}
        if mupots:
            img["intrinsic"] = [K[0, 0], K[1, 1], K[0, 2], K[1, 2]]
        else:
            img.update(f=[K[0, 0], K[1, 1]], c=[K[0, 2], K[1, 2]])
        images.append(img)
        people = _muco21_people(n, seed=image_id)[:, :joints]
        truth["people"][image_id] = people
        for p, person in enumerate(people):
            uv = project(person, CAMERA)
            vis = [int(j % 5 != 3) for j in range(joints)]  # some occluded joints
            ann = {"id": len(annotations), "image_id": image_id, "keypoints_cam": (person * 1000).tolist(),
                   "keypoints_img": uv.tolist(), "keypoints_vis": vis,
                   "bbox": [*uv.min(0).tolist(), *(uv.max(0) - uv.min(0)).tolist()]}
            if mupots:
                ann["is_valid"] = int(p == 0)
            if univ:
                ann["univ_annot3"] = (_univ(person) * 1000).tolist()
            annotations.append(ann)
    path = tmp_path / ("MuPoTS-3D.json" if mupots else "MuCo-3DHP.json")
    path.write_text(json.dumps({"images": images, "annotations": annotations}))
    return path, root, truth


def _check_mpi15_from_muco(sample, people_m: np.ndarray) -> None:
    assert sample.joints_3d_m.shape == (len(people_m), 15, 3)
    for name, muco_name in (("neck", "thorax"), ("pelvis", "pelvis"), ("l_shoulder", "l_shoulder"),
                            ("r_ankle", "r_ankle"), ("head_top", "head_top"), ("l_wrist", "l_wrist")):
        np.testing.assert_allclose(sample.joints_3d_m[:, MPI15.index(name)],
                                   people_m[:, MUCO21.index(muco_name)], atol=1e-9)
    # 2D is the file's 2D, which the fixture made by projecting the 3D: the camera must agree with it.
    uv = project(sample.joints_3d_m.reshape(-1, 3), sample.camera).reshape(-1, 15, 2)
    np.testing.assert_allclose(sample.joints_2d_px, uv, atol=1e-6)


def test_muco_reader_gives_mpi15_in_metres(tmp_path):
    path, root, truth = _coco_style_3d(tmp_path, mupots=False)
    ds = open_dataset({"name": "muco", "annotations": str(path), "image_root": str(root)})
    assert len(ds) == 2
    first = ds[0]
    assert first.dataset == "muco" and first.has_3d and first.num_people == 2
    np.testing.assert_array_equal(first.image, truth["images"][7])
    np.testing.assert_allclose(first.camera.K, K)
    _check_mpi15_from_muco(first, truth["people"][7])
    # MuCo joints 3, 8, 13 were marked occluded: labelled, not visible
    assert first.visibility[0, MPI15.index("r_elbow")] == OCCLUDED  # MuCo index 3
    assert first.visibility[0, MPI15.index("l_ankle")] == OCCLUDED  # MuCo index 13
    assert first.visibility[0, MPI15.index("r_ankle")] == VISIBLE  # MuCo index 10
    _check_mpi15_from_muco(ds[1], truth["people"][9])


def test_mupots_reader_keeps_evaluation_meta(tmp_path):
    path, root, truth = _coco_style_3d(tmp_path, mupots=True)
    ds = open_dataset({"name": "mupots", "annotations": str(path), "image_root": str(root)})
    sample = ds[0]
    assert sample.meta["sequence"] == "TS3" and sample.meta["frame"] == 7
    np.testing.assert_array_equal(sample.meta["gt_valid"], [True, False])
    assert sample.meta["gt_3d_source"] == "keypoints_cam"
    np.testing.assert_allclose(sample.meta["joints_3d_mm_17"], truth["people"][7] * 1000, atol=1e-6)
    np.testing.assert_allclose(sample.meta["joints_2d_px_17"], project(truth["people"][7].reshape(-1, 3),
                                                                      CAMERA).reshape(2, 17, 2), atol=1e-6)
    _check_mpi15_from_muco(sample, truth["people"][7])
    assert ds[1].meta["frame"] == 9 and ds[1].num_people == 1


def test_mupots_reader_hands_over_univ_annot3_for_scoring(tmp_path):
    path, root, truth = _coco_style_3d(tmp_path, mupots=True, univ=True)
    sample = open_dataset({"name": "mupots", "annotations": str(path), "image_root": str(root)})[0]
    assert sample.meta["gt_3d_source"] == "univ_annot3"
    np.testing.assert_allclose(sample.meta["joints_3d_mm_17"],
                               np.stack([_univ(p) for p in truth["people"][7]]) * 1000, atol=1e-6)
    _check_mpi15_from_muco(sample, truth["people"][7])  # the Sample's own 3D stays keypoints_cam


def test_mupots_univ_annot3_of_a_wrong_shape_is_named(tmp_path):
    path, root, _ = _coco_style_3d(tmp_path, mupots=True, univ=True)
    data = json.loads(path.read_text())
    data["annotations"][1]["univ_annot3"] = data["annotations"][1]["univ_annot3"][:15]
    path.write_text(json.dumps(data))
    with pytest.raises(DatasetError, match="univ_annot3"):
        open_dataset({"name": "mupots", "annotations": str(path), "image_root": str(root)})


@pytest.mark.parametrize("univ", [False, True])
def test_invalid_mupots_person_is_neither_counted_nor_scored_from_reader_to_evaluation(tmp_path, univ):
    path, root, truth = _coco_style_3d(tmp_path, mupots=True, univ=univ)
    ds = open_dataset({"name": "mupots", "annotations": str(path), "image_root": str(root)})

    def predict(sample):  # the first (valid) person of each image exactly, in 17 joints; the others missed
        person = truth["people"][int(sample.image_id)][:1]
        return SimpleNamespace(joints_cam_m=person, joints_uv_px=project(person.reshape(-1, 3), CAMERA)
                               .reshape(1, 17, 2))

    result = evaluate(predict, ds, progress=False)
    # 3 annotated people, 1 invalid (image 7's second): 2 count, both matched, nobody missed.
    assert result.num_annotated == 2 and result.num_matched == 2
    assert result.all_people.pck_rel == pytest.approx(100.0) and result.all_people.pck_abs == pytest.approx(100.0)
    # Official scoring on 17 joints; with univ_annot3 the exact metric pose is exact after bone rescaling.
    assert result.scoring == "official" and result.joint_set == "mupots17"
    assert result.gt_source == ("univ_annot3" if univ else "keypoints_cam")
    assert result.mpjpe_abs_mm == pytest.approx(0.0, abs=1e-6)


def test_panoptic_reader_smap_format(tmp_path):
    root = tmp_path / "panoptic"
    entries, truth = [], []
    for i, (seq, valid) in enumerate((("160422_haggling1", 0), ("160906_pizza1", 1))):
        rel = f"{seq}/00_16/00_16_{i:08d}.png"
        _write_image(root / rel, i)
        people = np.stack([person_at(CAMERA, (40.0 + 70 * p, 62.0), 3.0 + 0.5 * p, yaw_rad=p) for p in range(2)])
        truth.append(people)
        bodys = np.zeros((2, 15, 11))
        bodys[:, :, 0:2] = project(people.reshape(-1, 3), CAMERA).reshape(2, 15, 2)
        bodys[:, :, 2] = bodys[:, :, 6] = people[:, :, 2] * 100
        bodys[:, :, 3] = 2
        bodys[1, MPI15.index("l_knee"), 3] = 0  # one unlabelled joint
        bodys[:, :, 4:6] = people[:, :, :2] * 100
        bodys[:, :, 7:11] = [K[0, 0], K[1, 1], K[0, 2], K[1, 2]]
        entries.append({"img_height": H, "img_width": W, "img_paths": rel, "dataset": "CMUP",
                        "isValidation": valid, "bodys": bodys.tolist()})
    path = tmp_path / "cmup.json"
    path.write_text(json.dumps({"root": entries}))
    ds = open_dataset({"name": "panoptic", "annotations": str(path), "image_root": str(root)})
    assert len(ds) == 2
    s = ds[0]
    assert s.meta["activity"] == "haggling" and s.meta["sequence"] == "160422_haggling1"
    assert s.meta["camera"] == "00_16" and ds[1].meta["activity"] == "pizza"
    np.testing.assert_allclose(s.joints_3d_m[0], truth[0][0], atol=1e-9)  # cm -> m
    np.testing.assert_allclose(s.camera.K, K)
    knee = MPI15.index("l_knee")
    assert s.visibility[1, knee] == 0 and np.all(s.joints_3d_m[1, knee] == 0)
    np.testing.assert_allclose(s.joints_3d_m[1, MPI15.index("r_knee")], truth[0][1, MPI15.index("r_knee")])
    val = open_dataset({"name": "panoptic", "annotations": str(path), "image_root": str(root), "split": "val"})
    assert len(val) == 1 and val[0].meta["activity"] == "pizza"


def _coco_fixture(tmp_path: Path) -> tuple[Path, Path]:
    root = tmp_path / "val2017"
    images = [{"id": 1, "file_name": "000000000001.jpg", "width": W, "height": H},
              {"id": 2, "file_name": "000000000002.jpg", "width": 100, "height": 80},
              {"id": 3, "file_name": "000000000003.jpg", "width": W, "height": H}]
    for img in images:
        _write_image(root / img["file_name"], img["id"], (img["width"], img["height"]))
    rng = np.random.default_rng(5)

    def kps(v: int = 2) -> list[float]:
        xy = rng.uniform(10, 70, (17, 2))
        return np.concatenate([xy, np.full((17, 1), v)], axis=1).ravel().tolist()

    person = kps()
    annotations = [
        {"id": 10, "image_id": 1, "keypoints": person, "num_keypoints": 17, "iscrowd": 0, "bbox": [0, 0, 1, 1]},
        {"id": 11, "image_id": 1, "keypoints": kps(), "num_keypoints": 17, "iscrowd": 1, "bbox": [0, 0, 1, 1]},
        {"id": 12, "image_id": 2, "keypoints": [0] * 51, "num_keypoints": 0, "iscrowd": 0, "bbox": [0, 0, 1, 1]},
        {"id": 13, "image_id": 3, "keypoints": kps(), "num_keypoints": 17, "iscrowd": 0, "bbox": [0, 0, 1, 1]},
    ]
    path = tmp_path / "person_keypoints_val2017.json"
    path.write_text(json.dumps({"images": images, "annotations": annotations, "categories": []}))
    return path, root


def test_coco_reader_2d_only_with_smap_camera(tmp_path):
    path, root = _coco_fixture(tmp_path)
    ds = open_dataset({"name": "coco", "annotations": str(path), "image_root": str(root)})
    assert len(ds) == 2  # image 2 has only an empty person; the crowd on image 1 is skipped
    s = ds[0]
    assert s.joints_3d_m is None and not s.has_3d and s.num_people == 1
    np.testing.assert_allclose(s.camera.K, [[W, 0, W / 2], [0, W, H / 2], [0, 0, 1]])
    raw = np.array(json.loads(path.read_text())["annotations"][0]["keypoints"]).reshape(17, 3)
    mid_hip = (raw[COCO17.index("l_hip"), :2] + raw[COCO17.index("r_hip"), :2]) / 2
    np.testing.assert_allclose(s.joints_2d_px[0, MPI15.index("pelvis")], mid_hip)
    np.testing.assert_allclose(s.joints_2d_px[0, MPI15.index("r_elbow")], raw[COCO17.index("r_elbow"), :2])
    assert s.visibility[0, MPI15.index("head_top")] == 0
    assert s.visibility[0, MPI15.index("pelvis")] == VISIBLE


def test_errors_name_the_problem(tmp_path):
    path, root = _coco_fixture(tmp_path)
    spec = {"name": "coco", "annotations": str(path), "image_root": str(root)}
    with pytest.raises(DatasetError, match="not found"):
        open_dataset({**spec, "annotations": str(tmp_path / "nope.json")})
    bad = tmp_path / "bad.json"
    bad.write_text("{\"images\": [")
    with pytest.raises(DatasetError, match="bad.json: invalid JSON"):
        open_dataset({**spec, "annotations": str(bad)})
    data = json.loads(path.read_text())
    del data["annotations"][3]["keypoints"]
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(data))
    with pytest.raises(DatasetError, match="annotation index 3 has no key 'keypoints'"):
        open_dataset({**spec, "annotations": str(broken)})
    data["annotations"][3]["keypoints"] = [1.0] * 50
    broken.write_text(json.dumps(data))
    with pytest.raises(DatasetError, match=r"annotation index 3 keypoints has shape \(50,\)"):
        open_dataset({**spec, "annotations": str(broken)})
    (root / "000000000003.jpg").unlink()
    ds = open_dataset(spec)
    with pytest.raises(DatasetError, match="000000000003.jpg: image not found"):
        ds[1]
    with pytest.raises(DatasetError, match="unknown dataset 'h36m'; known datasets: synthetic, muco"):
        open_dataset({"name": "h36m"})
    with pytest.raises(DatasetError, match="dataset 'coco' needs both 'annotations'"):
        open_dataset({"name": "coco", "annotations": str(path)})
    with pytest.raises(DatasetError, match="dataset 'coco': unknown option"):
        open_dataset({**spec, "flavour": "salty"})


def test_muco_wrong_joint_count_names_annotation(tmp_path):
    path, root, _ = _coco_style_3d(tmp_path, mupots=False)
    data = json.loads(path.read_text())
    data["annotations"][2]["keypoints_cam"] = data["annotations"][2]["keypoints_cam"][:17]
    path.write_text(json.dumps(data))
    with pytest.raises(DatasetError, match=r"MuCo-3DHP.json: annotation index 2 keypoints_cam has shape \(17, 3\)"):
        open_dataset({"name": "muco", "annotations": str(path), "image_root": str(root)})


def test_registry_opens_the_synthetic_generator():
    synthetic = pytest.importorskip("drm_core.data.synthetic")
    ds = open_dataset({"name": "synthetic", "seed": 3, "length": 4})
    assert isinstance(ds, synthetic.SyntheticDataset) and len(ds) == 4
    sample = augment(ds[1], np.random.default_rng(0))  # generated samples go through augmentation too
    labelled = sample.visibility > 0
    uv = project(sample.joints_3d_m[labelled], sample.camera)
    assert np.abs(uv - sample.joints_2d_px[labelled]).max() < 1e-3
