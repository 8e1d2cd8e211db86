"""Rosbag replay evaluation: run the model over a recorded bag exactly as the node would, offline.

python -m drm_ros.replay BAG --out OUT_DIR [--model PATH] [--image-topic T] [--camera-info-topic T]
                         [--gt-topic /ground_truth/poses]
Writes OUT_DIR/poses (a rosbag2 with drm_ros/msg/PoseArray3D on /drm/poses, stamped like the images),
OUT_DIR/summary.json and, when the bag holds ground-truth PoseArray3D messages, the benchmark report.
Bags are read and written with rosbags (no rosbag2 here); messages are (de)serialised by rclpy, so the
node's own conversion functions serve both.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from rclpy.serialization import deserialize_message, serialize_message
from rosbags.rosbag2 import Reader, ReaderError, Writer
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from tqdm import tqdm

import drm_ros.msg as drm_msgs
from drm_core.camera import InvalidCameraError
from drm_core.checkpoint import CheckpointError
from drm_core.evaluation.mupots import FrameRecord, evaluate_mupots
from drm_core.evaluation.report import write_report
from drm_core.predictor import InvalidImageError, load_predictor
from drm_ros.conversions import BadImageError, camera_from_info, image_to_rgb, poses_to_msg

IMAGE_TYPES = {"sensor_msgs/msg/Image": Image, "sensor_msgs/msg/CompressedImage": CompressedImage}
POSES_TYPE = "drm_ros/msg/PoseArray3D"
MSG_DIR = Path(__file__).resolve().parents[1] / "msg"


class ReplayError(RuntimeError):
    """A bag that cannot be replayed: missing, unreadable or without the topics asked for."""


def _topic(reader: Reader, wanted: str | None, types: set[str], what: str) -> str:
    topics = {c.topic: c.msgtype for c in reader.connections}
    if wanted:
        if wanted not in topics:
            raise ReplayError(f"topic {wanted!r} is not in the bag; it has {sorted(topics)}")
        return wanted
    found = sorted(t for t, m in topics.items() if m in types)
    if len(found) != 1:
        raise ReplayError(f"cannot tell the {what} topic ({found or 'none'} of types {sorted(types)}): "
                          f"name it with --{what.replace(' ', '-')}-topic")
    return found[0]


def _gt_arrays(msg) -> tuple[np.ndarray, np.ndarray]:
    xyz = np.array([[[k.position.x, k.position.y, k.position.z] for k in p.keypoints] for p in msg.people])
    uv = np.array([[[k.u, k.v] for k in p.keypoints] for p in msg.people])
    return xyz.reshape(len(msg.people), -1, 3), uv.reshape(len(msg.people), -1, 2)


def replay(bag: Path, out: Path, model: str | None = None, image_topic: str | None = None,
           info_topic: str | None = None, gt_topic: str | None = "/ground_truth/poses", use_rectified: bool = False,
           device: str = "auto") -> dict:
    predictor = load_predictor(model, device=device)
    out.mkdir(parents=True, exist_ok=True)
    try:
        reader = Reader(bag)
        reader.open()
    except (ReaderError, OSError, Exception) as err:  # rosbags raises several types for damaged bags
        raise ReplayError(f"bag {bag}: cannot be opened ({type(err).__name__}: {err})") from err
    cameras, ground_truth, records = {}, {}, []
    frames = processed = people = 0
    skipped: dict[str, int] = {}
    times_ms: list[float] = []
    try:
        image_topic = _topic(reader, image_topic, set(IMAGE_TYPES), "image")
        info_topic = _topic(reader, info_topic, {"sensor_msgs/msg/CameraInfo"}, "camera info")
        topics = {c.topic: c.msgtype for c in reader.connections}
        gt_topic = gt_topic if gt_topic in topics and topics[gt_topic] == POSES_TYPE else None
        # Ground truth may come after its image in the bag: read it first.
        if gt_topic:
            for conn, _, raw in reader.messages([c for c in reader.connections if c.topic == gt_topic]):
                msg = deserialize_message(raw, drm_msgs.PoseArray3D)
                ground_truth[(msg.header.stamp.sec, msg.header.stamp.nanosec)] = msg
        wanted = [c for c in reader.connections if c.topic in (image_topic, info_topic)]
        total = sum(c.msgcount for c in wanted if c.topic == image_topic)
        poses_bag = out / "poses"
        if poses_bag.exists():
            raise ReplayError(f"{poses_bag} exists already: choose another --out")
        with Writer(poses_bag, version=9) as writer:
            conn_out = writer.add_connection("/drm/poses", POSES_TYPE, typestore=drm_typestore())
            bar = tqdm(total=total, desc="replay", unit="frame")
            for conn, timestamp, raw in reader.messages(wanted):
                if conn.topic == info_topic:
                    info = deserialize_message(raw, CameraInfo)
                    try:
                        cameras[info.header.frame_id] = camera_from_info(info, use_rectified)
                    except InvalidCameraError as err:
                        key = f"bad CameraInfo: {err}"[:80]
                        skipped[key] = skipped.get(key, 0) + 1
                    continue
                frames += 1
                bar.update()
                msg = deserialize_message(raw, IMAGE_TYPES[conn.msgtype])
                camera = cameras.get(msg.header.frame_id)
                if camera is None:
                    skipped["no CameraInfo yet"] = skipped.get("no CameraInfo yet", 0) + 1
                    continue
                try:
                    start = time.perf_counter()
                    poses = predictor.predict(image_to_rgb(msg), camera)
                    times_ms.append((time.perf_counter() - start) * 1e3)
                except (BadImageError, InvalidImageError) as err:
                    key = f"bad image: {err}"[:80]
                    skipped[key] = skipped.get(key, 0) + 1
                    continue
                processed += 1
                people += len(poses)
                writer.write(conn_out, timestamp, serialize_message(poses_to_msg(poses, msg.header,
                                                                                 predictor.skeleton, drm_msgs)))
                gt = ground_truth.get((msg.header.stamp.sec, msg.header.stamp.nanosec))
                if gt is not None:
                    gt_xyz, gt_uv = _gt_arrays(gt)
                    records.append(FrameRecord(msg.header.frame_id, poses.joints_cam_m, poses.joints_uv_px, gt_xyz,
                                               gt_uv, image_id=f"{msg.header.stamp.sec}.{msg.header.stamp.nanosec}"))
            bar.close()
    except ReaderError as err:
        raise ReplayError(f"bag {bag}: unreadable part ({err})") from err
    finally:
        reader.close()
    summary = {"bag": str(bag), "image_topic": image_topic, "frames": frames, "processed": processed,
               "skipped": skipped, "people_per_frame": people / processed if processed else 0.0,
               "inference_ms_p50": float(np.percentile(times_ms, 50)) if times_ms else None,
               "model": predictor.description, "ground_truth_frames": len(records)}
    if records:
        result = evaluate_mupots(records, rescale_bones=False)
        write_report(out, result, f"replay of {bag.name}")
        summary["metrics"] = {"all_people": result.to_dict()["all_people"], "matched": result.to_dict()["matched"]}
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def drm_typestore():
    """rosbags' Kilted typestore with this package's messages registered (from msg/, the one definition)."""
    from rosbags.typesys import Stores, get_typestore, get_types_from_msg

    store = get_typestore(Stores.ROS2_KILTED)
    for path in sorted(MSG_DIR.glob("*.msg")):
        store.register(get_types_from_msg(path.read_text(encoding="utf-8"), f"drm_ros/msg/{path.stem}"))
    return store


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Replay a rosbag2 through the DRM model.")
    parser.add_argument("bag", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--model", help="model file; default: the shipped model")
    parser.add_argument("--image-topic")
    parser.add_argument("--camera-info-topic")
    parser.add_argument("--gt-topic", default="/ground_truth/poses")
    parser.add_argument("--rectified", action="store_true", help="images are rectified: use CameraInfo.p")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    args = parser.parse_args(argv)
    if not args.bag.exists():
        print(f"error: bag {args.bag}: no such file or directory", file=sys.stderr)
        return 1
    try:
        summary = replay(args.bag, args.out, args.model, args.image_topic, args.camera_info_topic, args.gt_topic,
                         args.rectified, args.device)
    except (ReplayError, CheckpointError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(json.dumps({k: v for k, v in summary.items() if k != "metrics"}, indent=2))
    if "metrics" in summary:
        print(f"report in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
