"""The README's main job: drm_node on a stand-in camera (no camera, dataset or GPU needed).

python -m drm_ros.demo [--seconds 10] [--rate 10] [--model PATH] [--device auto] [--source auto] [--out out/demo]

The camera plays real footage when the set-up fetched it (sports2d's demo video with its calibration,
drm_core.real_data.demo_footage; `--source auto`, the default) and synthetic scenes otherwise (`--source
synthetic`). Starts that camera (drm_ros.camera_sim) and the node (drm_ros.node) as real processes talking over
DDS, listens to the node's poses and diagnostics, prints a summary every second (poses/s, people, latency
from image stamp to arrival, frames the node dropped), and at the end writes what the robot saw in the last
frame to OUT: overlay.png (skeletons over the image), people_3d.png (the people in the camera frame) and
birds_eye.png (the last frame's tracks from above with their trails of the last seconds and velocities), plus
summary.json. Exits 1 if no poses arrived; Ctrl-C or SIGTERM at any moment stops it and its children cleanly
(exit 0; the summary and pictures of what arrived so far are still written).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.qos import QoSProfile, QoSReliabilityPolicy
from rclpy.signals import SignalHandlerOptions
from rclpy.time import Time
from sensor_msgs.msg import CameraInfo, Image

from drm_core.drawing import draw_skeleton
from drm_core.real_data.demo_footage import demo_footage
from drm_ros.frame.image_conversion import image_to_rgb
from drm_ros.signals import GracefulStop, run_stoppable
from drm_ros.frame.markers import colour_of
from drm_ros.msg import PoseArray3D

STARTUP_TIMEOUT_S = 180.0  # model load and the camera's first render, on a slow shared CPU


def _bones(msg: PoseArray3D) -> list[tuple[int, int]]:
    return list(zip(msg.bones[::2], msg.bones[1::2]))


def _stamp(header) -> tuple[int, int]:
    return header.stamp.sec, header.stamp.nanosec


def draw_overlay(rgb: np.ndarray, msg: PoseArray3D, path: Path, min_confidence: float = 0.1) -> None:
    """Skeletons, ids and distances drawn over the image the poses came from (dim where confidence is low)."""
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    for person in msg.people:
        c = colour_of(person.id)
        bright = (int(c.b * 255), int(c.g * 255), int(c.r * 255))
        uv = np.array([[k.u, k.v] for k in person.keypoints]).reshape(-1, 2)
        sure = np.array([k.confidence >= min_confidence for k in person.keypoints], bool)
        draw_skeleton(bgr, uv, _bones(msg), bright, thickness=2, joint_radius=3, sure=sure)
        x, y = min(np.round(uv).astype(int).tolist(), key=lambda p: p[1])
        distance = float(np.linalg.norm([person.root.x, person.root.y, person.root.z]))
        cv2.putText(bgr, f"#{person.id} {distance:.1f} m", (x - 25, y - 10), cv2.FONT_HERSHEY_SIMPLEX,
                    0.5, bright, 1, cv2.LINE_AA)
    cv2.imwrite(str(path), bgr)


def plot_3d(msg: PoseArray3D, path: Path) -> None:
    """The people in the camera frame, drawn with up = -y (the optical frame's y points down)."""
    from matplotlib.figure import Figure  # a bare Figure renders with Agg, no pyplot state

    fig = Figure(figsize=(7, 6))
    ax = fig.add_subplot(projection="3d")
    points = [np.zeros(3)]
    for person in msg.people:
        xyz = np.array([[k.position.x, k.position.y, k.position.z] for k in person.keypoints])
        c = colour_of(person.id)
        for a, b in _bones(msg):
            ax.plot(xyz[[a, b], 0], xyz[[a, b], 2], -xyz[[a, b], 1], color=(c.r, c.g, c.b), linewidth=2)
        ax.text(xyz[:, 0].mean(), xyz[:, 2].mean(), -xyz[:, 1].min() + 0.2, f"#{person.id}", color=(c.r, c.g, c.b))
        points.append(xyz)
    ax.scatter([0], [0], [0], marker="^", s=60, color="k", label="camera")
    span = np.vstack([p.reshape(-1, 3) for p in points])[:, [0, 2, 1]] * [1, 1, -1]  # plot axes: x, z, -y
    centre, half = (span.max(0) + span.min(0)) / 2, np.ptp(span, axis=0).max() / 2 + 0.3
    ax.set_xlim(centre[0] - half, centre[0] + half)  # one scale on every axis: metres look like metres
    ax.set_ylim(centre[1] - half, centre[1] + half)
    ax.set_zlim(centre[2] - half, centre[2] + half)
    ax.set_box_aspect((1, 1, 1))
    ax.set_xlabel("x, right (m)")
    ax.set_ylabel("z, forward (m)")
    ax.set_zlabel("up, -y (m)")
    ax.view_init(elev=20, azim=-70)
    ax.set_title(f"{len(msg.people)} people in frame '{msg.header.frame_id}'")
    ax.legend(loc="upper left")
    fig.savefig(path, dpi=100)


def plot_birds_eye(history: list[PoseArray3D], info: CameraInfo | None, path: Path, trail_s: float = 3.0) -> None:
    """The last message's tracks from above: each one's root trail over the last `trail_s` seconds of image
    stamps, its id and its velocity; the field of view from `info` when one arrived."""
    from drm_core.birds_eye import BirdsEyeTrack, field_of_view, save_birds_eye

    last = history[-1]
    end = last.header.stamp.sec + last.header.stamp.nanosec * 1e-9
    trails: dict[int, list[tuple[float, float]]] = {}
    for msg in history:
        if end - (msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9) <= trail_s:
            for person in msg.people:
                trails.setdefault(person.id, []).append((person.root.x, person.root.z))
    tracks = []
    for person in last.people:
        c = colour_of(person.id)
        tracks.append(BirdsEyeTrack(person.id, np.array(trails[person.id]),
                                    np.array([person.velocity.x, person.velocity.z]), (c.r, c.g, c.b)))
    fov = field_of_view(np.array(info.k).reshape(3, 3), info.width) if info is not None else None
    who = f"{len(tracks)} {'person' if len(tracks) == 1 else 'people'}"
    save_birds_eye(path, tracks, fov_rad=fov, title=f"{who} from above, trails of {trail_s:g} s, arrows = 1 s of motion")


def stop_processes(processes: list[subprocess.Popen]) -> None:
    """Terminate, then kill what does not exit within 10 s (the demo's and the soak benchmark's children)."""
    for proc in processes:
        if proc.poll() is None:
            proc.terminate()
    for proc in processes:
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main(argv: list[str] | None = None) -> int:
    return run_stoppable(_run, argv)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="Run drm_node on a stand-in camera and show what it sees.")
    parser.add_argument("--seconds", type=float, default=10.0, help="how long to run once the first poses arrive")
    parser.add_argument("--rate", type=float, default=10.0, help="camera frame rate (Hz)")
    parser.add_argument("--model", default="", help="model file; default: the model shipped with drm_core")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    parser.add_argument("--out", type=Path, default=Path("out/demo"))
    parser.add_argument("--source", default="auto", choices=("auto", "footage", "synthetic"),
                        help="the camera's images: real footage (auto: when fetched) or synthetic scenes")
    return parser


