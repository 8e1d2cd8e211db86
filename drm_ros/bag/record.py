"""Record a rosbag2 (MCAP by default) from a video file, an image folder or a synthetic sequence.

python -m drm_ros.record SOURCE --out BAG [--camera-info cam.yaml | --qca calib.qca.txt [--qca-camera SERIAL] |
                         --hfov-deg DEG] [--fps F] [--start-time SEC] [--max-frames N] [--every K]
                         [--compressed jpeg|png] [--frame-id F] [--storage mcap|sqlite3]

SOURCE is
- a video file (anything OpenCV reads; its own frame rate unless --fps), or
- a folder of images (png, jpg, jpeg, bmp, tif, tiff, in name order; --fps, default 30), or
- `synthetic-walk` (drm_core.data.synthetic_walk: people walking across one synthetic scene, ground truth with
  identities and velocities in Person3D.velocity; --speed LOW HIGH sets their speeds) or `synthetic` (independent synthetic scenes, drm_core.data.synthetic), with --frames and --seed, or
- `dataset`: a sequence of a dataset drm_core reads (--dataset mupots|panoptic|muco|..., --annotations,
  --image-root, optionally --sequence TS1 to keep one sequence, in the reader's order), with its own cameras and
  ground truth in MPI15 (metric; person ids are the order of the annotations in each image; MuPoTS people marked
  invalid are left out). Replaying it scores MuPoTS-style without bone rescaling (the official MuPoTS scoring
  needs the 17-joint records: drm_core.evaluation.cli).
Intrinsics for video and images come from a CameraInfo YAML (the camera_calibration / camera_info_manager
format), a Qualisys calibration (`.qca.txt`, read as pose2sim reads it) or, as a last resort, a horizontal field of
view (a guess: absolute depth then scales with the focal length's error). The synthetic sources carry their own.

The bag holds /camera/image_raw (sensor_msgs/Image rgb8, or CompressedImage on /camera/image_raw/compressed),
/camera/camera_info (one per image, same header) and, for synthetic sources, /ground_truth/poses
(drm_ros/PoseArray3D, person ids = ground-truth identities), all written at the image's stamp. An
interrupted recording (Ctrl-C, SIGTERM) closes the bag properly with the frames written so far.
No ROS runtime is needed (rosbags writes the bag; rclpy only serialises).
"""
from __future__ import annotations

import argparse
import math
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml
from builtin_interfaces.msg import Time
from rclpy.serialization import serialize_message
from rosbags.rosbag2 import StoragePlugin, Writer
from std_msgs.msg import Header
from tqdm import tqdm

from drm_core.camera import Camera, InvalidCameraError
from drm_core.data.errors import DatasetError
from drm_core.skeleton import MPI15
from drm_core.pose_types import Poses3D, Sample
from drm_ros.sim.camera_sim import FRAME_ID, camera_info_of
from drm_ros.frame.image_conversion import rgb_to_compressed, rgb_to_image
from drm_ros.signals import JOB_STOP, GracefulStop
from drm_ros.frame.pose_messages import poses_to_msg
from drm_ros.bag.schema import GT_TOPIC, IMAGE_TOPIC, INFO_TOPIC, POSES_TYPE, drm_typestore

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"}
SYNTHETIC = ("synthetic-walk", "synthetic")
DATASET = "dataset"


class RecordError(ValueError):
    """A source or calibration that cannot be recorded, with what was wrong and where."""


