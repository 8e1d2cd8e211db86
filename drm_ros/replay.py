"""Rosbag replay evaluation: run the model over a recorded rosbag2 exactly as the node would, offline.

python -m drm_ros.replay BAG --out OUT_DIR [--model PATH] [--engine auto|torch|onnxruntime] [--device auto|cpu|cuda]
                         [--input-size W H] [--image-topic T] [--camera-info-topic T] [--gt-topic T]
                         [--rectified] [--storage sqlite3|mcap]

BAG is a rosbag2 directory (sqlite3 or mcap storage) holding sensor_msgs/Image or CompressedImage and
CameraInfo. Writes
  OUT_DIR/poses/        a rosbag2 with drm_ros/msg/PoseArray3D on /drm/poses, one per processed image, with the
                        image's header and written at the image's bag time;
  OUT_DIR/summary.json  frames, people per frame, inference latency, skipped frames by reason;
  and, when the bag holds ground-truth PoseArray3D messages (--gt-topic, matched to images by header stamp and
  frame_id), drm_core.evaluation's MuPoTS-style metrics (absolute, no bone rescaling) and report.
No ROS runtime is needed: bags are read and written with rosbags; messages are (de)serialised by rclpy so the
node's own functions (drm_ros.conversions, drm_ros.intrinsics, drm_ros.messages) serve both.
"""
from __future__ import annotations

import argparse
import json
import math
import sqlite3
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rclpy.serialization import deserialize_message, serialize_message
from rosbags.rosbag2 import Reader, StoragePlugin, Writer
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from tqdm import tqdm

from drm_core.camera import InvalidCameraError
from drm_ros.conversions import BadImageError, image_to_rgb
from drm_ros.intrinsics import IntrinsicsMismatchError, IntrinsicsStore, MissingIntrinsicsError
from drm_ros.params import ENGINES
from drm_ros.messages import poses_to_msg
from drm_ros.msg import PoseArray3D

IMAGE_TYPES = {"sensor_msgs/msg/Image": Image, "sensor_msgs/msg/CompressedImage": CompressedImage}
INFO_TYPE = "sensor_msgs/msg/CameraInfo"
POSES_TYPE = "drm_ros/msg/PoseArray3D"
POSES_TOPIC = "/drm/poses"  # the node's default poses_topic, resolved
MSG_DIR = Path(__file__).resolve().parents[1] / "msg"


class ReplayError(RuntimeError):
    """A bag that cannot be replayed: missing, unreadable, damaged or without the topics asked for."""


@dataclass(frozen=True)
class ReplayOptions:
    model: str | None = None  # None: the shipped model
    engine: str = "auto"
    device: str = "auto"
    input_size: tuple[int, int] | None = None  # (w, h); None: the model's own
    image_topic: str | None = None  # None: the bag's only Image/CompressedImage topic
    info_topic: str | None = None  # None: the bag's only CameraInfo topic
    gt_topic: str | None = "/ground_truth/poses"  # used when present with type PoseArray3D
    use_rectified: bool = False
    storage: str = "sqlite3"  # of the output bag


def drm_typestore():
    """rosbags' Kilted typestore with this package's messages registered (from msg/, the one definition)."""
    from rosbags.typesys import Stores, get_typestore, get_types_from_msg

    store = get_typestore(Stores.ROS2_KILTED)
    for path in sorted(MSG_DIR.glob("*.msg")):
        store.register(get_types_from_msg(path.read_text(encoding="utf-8"), f"drm_ros/msg/{path.stem}"))
    return store


def _topic(topics: dict[str, str], wanted: str | None, types: set[str], what: str, flag: str) -> str:
    """The topic to read: `wanted` (checked to exist with a right type) or the bag's only one of `types`."""
    if wanted:
        if wanted not in topics:
            raise ReplayError(f"{what} topic {wanted!r} is not in the bag; it has {sorted(topics)}")
        if topics[wanted] not in types:
            raise ReplayError(f"{what} topic {wanted!r} has type {topics[wanted]}, expected one of {sorted(types)}")
        return wanted
    found = sorted(t for t, m in topics.items() if m in types)
    if len(found) != 1:
        raise ReplayError(f"cannot tell the {what} topic: the bag has {found or 'none'} of types {sorted(types)}; "
                          f"name it with {flag}")
    return found[0]


def _gt_arrays(msg: PoseArray3D) -> tuple[np.ndarray, np.ndarray]:
    people = len(msg.people)
    xyz = np.array([[[k.position.x, k.position.y, k.position.z] for k in p.keypoints] for p in msg.people])
    uv = np.array([[[k.u, k.v] for k in p.keypoints] for p in msg.people])
    return xyz.reshape(people, -1, 3), uv.reshape(people, -1, 2)