class _Watch:
    """What the demo hears from the graph: the last images, every PoseArray3D with its latency, the last
    CameraInfo (the bird's-eye view draws its field of view) and the node's diagnostics."""

    def __init__(self) -> None:
        self.node = rclpy.create_node("drm_demo")
        self.images: dict[tuple[int, int], Image] = {}
        self.poses: list[tuple[float, PoseArray3D, float]] = []  # (arrival, message, latency ms)
        self.diagnostics: list[DiagnosticArray] = []
        self.infos: list[CameraInfo] = []
        reliable = QoSProfile(depth=10, reliability=QoSReliabilityPolicy.RELIABLE)
        self.node.create_subscription(Image, "image", self._keep_image, reliable)
        self.node.create_subscription(CameraInfo, "camera_info", self._keep_info, reliable)
        self.node.create_subscription(PoseArray3D, "drm/poses", self._keep_poses, reliable)
        self.node.create_subscription(DiagnosticArray, "/diagnostics", self.diagnostics.append, reliable)
        self._seen = 0

    def _keep_image(self, msg: Image) -> None:  # the last images, to draw the poses over the one they came from
        self.images[_stamp(msg.header)] = msg
        while len(self.images) > 30:
            self.images.pop(next(iter(self.images)))

    def _keep_info(self, msg: CameraInfo) -> None:
        self.infos[:] = [msg]

    def _keep_poses(self, msg: PoseArray3D) -> None:
        latency = (self.node.get_clock().now() - Time.from_msg(msg.header.stamp)).nanoseconds / 1e6
        self.poses.append((time.monotonic(), msg, latency))

    def node_values(self) -> dict[str, str]:
        return {kv.key: kv.value for kv in self.diagnostics[-1].status[0].values} if self.diagnostics else {}

    def status_line(self) -> str:
        """The poses since the last call: rate, people, latency, and what the node says it processed."""
        window = self.poses[self._seen:]
        self._seen = len(self.poses)
        values = self.node_values()
        latency = f"{np.median([w[2] for w in window]):.0f} ms" if window else "-"
        return (f"{len(window)} poses/s, {len(window[-1][1].people) if window else 0} people in the last, latency "
                f"{latency}; node: {values.get('processed_rate_hz', '-')} of {values.get('input_rate_hz', '-')} "
                f"images/s, {values.get('dropped_frames', '-')} dropped")

    def close(self) -> None:
        self.node.destroy_node()
        rclpy.try_shutdown()


