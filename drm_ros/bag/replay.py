"""Rosbag replay evaluation: run the model over a recorded rosbag2 exactly as the node would, offline.

python -m drm_ros.replay BAG --out OUT_DIR [--model PATH] [--engine auto|torch|onnxruntime] [--device auto|cpu|cuda]
                         [--input-size W H] [--image-topic T] [--camera-info-topic T] [--gt-topic T]
                         [--rectified] [--storage mcap|sqlite3] [--smooth] [--no-images] [--samples N]

BAG is a rosbag2 directory (sqlite3 or mcap storage) holding sensor_msgs/Image or CompressedImage and
CameraInfo. Writes into OUT_DIR
  bag/                  a rosbag2 (MCAP by default) that plays back in RViz or Foxglove: the input images and
                        camera_info as recorded, and per processed image a drm_ros/msg/PoseArray3D on /drm/poses
                        and a MarkerArray on /drm/markers, with the image's header, at the image's bag time;
                        person ids are track ids (drm_core.tracking), stable across frames;
  summary.json          frames, every skipped frame (bag time, stamp, reason: the node's own error text), people
                        and track ids per frame, latency, label-free quality (bone-length stability per track,
                        joint jitter, track fragmentation, frames with nobody, speed per track);
  report.md             the same for a person, with contact_sheet.jpg (overlays), poses_3d.png (sample frames
                        in 3D), per_frame.png (curves) and birds_eye.png (every track's trail and last velocity
                        from above, over the camera's field of view);
  and, when the bag holds ground-truth PoseArray3D messages (--gt-topic, matched to images by header stamp and
  frame_id), drm_core.evaluation's MuPoTS-style metrics (absolute, no bone rescaling), its report, id switches
  against the ground truth's person ids and, when the ground truth carries velocities (any non-zero
  Person3D.velocity, as synthetic-walk records them), speed and heading errors of the confirmed tracks' velocities.
Ctrl-C or SIGTERM stops after the current frame and writes every output for the frames so far (exit 0).
A bag that is damaged part way gets a report of what was read and exit status 1; so does a bag that cannot be
opened (summary.json and report.md say why).
No ROS runtime is needed: bags are read and written with rosbags; messages are (de)serialised by rclpy so the
node's own frame pipeline (drm_ros.frame.pipeline) serves both.
"""
from __future__ import annotations

import argparse
import json
import shlex
import sqlite3
import sys
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from rclpy.serialization import deserialize_message, serialize_message
from rosbags.rosbag2 import Reader, StoragePlugin, Writer
from sensor_msgs.msg import CameraInfo
from tqdm import tqdm

from drm_core.camera import InvalidCameraError
from drm_core.reporting import json_safe
from drm_core.evaluation.temporal import TrackFrame, id_switches, motion_errors, temporal_metrics
from drm_core.smoothing import OneEuroConfig
from drm_core.tracking import CONFIRMED, TrackerConfig
from drm_ros.signals import JOB_STOP, GracefulStop
from drm_ros.frame.intrinsics import IntrinsicsStore
from drm_ros.frame.pipeline import FrameDropped, FramePipeline
from drm_ros.bag.schema import (IMAGE_TYPES, INFO_TYPE, MARKERS_TOPIC, MARKERS_TYPE, POSES_TOPIC, POSES_TYPE,
                               drm_typestore)
from drm_ros.msg import PoseArray3D
from drm_ros.live.params import ENGINES

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
    storage: str = "mcap"  # of the output bag
    copy_images: bool = True  # input images and camera_info into the output bag
    tracker: TrackerConfig = TrackerConfig()
    smoothing: OneEuroConfig | None = None  # None: off
    samples: int = 12  # frames on the contact sheet


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
    joints = len(msg.joint_names)  # not -1: a frame with nobody in view has no size to infer it from
    return xyz.reshape(people, joints, 3), uv.reshape(people, joints, 2)