def camera_from_yaml(path: Path) -> Camera:
    """Camera of a CameraInfo YAML (image_width, image_height, camera_matrix, distortion_model,
    distortion_coefficients), as camera_calibration writes it."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        K = np.asarray(data["camera_matrix"]["data"], float).reshape(3, 3)
        dist = np.asarray((data.get("distortion_coefficients") or {}).get("data", []), float)
        return Camera(K, int(data["image_width"]), int(data["image_height"]), dist,
                      data.get("distortion_model") or "plumb_bob")
    except (OSError, yaml.YAMLError, KeyError, TypeError, ValueError) as err:
        raise RecordError(f"camera info {path}: cannot be read as a CameraInfo YAML ({type(err).__name__}: {err})") \
            from err


def camera_from_qca(path: Path, serial: str | None = None) -> Camera:
    """Camera `serial` (default: the first) of a Qualisys .qca.txt calibration, read as pose2sim's
    calibration.read_qca does: sensor units of 1/64 pixel, principal point relative to the video field of view,
    distortion k1, k2, p1, p2 (divided by 64 as pose2sim does)."""
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as err:
        raise RecordError(f"calibration {path}: not a readable Qualisys .qca.txt XML ({err})") from err
    cameras = root.findall("cameras/camera")
    serials = [c.get("serial") for c in cameras]
    if not cameras:
        raise RecordError(f"calibration {path}: no cameras/camera element")
    chosen = cameras[0] if serial is None else next((c for c in cameras if c.get("serial") == serial), None)
    if chosen is None:
        raise RecordError(f"calibration {path}: no camera with serial {serial!r}; it has {serials}")
    try:
        fov, intr = chosen.find("fov_video"), chosen.find("intrinsic")
        left, top = float(fov.get("left")), float(fov.get("top"))
        width = int(float(fov.get("right")) - left + 1)
        height = int(float(fov.get("bottom")) - top + 1)
        f = {k: float(intr.get(k)) / 64 for k in ("focalLengthU", "focalLengthV", "centerPointU", "centerPointV",
                                                   "radialDistortion1", "radialDistortion2",
                                                   "tangentalDistortion1", "tangentalDistortion2")}
    except (AttributeError, TypeError, ValueError) as err:
        raise RecordError(f"calibration {path}, camera {chosen.get('serial')!r}: missing or bad fov_video or "
                          f"intrinsic attributes ({err})") from err
    K = np.array([[f["focalLengthU"], 0, f["centerPointU"] - left], [0, f["focalLengthV"], f["centerPointV"] - top],
                  [0, 0, 1.0]])
    dist = np.array([f["radialDistortion1"], f["radialDistortion2"], f["tangentalDistortion1"],
                     f["tangentalDistortion2"], 0.0])
    return Camera(K, width, height, dist)


def camera_from_hfov(width: int, height: int, hfov_deg: float) -> Camera:
    """A pinhole guess: principal point at the centre, square pixels, the given horizontal field of view."""
    if not 1.0 < hfov_deg < 179.0:
        raise RecordError(f"--hfov-deg {hfov_deg} must lie between 1 and 179 degrees")
    fx = width / 2 / math.tan(math.radians(hfov_deg) / 2)
    return Camera(np.array([[fx, 0, (width - 1) / 2], [0, fx, (height - 1) / 2], [0, 0, 1.0]]), width, height)


@dataclass
class Frame:
    rgb: np.ndarray
    t_s: float  # from the start of the recording
    camera: Camera
    ground_truth: Poses3D | None = None
    ids: list[int] | None = None
    velocities_m_s: np.ndarray | None = None  # (P, 3) ground-truth velocities of the people of ground_truth


def _video_frames(path: Path, fps: float | None, every: int) -> tuple[Iterator[tuple[np.ndarray, float]], int, float]:
    import cv2

    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise RecordError(f"video {path}: OpenCV cannot open it")
    rate = fps or cap.get(cv2.CAP_PROP_FPS) or 0.0
    if not rate > 0:
        raise RecordError(f"video {path}: no frame rate in the file; give --fps")
    count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)

    def frames():
        i = 0
        try:
            while True:
                ok, bgr = cap.read()
                if not ok:
                    return
                if i % every == 0:
                    yield bgr[..., ::-1].copy(), i / rate
                i += 1
        finally:
            cap.release()
    return frames(), (count + every - 1) // every, rate


def _folder_frames(path: Path, fps: float, every: int) -> tuple[Iterator[tuple[np.ndarray, float]], int]:
    import cv2

    files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)[::every]
    if not files:
        raise RecordError(f"image folder {path}: no {sorted(IMAGE_SUFFIXES)} files")

    def frames():
        for i, file in enumerate(files):
            bgr = cv2.imread(str(file), cv2.IMREAD_COLOR)
            if bgr is None:
                raise RecordError(f"image {file}: OpenCV cannot read it")
            yield bgr[..., ::-1].copy(), i * every / fps
    return frames(), len(files)


def _ground_truth(sample: Sample) -> Poses3D:
    conf = np.clip(sample.visibility.astype(float) / 2, 0, 1)  # visible 1, occluded 0.5, unlabelled 0
    return Poses3D(sample.joints_3d_m, sample.joints_2d_px, conf, np.ones(sample.num_people), MPI15.joint_names)


def synthetic_frames(kind: str, frames: int, seed: int, fps: float, every: int = 1,
                     speed_m_s: tuple[float, float] | None = None) -> Iterator[Frame]:
    """Frames of a synthetic source (see the module docstring), with ground truth; the walk's people get speeds
    drawn from `speed_m_s` (None: WalkConfig's default) and their velocities go into the ground truth."""
    from dataclasses import replace

    if kind == "synthetic-walk":
        from drm_core.data.synthetic_walk import SyntheticWalk, WalkConfig

        config = WalkConfig(frames=frames, fps=fps, **({"speed_m_s": speed_m_s} if speed_m_s else {}))
        walk = SyntheticWalk(replace(config, scene=_with_seed(config.scene, seed)))
        for i in range(0, frames, every):
            sample = walk[i]
            yield Frame(sample.image, walk.time_s(i), sample.camera, _ground_truth(sample), sample.meta["person_ids"],
                        sample.meta["velocities_m_s"])
    else:
        from drm_core.data.synthetic import SyntheticConfig, SyntheticDataset

        dataset = SyntheticDataset(SyntheticConfig(sizes=((640, 480),), people=(1, 6), seed=seed), frames)
        for i in range(0, frames, every):
            sample = dataset[i]
            yield Frame(sample.image, i / fps, sample.camera, _ground_truth(sample), list(range(sample.num_people)))


def dataset_frames(name: str, annotations: str | None, image_root: str | None, sequence: str | None, fps: float,
                   every: int = 1) -> tuple[Iterator[Frame], int]:
    """Frames of a drm_core dataset (see the module docstring), with ground truth; (frames, how many)."""
    from drm_core.data.registry import open_dataset

    try:
        data = open_dataset({"name": name, "annotations": annotations, "image_root": image_root})
    except (DatasetError, OSError) as err:
        raise RecordError(f"dataset {name!r}: {err}") from err

    def frames():
        kept = 0
        for i in range(len(data)):
            sample = data[i]
            if sequence and sample.meta.get("sequence") != sequence:
                continue
            kept += 1
            if (kept - 1) % every:
                continue
            if not sample.has_3d:
                raise RecordError(f"dataset {name!r} image {sample.image_id}: no 3D ground truth (2D-only data)")
            valid = np.asarray(sample.meta.get("gt_valid", np.ones(sample.num_people, bool)), bool)
            keep = np.flatnonzero(valid)
            gt = _ground_truth(sample)
            gt = Poses3D(gt.joints_cam_m[keep], gt.joints_uv_px[keep], gt.joint_conf[keep], gt.scores[keep],
                         gt.joint_names)
            yield Frame(sample.image, (kept - 1) / fps, sample.camera, gt, keep.tolist())
        if not kept:
            raise RecordError(f"dataset {name!r}: no image of sequence {sequence!r}")
    # The length is known only without a sequence filter (finding a sequence's images means reading them).
    return frames(), 0 if sequence else len(range(0, len(data), every))


def _with_seed(config, seed: int):
    from dataclasses import replace

    return replace(config, seed=seed)


@dataclass(frozen=True)
class RecordOptions:
    fps: float | None = None
    start_time_s: float | None = None  # None: now
    max_frames: int = 0  # 0: all
    every: int = 1
    compressed: str = ""  # "", "jpeg" or "png"
    frame_id: str = FRAME_ID
    storage: str = "mcap"
    camera_info: Path | None = None
    qca: Path | None = None
    qca_camera: str | None = None
    hfov_deg: float | None = None
    synthetic_frames: int = 60
    seed: int = 7
    dataset: str | None = None  # for the `dataset` source: a drm_core.data.registry name
    annotations: str | None = None
    image_root: str | None = None
    sequence: str | None = None
    walk_speed_m_s: tuple[float, float] | None = None  # synthetic-walk: speeds drawn from (low, high); None: default


def _source(source: str, options: RecordOptions) -> tuple[Iterator[Frame], int, str]:
    """(frames, how many (0: unknown), a description)."""
    if source in SYNTHETIC:  # (a file or folder of that name would need ./ in front)
        fps = options.fps or 10.0
        total = len(range(0, options.synthetic_frames, options.every))
        speed = options.walk_speed_m_s
        return (synthetic_frames(source, options.synthetic_frames, options.seed, fps, options.every, speed), total,
                f"{source} seed {options.seed}, {options.synthetic_frames} frames at {fps} fps"
                + (f", speeds {speed[0]:g}-{speed[1]:g} m/s" if speed and source == "synthetic-walk" else ""))
    if source == DATASET:
        if not options.dataset:
            raise RecordError("source 'dataset' needs --dataset NAME (and --annotations, --image-root)")
        fps = options.fps or 30.0
        frames, total = dataset_frames(options.dataset, options.annotations, options.image_root, options.sequence,
                                       fps, options.every)
        return frames, total, (f"dataset {options.dataset}" + (f" sequence {options.sequence}" if options.sequence
                                                                else "") + f" at {fps:g} fps")
    path = Path(source)
    if not path.exists():
        raise RecordError(f"source {path}: no such file or folder (or give one of {', '.join(SYNTHETIC)})")
    if path.is_dir():
        fps = options.fps or 30.0
        raw, total = _folder_frames(path, fps, options.every)
        what = f"image folder {path} at {fps} fps"
    else:
        raw, total, fps = _video_frames(path, options.fps, options.every)
        what = f"video {path} at {fps:g} fps"
    given = [n for n, v in (("--camera-info", options.camera_info), ("--qca", options.qca),
                            ("--hfov-deg", options.hfov_deg)) if v]
    if len(given) != 1:
        raise RecordError(f"{what}: give exactly one of --camera-info, --qca or --hfov-deg for the intrinsics"
                          + (f" (got {', '.join(given)})" if given else ""))
    fixed = (camera_from_yaml(options.camera_info) if options.camera_info else
             camera_from_qca(options.qca, options.qca_camera) if options.qca else None)

    def frames():
        camera = fixed
        for rgb, t in raw:
            h, w = rgb.shape[:2]
            if camera is None:
                camera = camera_from_hfov(w, h, options.hfov_deg)
            if (camera.width, camera.height) != (w, h):
                raise RecordError(f"{what}: the intrinsics are for {camera.width}x{camera.height} images, the "
                                  f"frames are {w}x{h}")
            yield Frame(rgb, t, camera)
    return frames(), total, what


def record(source: str, out: Path, options: RecordOptions = RecordOptions()) -> dict:
    """Write the bag `out` from `source` (see the module docstring); a summary dict. RecordError for bad input."""
    if out.exists():
        raise RecordError(f"{out} exists already: choose another --out")
    if options.every < 1 or options.max_frames < 0 or options.compressed not in ("", "jpeg", "png"):
        raise RecordError(f"bad options: --every {options.every} (>= 1), --max-frames {options.max_frames} (>= 0), "
                          f"--compressed {options.compressed!r} (jpeg or png)")
    frames, total, what = _source(source, options)
    if options.max_frames:
        total = min(total, options.max_frames) if total else options.max_frames
    start = time.time() if options.start_time_s is None else options.start_time_s
    store = drm_typestore()
    storage = StoragePlugin.MCAP if options.storage == "mcap" else StoragePlugin.SQLITE3
    image_type, image_topic = (("sensor_msgs/msg/CompressedImage", IMAGE_TOPIC + "/compressed") if options.compressed
                               else ("sensor_msgs/msg/Image", IMAGE_TOPIC))
    written, with_gt = 0, 0
    out.parent.mkdir(parents=True, exist_ok=True)
    with GracefulStop(announce=JOB_STOP) as interrupt, Writer(out, version=9, storage_plugin=storage) as writer, \
            tqdm(total=total or None, desc=f"record {out.name}", unit="frame") as bar:
        c_img = writer.add_connection(image_topic, image_type, typestore=store)
        c_info = writer.add_connection(INFO_TOPIC, "sensor_msgs/msg/CameraInfo", typestore=store)
        c_gt = None
        for frame in frames:
            if interrupt.requested or (options.max_frames and written >= options.max_frames):
                break
            ns = int(round((start + frame.t_s) * 1e9))
            header = Header(stamp=Time(sec=ns // 10**9, nanosec=ns % 10**9), frame_id=options.frame_id)
            image = (rgb_to_compressed(frame.rgb, options.compressed, header) if options.compressed
                     else rgb_to_image(frame.rgb, "rgb8", header))
            # CameraInfo first at the same bag time: a player publishing in bag order delivers it before its image.
            writer.write(c_info, ns, serialize_message(camera_info_of(frame.camera, header)))
            writer.write(c_img, ns, serialize_message(image))
            if frame.ground_truth is not None:
                if c_gt is None:
                    c_gt = writer.add_connection(GT_TOPIC, POSES_TYPE, typestore=store)
                writer.write(c_gt, ns, serialize_message(
                    poses_to_msg(frame.ground_truth, header, MPI15, frame.ids, frame.velocities_m_s)))
                with_gt += 1
            written += 1
            bar.update()
    return {"bag": str(out), "source": what, "frames": written, "ground_truth_frames": with_gt,
            "image_topic": image_topic, "camera_info_topic": INFO_TOPIC, "interrupted": interrupt.requested,
            "storage": options.storage}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Record a rosbag2 from a video, an image folder or a synthetic "
                                                 "sequence (no ROS runtime needed).")
    parser.add_argument("source", help=f"video file, image folder, or one of {', '.join(SYNTHETIC)}, {DATASET}")
    parser.add_argument("--out", type=Path, required=True, help="bag folder to create")
    parser.add_argument("--camera-info", type=Path, help="CameraInfo YAML (camera_calibration format)")
    parser.add_argument("--qca", type=Path, help="Qualisys .qca.txt calibration (as pose2sim ships)")
    parser.add_argument("--qca-camera", help="camera serial in the .qca.txt; default: the first")
    parser.add_argument("--hfov-deg", type=float, help="no calibration: guess intrinsics from this horizontal FOV")
    parser.add_argument("--fps", type=float, help="frame rate (video: default its own; folder: 30; synthetic: 10)")
    parser.add_argument("--start-time", type=float, help="stamp of the first frame, seconds; default: now")
    parser.add_argument("--max-frames", type=int, default=0, help="stop after this many frames; 0: all")
    parser.add_argument("--every", type=int, default=1, help="keep every K-th frame")
    parser.add_argument("--compressed", default="", choices=("", "jpeg", "png"),
                        help="CompressedImage on /camera/image_raw/compressed instead of a raw rgb8 Image")
    parser.add_argument("--frame-id", default=FRAME_ID)
    parser.add_argument("--storage", default="mcap", choices=("mcap", "sqlite3"))
    parser.add_argument("--frames", type=int, default=60, help="synthetic sources: number of frames")
    parser.add_argument("--seed", type=int, default=7, help="synthetic sources: scene seed")
    parser.add_argument("--speed", type=float, nargs=2, metavar=("LOW", "HIGH"),
                        help="synthetic-walk: walking speeds drawn from LOW..HIGH m/s (default 0.3 0.7)")
    parser.add_argument("--dataset", help="source 'dataset': drm_core reader name (mupots, panoptic, muco, ...)")
    parser.add_argument("--annotations", help="source 'dataset': the annotation file")
    parser.add_argument("--image-root", help="source 'dataset': the image folder")
    parser.add_argument("--sequence", help="source 'dataset': keep only this sequence (for example TS1)")
    args = parser.parse_args(argv)
    options = RecordOptions(args.fps, args.start_time, args.max_frames, args.every, args.compressed, args.frame_id,
                            args.storage, args.camera_info, args.qca, args.qca_camera, args.hfov_deg, args.frames,
                            args.seed, args.dataset, args.annotations, args.image_root, args.sequence,
                            tuple(args.speed) if args.speed else None)
    try:
        summary = record(args.source, args.out, options)
    except (RecordError, InvalidCameraError, DatasetError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"recorded {summary['frames']} frames of {summary['source']} into {summary['bag']} ({args.storage})"
          + (f", ground truth on {summary['ground_truth_frames']}" if summary["ground_truth_frames"] else "")
          + (" (interrupted)" if summary["interrupted"] else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