def _run(argv: list[str] | None, stop: GracefulStop) -> int:
    args = _parser().parse_args(argv)
    footage = args.source == "footage" or (args.source == "auto" and demo_footage() is not None)
    if args.source == "footage" and demo_footage() is None:
        print("error: --source footage: no demo footage; fetch it with python -m drm_core.real_data.demo_footage "
              "--fetch", file=sys.stderr)
        return 2
    if args.model and not Path(args.model).is_file():
        print(f"error: --model {args.model}: no such file", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)

    env = dict(os.environ, PYTHONUNBUFFERED="1")
    node_args = ["-p", f"device:={args.device}"] + (["-p", f"model_path:={args.model}"] if args.model else [])
    stop.running()  # from here a signal ends the loop below, and the children are stopped in any case
    processes = [
        subprocess.Popen([sys.executable, "-m", "drm_ros.node", "--ros-args", *node_args], env=env),
        subprocess.Popen([sys.executable, "-m", "drm_ros.camera_sim", "--rate", str(args.rate), "--count", "0",
                          *(["--footage"] if footage else [])], env=env),
    ]
    rclpy.init(signal_handler_options=SignalHandlerOptions.NO)
    watch = _Watch()
    print(f"demo: node and {'real-footage' if footage else 'synthetic'} camera ({args.rate:g} Hz) started; waiting "
          f"for the first poses (model load takes a while on a CPU)...", flush=True)
    try:
        _watch_until_done(watch, processes, args.seconds, stop)
    finally:
        stop.cleaning_up()
        stop_processes(processes)
    try:
        if not watch.poses:
            if stop.requested:
                print(f"demo: stopped ({stop.signal_name}) before the first poses", flush=True)
                return 0
            print("demo: no poses arrived from the node", file=sys.stderr)
            return 1
        _write_results(watch, args.out, args.rate)
        return 0
    finally:
        watch.close()


def _watch_until_done(watch: _Watch, processes: list[subprocess.Popen], seconds: float, stop: GracefulStop) -> None:
    """Spin until `seconds` after the first poses, a stop, a child's early exit or the start-up timeout; print a
    status line every second."""
    node = processes[0]
    start = time.monotonic()
    first: float | None = None
    next_print = start + 1.0
    while not stop.requested:
        rclpy.spin_once(watch.node, timeout_sec=0.05)
        now = time.monotonic()
        if first is None and watch.poses:
            first = watch.poses[0][0]
        if first is None and now - start > STARTUP_TIMEOUT_S:
            print(f"demo: no poses within {STARTUP_TIMEOUT_S:.0f} s", file=sys.stderr)
            return
        if first is not None and now - first >= seconds:
            return
        if any(p.poll() is not None for p in processes):
            print(f"demo: {'the node' if node.poll() is not None else 'the camera'} exited early", file=sys.stderr)
            return
        if now >= next_print:
            next_print += 1.0
            line = "waiting for the node's first poses" if first is None else watch.status_line()
            print(f"[{now - start:5.1f} s] {line}", flush=True)


def _write_results(watch: _Watch, out: Path, rate_hz: float) -> None:
    """summary.json and the pictures of the last frame with poses: overlay, 3D, bird's-eye view."""
    poses, images = watch.poses, watch.images
    elapsed = max(poses[-1][0] - poses[0][0], 1e-9)
    latencies = [p[2] for p in poses]
    summary = {"poses_messages": len(poses), "poses_per_s": (len(poses) - 1) / elapsed if len(poses) > 1 else 0.0,
               "mean_people": float(np.mean([len(p[1].people) for p in poses])),
               "latency_p50_ms": float(np.percentile(latencies, 50)),
               "latency_p95_ms": float(np.percentile(latencies, 95)), "camera_rate_hz": rate_hz,
               "diagnostics": watch.node_values()}
    last = next((p[1] for p in reversed(poses) if _stamp(p[1].header) in images), None)
    if last is not None:
        draw_overlay(image_to_rgb(images[_stamp(last.header)]), last, out / "overlay.png")
        plot_3d(last, out / "people_3d.png")
        # the newest message with someone in it (the last may be empty), with the messages up to it
        seen_last = next((p[1] for p in reversed(poses) if p[1].people), last)
        history = [p[1] for p in poses if _stamp(p[1].header) <= _stamp(seen_last.header)]
        plot_birds_eye(history, watch.infos[-1] if watch.infos else None, out / "birds_eye.png")
        summary["last_frame"] = {"stamp": list(_stamp(last.header)), "frame_id": last.header.frame_id,
                                 "people": [{"id": p.id, "score": round(p.score, 3),
                                             "root_m": [round(p.root.x, 2), round(p.root.y, 2), round(p.root.z, 2)]}
                                            for p in last.people]}
        print(f"demo: wrote {out / 'overlay.png'}, {out / 'people_3d.png'} and {out / 'birds_eye.png'}")
    else:
        print("demo: no image of the last poses was kept; no pictures written", file=sys.stderr)
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(f"demo: {summary['poses_messages']} pose messages, {summary['poses_per_s']:.1f}/s, "
          f"{summary['mean_people']:.1f} people per frame, latency p50 {summary['latency_p50_ms']:.0f} ms, "
          f"p95 {summary['latency_p95_ms']:.0f} ms; summary in {out / 'summary.json'}")

if __name__ == "__main__":
    sys.exit(main())