def _key(header) -> tuple[str, int, int]:
    return header.frame_id, header.stamp.sec, header.stamp.nanosec


def _stamp(header) -> str:
    return f"{header.stamp.sec}.{header.stamp.nanosec:09d}"


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


def _is_damage(err: Exception) -> bool:
    """An error of reading the bag (not of our code): storage, decoding or rosbags' own."""
    return isinstance(err, (sqlite3.Error, EOFError, OSError)) or type(err).__module__.startswith("rosbags")


def replay(bag: Path, out: Path, options: ReplayOptions = ReplayOptions(), command: str = "") -> dict:
    """Replay `bag` into `out` (see the module docstring); the summary dict, with "error" set when the bag was
    damaged part way. ReplayError for a bag that cannot be replayed at all (its summary is written first)."""
    out_bag = out / "bag"
    if out_bag.exists():
        raise ReplayError(f"{out_bag} exists already: choose another --out")
    try:
        reader = _open(bag)
    except ReplayError as err:
        _write_outputs(out, {"bag": str(bag), "error": str(err), "frames": 0, "processed": 0}, [], None, [])
        raise
    # From here a signal only asks to stop (during the model load too): the outputs are always written.
    with GracefulStop(announce=JOB_STOP) as interrupt:
        try:
            return _Replay(reader, bag, out, out_bag, options, command, interrupt).run()
        finally:
            reader.close()


