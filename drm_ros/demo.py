"""The README's main job: the node on a synthetic camera stream (no camera needed), a per-second summary,
and pictures of the last frame (skeleton overlay and a 3D plot) in out/demo/.

python -m drm_ros.demo [--seconds 15] [--rate 10] [--model PATH] [--out out/demo]
"""
from __future__ import annotations

import argparse
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
from sensor_msgs.msg import Image

from drm_core.skeleton import MPI15
from drm_ros.conversions import image_to_rgb
from drm_ros.msg import PoseArray3D


def draw_overlay(rgb: np.ndarray, msg: PoseArray3D, path: Path) -> None:
    """Skeletons and distances drawn over the image the poses came from."""
    from drm_ros.markers import colour_of
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    for person in msg.people:
        c = colour_of(person.id)
        colour = (int(c.b * 255), int(c.g * 255), int(c.r * 255))
        uv = [(int(round(k.u)), int(round(k.v))) for k in person.keypoints]
        for a, b in MPI15.bones:
            cv2.line(bgr, uv[a], uv[b], colour, 2, cv2.LINE_AA)
        for point in uv:
            cv2.circle(bgr, point, 3, colour, -1, cv2.LINE_AA)
        cv2.putText(bgr, f"#{person.id} {person.root.z:.1f} m", (uv[1][0] - 20, uv[1][1] - 8),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.5, colour, 1, cv2.LINE_AA)
    cv2.imwrite(str(path), bgr)


def plot_3d(msg: PoseArray3D, path: Path) -> None:
    """The people in the camera frame, seen from above and behind the camera."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from drm_ros.markers import colour_of
    fig = plt.figure(figsize=(6, 6))
    ax = fig.add_subplot(projection="3d")
    for person in msg.people:
        xyz = np.array([[k.position.x, k.position.y, k.position.z] for k in person.keypoints])
        c = colour_of(person.id)
        for a, b in MPI15.bones:  # plot x right, z forward, -y up
            ax.plot(xyz[[a, b], 0], xyz[[a, b], 2], -xyz[[a, b], 1], color=(c.r, c.g, c.b))
    ax.scatter([0], [0], [0], marker="^", color="k", label="camera")
    ax.set_xlabel("x (m)"), ax.set_ylabel("z, forward (m)"), ax.set_zlabel("up (m)")
    ax.set_title(f"{len(msg.people)} people, camera frame '{msg.header.frame_id}'")
    ax.legend()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the DRM node on a synthetic camera stream.")
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--rate", type=float, default=10.0, help="camera frame rate")
    parser.add_argument("--model", default="", help="model file; default: the shipped model")
    parser.add_argument("--out", type=Path, default=Path("out/demo"))
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    node = subprocess.Popen([sys.executable, "-m", "drm_ros.node", "--ros-args", "-p", f"model_path:={args.model}"],
                            env=env)
    camera = subprocess.Popen([sys.executable, "-m", "drm_ros.camera_sim", "--rate", str(args.rate),
                               "--count", str(int(args.rate * (args.seconds + 30)))], env=env)
    rclpy.init()
    me = rclpy.create_node("drm_demo")
    images: dict[tuple[int, int], Image] = {}
    poses: list[PoseArray3D] = []
    diagnostics: list[DiagnosticArray] = []
    reliable = QoSProfile(depth=10, reliability=QoSReliabilityPolicy.RELIABLE)

    def keep_image(msg: Image) -> None:
        images[(msg.header.stamp.sec, msg.header.stamp.nanosec)] = msg
        while len(images) > 60:
            images.pop(next(iter(images)))

    me.create_subscription(Image, "image", keep_image, 10)
    me.create_subscription(PoseArray3D, "drm/poses", poses.append, reliable)
    me.create_subscription(DiagnosticArray, "/diagnostics", diagnostics.append, reliable)
    start = time.monotonic()
    first = None
    try:
        next_print = start + 1.0
        while time.monotonic() - (first or start) < args.seconds and time.monotonic() - start < args.seconds + 60:
            rclpy.spin_once(me, timeout_sec=0.05)
            if poses and first is None:
                first = time.monotonic()
            if node.poll() is not None:
                print(f"the node exited with code {node.returncode}", file=sys.stderr)
                break
            if time.monotonic() >= next_print:
                next_print += 1.0
                values = {kv.key: kv.value for kv in diagnostics[-1].status[0].values} if diagnostics else {}
                people = len(poses[-1].people) if poses else 0
                print(f"[{time.monotonic() - start:5.1f} s] {len(poses)} pose messages, {people} people in the last; "
                      f"processed {values.get('processed_rate_hz', '-')} fps of {values.get('input_rate_hz', '-')}, "
                      f"dropped {values.get('dropped_frames', '-')}, latency p50 {values.get('latency_p50_ms', '-')} ms",
                      flush=True)
    finally:
        camera.terminate()
        node.terminate()
        for proc in (camera, node):
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
    last = next((p for p in reversed(poses) if (p.header.stamp.sec, p.header.stamp.nanosec) in images), None)
    if last is not None:
        image = images[(last.header.stamp.sec, last.header.stamp.nanosec)]
        draw_overlay(image_to_rgb(image), last, args.out / "overlay.png")
        plot_3d(last, args.out / "people_3d.png")
        print(f"wrote {args.out / 'overlay.png'} and {args.out / 'people_3d.png'}")
    me.destroy_node()
    rclpy.try_shutdown()
    if not poses:
        print("no poses arrived from the node", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