def _json_safe(value):
    """NaN becomes null so summary.json is strict JSON."""
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _key(header) -> tuple[str, int, int]:
    return header.frame_id, header.stamp.sec, header.stamp.nanosec


def _open(bag: Path) -> Reader:
    if not bag.exists():
        raise ReplayError(f"bag {bag}: no such file or directory")
    if not bag.is_dir():
        raise ReplayError(f"bag {bag}: not a rosbag2 directory (give the folder that holds metadata.yaml)")
    try:
        reader = Reader(bag)
        reader.open()
    except Exception as err:  # rosbags raises several types (ReaderError, sqlite3, yaml, KeyError) for damage
        raise ReplayError(f"bag {bag}: cannot be opened ({type(err).__name__}: {err})") from err
    return reader


def replay(bag: Path, out: Path, options: ReplayOptions = ReplayOptions()) -> dict:
    """Replay `bag` into `out` (see the module docstring); the summary dict. ReplayError for a bad bag."""
    poses_bag = out / "poses"
    if poses_bag.exists():
        raise ReplayError(f"{poses_bag} exists already: choose another --out")
    reader = _open(bag)
    try:
        return _replay(reader, bag, out, poses_bag, options)
    except (sqlite3.Error, EOFError, OSError) as err:  # damage found while reading
        raise ReplayError(f"bag {bag}: damaged or truncated ({type(err).__name__}: {err})") from err
    except Exception as err:
        if type(err).__module__.startswith("rosbags"):
            raise ReplayError(f"bag {bag}: damaged or truncated ({type(err).__name__}: {err})") from err
        raise
    finally:
        reader.close()