class _Replay:
    """One replay: the reading loop, the per-frame work and what it collects for the summary and report."""

    def __init__(self, reader: Reader, bag: Path, out: Path, out_bag: Path, options: ReplayOptions, command: str,
                 interrupt: GracefulStop):
        self.reader, self.bag, self.out, self.out_bag, self.options = reader, bag, out, out_bag, options
        self.interrupt = interrupt
        topics = {c.topic: c.msgtype for c in reader.connections}
        try:
            self.image_topic = _topic(topics, options.image_topic, set(IMAGE_TYPES), "image", "--image-topic")
            self.info_topic = _topic(topics, options.info_topic, {INFO_TYPE}, "camera info", "--camera-info-topic")
        except ReplayError as err:
            _write_outputs(out, {"bag": str(bag), "error": str(err), "frames": 0, "processed": 0}, [], None, [])
            raise
        self.gt_topic = options.gt_topic if topics.get(options.gt_topic or "") == POSES_TYPE else None
        self.summary: dict = {"bag": str(bag), "image_topic": self.image_topic, "camera_info_topic": self.info_topic,
                              "ground_truth_topic": self.gt_topic, "output_bag": str(out_bag), "command": command}
        self.skipped: list[dict] = []
        self.refused_info: list[dict] = []
        self.per_frame: list[dict] = []
        self.latency_ms: list[float] = []
        self.records: list = []  # drm_core.evaluation FrameRecords
        self.identity: list[dict[int, int]] = []  # per frame with ground truth: {gt person id: track id}
        self.track_frames: list[TrackFrame] = []
        self.motion: list[tuple[int, np.ndarray, np.ndarray]] = []  # (track id, velocity, ground-truth velocity)
        self.gt_has_velocity = False
        self.trails: dict[int, list[tuple[float, float]]] = {}  # track id -> root (x, z) per frame seen
        self.last_velocity: dict[int, np.ndarray] = {}
        self.gt_trails: dict[int, list[tuple[float, float]]] = {}
        self.last_camera: tuple[np.ndarray, int] | None = None  # (K, width) of the last CameraInfo taken
        self.thumbs: list = []
        self.frames = 0

    def run(self) -> dict:
        """Load the model, read the bag through the frame pipeline into the output bag, write the outputs."""
        # torch, timm and matplotlib load only now, once the bag and its topics are good: a bad bag fails in a second.
        from drm_core.evaluation.mupots import FrameRecord
        from drm_core.predictor import load_predictor

        o = self.options
        self.FrameRecord = FrameRecord
        self.predictor = load_predictor(o.model, o.engine, o.device, o.input_size)
        self.pipeline = FramePipeline(self.predictor, IntrinsicsStore(o.use_rectified), o.tracker, o.smoothing)
        self.summary.update(model=self.predictor.description, input_size=list(self.predictor.input_size),
                            tracker=asdict(o.tracker), smoothing=asdict(o.smoothing) if o.smoothing else None)
        error, interrupted = self._read()
        return self._finish(error, interrupted)

    def _read(self) -> tuple[str | None, bool]:
        """Every image of the bag through the pipeline into the output bag; (damage text or None, interrupted)."""
        o, reader, interrupt = self.options, self.reader, self.interrupt
        error, interrupted = None, False
        self.ground_truth: dict[tuple[str, int, int], PoseArray3D] = {}
        copied = [c for c in reader.connections if c.topic in (self.image_topic, self.info_topic)]
        total = sum(c.msgcount for c in copied if c.topic == self.image_topic)
        self.sample_at = set(np.linspace(0, max(total - 1, 0), min(o.samples, total)).round().astype(int).tolist())
        self.out.mkdir(parents=True, exist_ok=True)
        storage = StoragePlugin.MCAP if o.storage == "mcap" else StoragePlugin.SQLITE3
        store = drm_typestore()
        with Writer(self.out_bag, version=9, storage_plugin=storage) as writer, \
                tqdm(total=total, desc=f"replay {self.bag.name}", unit="frame") as bar:
            self.writer = writer
            self.conn_copy = {c.topic: writer.add_connection(c.topic, c.msgtype, typestore=store) for c in copied} \
                if o.copy_images else {}
            self.conn_poses = writer.add_connection(POSES_TOPIC, POSES_TYPE, typestore=store)
            self.conn_markers = writer.add_connection(MARKERS_TOPIC, MARKERS_TYPE, typestore=store)
            try:
                if self.gt_topic:  # ground truth may come after its image in the bag: read it first (it is small)
                    for _, _, raw in reader.messages([c for c in reader.connections if c.topic == self.gt_topic]):
                        msg = deserialize_message(raw, PoseArray3D)
                        self.ground_truth[_key(msg.header)] = msg
                # Images wait until every message of their bag time is read, so a CameraInfo recorded at the same
                # time as its image is known before the image whatever order the storage returns them in.
                pending: list[tuple[int, bytes, str]] = []
                for conn, timestamp, raw in reader.messages(copied):
                    if interrupt.requested:
                        interrupted = True
                        break
                    if pending and timestamp != pending[0][0]:
                        self._flush(pending, bar)
                    if conn.topic == self.info_topic:
                        self._camera_info(timestamp, raw)
                        continue
                    pending.append((timestamp, raw, conn.msgtype))
                self._flush(pending, bar)  # the last bag time (or the one being read when interrupted)
                interrupted = interrupted or interrupt.requested
            except Exception as err:  # noqa: BLE001 - damage part way: report what was read, then say why
                if not _is_damage(err):
                    raise
                error = f"bag {self.bag}: damaged or truncated after {self.frames} images ({type(err).__name__}: {err})"
                tqdm.write(f"error: {error}", file=sys.stderr)
        return error, interrupted

    def _finish(self, error: str | None, interrupted: bool) -> dict:
        """The summary (counts, latency, tracking, metrics against ground truth) and the written outputs."""
        from drm_core.evaluation.mupots import evaluate_mupots
        from drm_core.evaluation.report import write_report

        people = [f["people"] for f in self.per_frame]
        lat = self.latency_ms
        self.summary.update({
            "frames": self.frames, "processed": len(self.per_frame),
            "skipped": dict(Counter(f["reason"] for f in self.skipped)), "skipped_frames": self.skipped,
            "refused_camera_info": self.refused_info,
            "interrupted": interrupted, "error": error,
            "people_per_frame": people, "mean_people": float(np.mean(people)) if people else 0.0,
            # conversion, intrinsics and predict of one image, milliseconds (the node adds transport and queueing)
            "latency_ms": {"mean": float(np.mean(lat)), "p50": float(np.percentile(lat, 50)),
                           "p95": float(np.percentile(lat, 95)), "max": float(np.max(lat))} if lat else None,
            "ground_truth_frames": len(self.records),
        })
        temporal = temporal_metrics(self.track_frames, self.predictor.skeleton.bones)
        self.summary["tracking"] = {k: v for k, v in temporal.to_dict().items() if k != "jitter_per_frame_m_s2"}
        for f, jitter in zip(self.per_frame, temporal.jitter_per_frame_m_s2):
            f["jitter_m_s2"] = None if jitter is None else round(jitter, 3)
        if self.records:
            result = evaluate_mupots(self.records, rescale_bones=False)
            write_report(self.out, result, f"replay of {self.bag.name}")
            metrics = result.to_dict()
            self.summary["metrics"] = {k: metrics[k] for k in ("mpjpe_abs_mm", "mpjpe_rel_mm", "root_error_mm",
                                                               "recall", "num_annotated", "num_matched", "matched",
                                                               "all_people")}
            self.summary["identity"] = id_switches(self.identity).to_dict()
            if self.gt_has_velocity:
                self.summary["motion"] = motion_errors(self.motion).to_dict()
        self.summary["per_frame"] = self.per_frame
        return _write_outputs(self.out, self.summary, self.thumbs, self.predictor.skeleton,
                              temporal.jitter_per_frame_m_s2, self._birds_eye())

    def _birds_eye(self) -> dict:
        """What birds_eye.png draws: every track's trail and last velocity, ground truth, field of view."""
        from drm_core.birds_eye import BirdsEyeTrack, field_of_view
        from drm_ros.bag.replay_report import track_colour

        tracks = [BirdsEyeTrack(tid, np.array(trail), self.last_velocity[tid][[0, 2]], track_colour(tid))
                  for tid, trail in self.trails.items()]
        truth = [BirdsEyeTrack(pid, np.array(trail)) for pid, trail in self.gt_trails.items()]
        fov = field_of_view(*self.last_camera) if self.last_camera else None
        return {"tracks": tracks, "ground_truth": truth, "fov_rad": fov}

    def _camera_info(self, timestamp: int, raw: bytes) -> None:
        try:
            info = deserialize_message(raw, CameraInfo)
        except Exception as err:  # noqa: BLE001 - a corrupt record: rclpy raises several types
            self._refuse_info(timestamp, f"CorruptMessage: cannot be deserialised: {err}")
            return
        self._copy(self.info_topic, timestamp, raw)
        try:
            self.pipeline.camera_info(info)
        except InvalidCameraError as err:  # the node refuses it the same way: the last good one stays
            self._refuse_info(timestamp, f"InvalidCameraError: {err}")
            return
        self.last_camera = (np.array(info.k, float).reshape(3, 3), int(info.width))

    def _refuse_info(self, timestamp: int, why: str) -> None:
        self.refused_info.append({"bag_time_ns": timestamp, "message": why})
        tqdm.write(f"camera info at bag time {timestamp / 1e9:.6f} s refused: {why}", file=sys.stderr)

    def _copy(self, topic: str, timestamp: int, raw: bytes) -> None:
        """An input message into the output bag as recorded (corrupt records are left out)."""
        if topic in self.conn_copy:
            self.writer.write(self.conn_copy[topic], timestamp, raw)

    def _flush(self, pending: list[tuple[int, bytes, str]], bar) -> None:
        for item in pending:
            self._process(*item)
            bar.update()
        pending.clear()

    def _skip(self, timestamp: int, header, reason: str, message: str) -> None:
        entry = {"index": self.frames - 1, "bag_time_ns": timestamp, "stamp": _stamp(header) if header else None,
                 "frame_id": header.frame_id if header else None, "reason": reason, "message": message}
        self.skipped.append(entry)
        tqdm.write(f"skipped frame {entry['index']} (bag time {timestamp / 1e9:.6f} s, stamp {entry['stamp']}, "
                   f"frame_id {entry['frame_id']!r}): {reason}: {message}", file=sys.stderr)

    def _process(self, timestamp: int, raw: bytes, msgtype: str) -> None:
        from drm_ros.bag.replay_report import thumbnail

        self.frames += 1
        index = self.frames - 1
        try:
            msg = deserialize_message(raw, IMAGE_TYPES[msgtype])
        except Exception as err:  # noqa: BLE001 - a corrupt record: rclpy raises several types
            self._skip(timestamp, None, "CorruptMessage", f"image cannot be deserialised: {err}")
            return
        self._copy(self.image_topic, timestamp, raw)
        header = msg.header
        try:
            result = self.pipeline.process(msg)
        except FrameDropped as err:
            self._skip(timestamp, header, err.reason, str(err))
            return
        poses, ids, stamp_s = result.poses, result.ids, result.stamp_s
        self.writer.write(self.conn_poses, timestamp, serialize_message(result.poses_msg))
        self.writer.write(self.conn_markers, timestamp, serialize_message(result.markers_msg))
        self.latency_ms.append(result.compute_ms)
        tracked = result.tracked
        self.track_frames.append(TrackFrame(stamp_s, ids, poses.joints_cam_m, tracked.velocities_m_s))
        root = self.predictor.skeleton.root
        for k, tid in enumerate(ids.tolist()):
            self.trails.setdefault(tid, []).append((float(poses.joints_cam_m[k, root, 0]),
                                                    float(poses.joints_cam_m[k, root, 2])))
            self.last_velocity[tid] = tracked.velocities_m_s[k]
        frame = {"index": index, "bag_time_ns": timestamp, "stamp": _stamp(header), "people": len(poses),
                 "ids": ids.tolist(), "latency_ms": round(result.compute_ms, 2)}
        gt = self.ground_truth.get(_key(header))
        gt_uv = None
        if gt is not None:
            from drm_core.evaluation.matching import match_mupots

            gt_xyz, gt_uv = _gt_arrays(gt)
            self.records.append(self.FrameRecord(header.frame_id, poses.joints_cam_m, poses.joints_uv_px, gt_xyz,
                                                 gt_uv, image_id=_stamp(header)))
            matching = match_mupots(gt_uv, poses.joints_uv_px)
            self.identity.append({int(p.id): int(ids[m]) for p, m in zip(gt.people, matching) if m >= 0})
            for p, m in zip(gt.people, matching):
                v_gt = np.array([p.velocity.x, p.velocity.y, p.velocity.z])
                self.gt_has_velocity = self.gt_has_velocity or bool(np.any(v_gt != 0))
                self.gt_trails.setdefault(int(p.id), []).append((p.root.x, p.root.z))
                if m >= 0 and tracked.states[m] == CONFIRMED:
                    self.motion.append((int(ids[m]), tracked.velocities_m_s[m], v_gt))
            frame["gt_people"] = len(gt.people)
        self.per_frame.append(frame)
        if index in self.sample_at:
            self.thumbs.append(thumbnail(index, stamp_s, result.rgb, poses.joints_uv_px, poses.joints_cam_m,
                                         poses.joint_conf, ids, gt_uv))


def _write_outputs(out: Path, summary: dict, thumbs: list, skeleton, jitter: list,
                   birds_eye: dict | None = None) -> dict:
    """summary.json and report.md (with its pictures when there is something to draw); the summary.
    `birds_eye`: keyword arguments of drm_core.birds_eye.birds_eye_figure for birds_eye.png."""
    from drm_ros.bag.replay_report import contact_sheet, markdown, plot_3d, plot_curves

    out.mkdir(parents=True, exist_ok=True)
    figures = {}
    if skeleton is not None:
        figures = {"contact_sheet": contact_sheet(thumbs, skeleton, out / "contact_sheet.jpg"),
                   "plot_3d": plot_3d(thumbs, skeleton, out / "poses_3d.png"),
                   "curves": plot_curves(summary.get("per_frame", []), jitter, out / "per_frame.png")}
        if birds_eye and birds_eye["tracks"]:
            from drm_core.birds_eye import save_birds_eye

            others = {k: v for k, v in birds_eye.items() if k != "tracks"}
            figures["birds_eye"] = save_birds_eye(out / "birds_eye.png", birds_eye["tracks"], **others)
    summary = json_safe(summary)
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    (out / "report.md").write_text(markdown(summary, figures))
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Replay a rosbag2 through the DRM model, as the node would.")
    parser.add_argument("bag", type=Path, help="rosbag2 directory (sqlite3 or mcap)")
    parser.add_argument("--out", type=Path, required=True, help="output folder (bag, summary, report)")
    parser.add_argument("--model", help="checkpoint (.pt) or ONNX model; default: the shipped model")
    parser.add_argument("--engine", default="auto", choices=ENGINES,
                        help="auto: onnxruntime on the CPU, torch on a GPU")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    parser.add_argument("--input-size", type=int, nargs=2, metavar=("W", "H"), help="network input size")
    parser.add_argument("--image-topic", help="default: the bag's only Image or CompressedImage topic")
    parser.add_argument("--camera-info-topic", help="default: the bag's only CameraInfo topic")
    parser.add_argument("--gt-topic", default="/ground_truth/poses", help="ground-truth PoseArray3D, if recorded")
    parser.add_argument("--rectified", action="store_true", help="images are rectified: use CameraInfo.p")
    parser.add_argument("--storage", default="mcap", choices=("mcap", "sqlite3"), help="of the output bag")
    parser.add_argument("--no-images", action="store_true", help="leave images and camera_info out of the output bag")
    parser.add_argument("--smooth", action="store_true", help="One-Euro smoothing of each track's joints")
    parser.add_argument("--smooth-min-cutoff", type=float, default=1.0, help="Hz; lag at rest 1/(2 pi f)")
    parser.add_argument("--smooth-beta", type=float, default=1.0, help="cutoff increase per m/s of joint speed")
    parser.add_argument("--samples", type=int, default=12, help="frames on the contact sheet")
    args = parser.parse_args(argv)
    try:
        smoothing = OneEuroConfig(args.smooth_min_cutoff, args.smooth_beta) if args.smooth else None
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    options = ReplayOptions(args.model, args.engine, args.device, tuple(args.input_size) if args.input_size else None,
                            args.image_topic, args.camera_info_topic, args.gt_topic, args.rectified, args.storage,
                            not args.no_images, TrackerConfig(), smoothing, args.samples)
    command = shlex.join(["python", "-m", "drm_ros.replay", *(argv if argv is not None else sys.argv[1:])])
    try:
        summary = replay(args.bag, args.out, options, command)
    except (ReplayError, ValueError) as err:  # ValueError: bad options; CheckpointError: missing/corrupt model
        print(f"error: {err}", file=sys.stderr)
        return 1
    shown = {k: v for k, v in summary.items() if k not in ("metrics", "people_per_frame", "per_frame", "tracker",
                                                           "skipped_frames")}
    print(json.dumps(shown, indent=2))
    if "metrics" in summary:
        m = summary["metrics"]
        print(f"ground truth on {summary['ground_truth_frames']} frames: MPJPE abs {m['mpjpe_abs_mm']} mm, "
              f"rel {m['mpjpe_rel_mm']} mm, root error {m['root_error_mm']} mm, recall {m['recall']}; "
              f"id switches {summary['identity']['id_switches']}; report in {args.out}")
    if summary.get("error"):
        print(f"error: {summary['error']}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