def _replay(reader: Reader, bag: Path, out: Path, poses_bag: Path, options: ReplayOptions) -> dict:
    topics = {c.topic: c.msgtype for c in reader.connections}
    image_topic = _topic(topics, options.image_topic, set(IMAGE_TYPES), "image", "--image-topic")
    info_topic = _topic(topics, options.info_topic, {INFO_TYPE}, "camera info", "--camera-info-topic")
    gt_topic = options.gt_topic if topics.get(options.gt_topic or "") == POSES_TYPE else None
    # torch, timm and matplotlib load only now, once the bag and its topics are good: a bad bag fails in a second.
    from drm_core.evaluation.mupots import FrameRecord, evaluate_mupots
    from drm_core.evaluation.report import write_report
    from drm_core.predictor import InvalidImageError, load_predictor

    predictor = load_predictor(options.model, options.engine, options.device, options.input_size)

    ground_truth: dict[tuple[str, int, int], PoseArray3D] = {}
    if gt_topic:  # ground truth may come after its image in the bag: read it first (it is small)
        for _, _, raw in reader.messages([c for c in reader.connections if c.topic == gt_topic]):
            msg = deserialize_message(raw, PoseArray3D)
            ground_truth[_key(msg.header)] = msg

    intrinsics = IntrinsicsStore(options.use_rectified)
    skipped: Counter[str] = Counter()
    people: list[int] = []
    latency_ms: list[float] = []
    records: list = []  # drm_core.evaluation FrameRecords
    frames = 0
    wanted = [c for c in reader.connections if c.topic in (image_topic, info_topic)]
    total = sum(c.msgcount for c in wanted if c.topic == image_topic)
    out.mkdir(parents=True, exist_ok=True)
    storage = StoragePlugin.MCAP if options.storage == "mcap" else StoragePlugin.SQLITE3
    with Writer(poses_bag, version=9, storage_plugin=storage) as writer, \
            tqdm(total=total, desc=f"replay {bag.name}", unit="frame") as bar:
        conn_out = writer.add_connection(POSES_TOPIC, POSES_TYPE, typestore=drm_typestore())

        def process(timestamp: int, raw: bytes, msgtype: str) -> None:
            msg = deserialize_message(raw, IMAGE_TYPES[msgtype])
            try:
                start = time.perf_counter()
                rgb = image_to_rgb(msg)
                camera = intrinsics.camera_for(msg.header.frame_id, rgb.shape[1], rgb.shape[0],
                                               (msg.header.stamp.sec, msg.header.stamp.nanosec))
                poses = predictor.predict(rgb, camera)
                latency_ms.append((time.perf_counter() - start) * 1e3)
            except (BadImageError, InvalidImageError, MissingIntrinsicsError, IntrinsicsMismatchError) as err:
                skipped[type(err).__name__] += 1
                return
            people.append(len(poses))
            writer.write(conn_out, timestamp, serialize_message(poses_to_msg(poses, msg.header, predictor.skeleton)))
            gt = ground_truth.get(_key(msg.header))
            if gt is not None:
                gt_xyz, gt_uv = _gt_arrays(gt)
                records.append(FrameRecord(msg.header.frame_id, poses.joints_cam_m, poses.joints_uv_px, gt_xyz, gt_uv,
                                           image_id=f"{msg.header.stamp.sec}.{msg.header.stamp.nanosec:09d}"))

        # Images wait until every message of their bag time is read, so a CameraInfo recorded at the same time
        # as its image is known before the image whatever order the storage returns them in.
        pending: list[tuple[int, bytes, str]] = []
        for conn, timestamp, raw in reader.messages(wanted):
            if pending and timestamp != pending[0][0]:
                for item in pending:
                    process(*item)
                pending.clear()
            if conn.topic == info_topic:
                try:
                    intrinsics.update(deserialize_message(raw, CameraInfo))
                except InvalidCameraError:
                    skipped["InvalidCameraInfo"] += 1
                continue
            frames += 1
            bar.update()
            pending.append((timestamp, raw, conn.msgtype))
        for item in pending:
            process(*item)

    summary = {
        "bag": str(bag), "image_topic": image_topic, "camera_info_topic": info_topic, "ground_truth_topic": gt_topic,
        "output_bag": str(poses_bag), "model": predictor.description, "input_size": list(predictor.input_size),
        "frames": frames, "processed": len(people), "skipped": dict(skipped),
        "people_per_frame": people, "mean_people": float(np.mean(people)) if people else 0.0,
        # conversion, intrinsics and predict of one image, milliseconds (the node adds transport and queueing)
        "latency_ms": {"mean": float(np.mean(latency_ms)), "p50": float(np.percentile(latency_ms, 50)),
                       "p95": float(np.percentile(latency_ms, 95)), "max": float(np.max(latency_ms))}
        if latency_ms else None,
        "ground_truth_frames": len(records),
    }
    if records:
        result = evaluate_mupots(records, rescale_bones=False)
        write_report(out, result, f"replay of {bag.name}")
        metrics = result.to_dict()
        summary["metrics"] = {k: metrics[k] for k in ("mpjpe_abs_mm", "mpjpe_rel_mm", "root_error_mm", "recall",
                                                      "num_annotated", "num_matched", "matched", "all_people")}
    summary = _json_safe(summary)
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Replay a rosbag2 through the DRM model, as the node would.")
    parser.add_argument("bag", type=Path, help="rosbag2 directory (sqlite3 or mcap)")
    parser.add_argument("--out", type=Path, required=True, help="output folder (poses bag, summary, report)")
    parser.add_argument("--model", help="checkpoint (.pt) or ONNX model; default: the shipped model")
    parser.add_argument("--engine", default="auto", choices=ENGINES,
                        help="auto: onnxruntime on the CPU, torch on a GPU")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    parser.add_argument("--input-size", type=int, nargs=2, metavar=("W", "H"), help="network input size")
    parser.add_argument("--image-topic", help="default: the bag's only Image or CompressedImage topic")
    parser.add_argument("--camera-info-topic", help="default: the bag's only CameraInfo topic")
    parser.add_argument("--gt-topic", default="/ground_truth/poses", help="ground-truth PoseArray3D, if recorded")
    parser.add_argument("--rectified", action="store_true", help="images are rectified: use CameraInfo.p")
    parser.add_argument("--storage", default="sqlite3", choices=("sqlite3", "mcap"), help="of the output bag")
    args = parser.parse_args(argv)
    options = ReplayOptions(args.model, args.engine, args.device, tuple(args.input_size) if args.input_size else None,
                            args.image_topic, args.camera_info_topic, args.gt_topic, args.rectified, args.storage)
    try:
        summary = replay(args.bag, args.out, options)
    except (ReplayError, ValueError) as err:  # ValueError: bad options; CheckpointError: missing/corrupt model
        print(f"error: {err}", file=sys.stderr)
        return 1
    shown = {k: v for k, v in summary.items() if k not in ("metrics", "people_per_frame")}
    print(json.dumps(shown, indent=2))
    if "metrics" in summary:
        m = summary["metrics"]
        print(f"ground truth on {summary['ground_truth_frames']} frames: MPJPE abs {m['mpjpe_abs_mm']} mm, "
              f"rel {m['mpjpe_rel_mm']} mm, root error {m['root_error_mm']} mm, recall {m['recall']}; "
              f"report in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
