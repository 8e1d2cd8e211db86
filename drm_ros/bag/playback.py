"""Play a rosbag2 into a live ROS graph, for systems without `ros2 bag play` (rosbag2 is not on PyPI).

python -m drm_ros.playback BAG [--rate 1.0] [--topics T ...] [--remap FROM:=TO ...] [--loop]
                           [--wait-subscribers SECONDS] [--qos reliable|best_effort] [--depth N]

Publishes every message of BAG (sqlite3 or mcap; or only --topics) on its topic (or its --remap), in bag order,
at the recorded rate (--rate 2: twice as fast; --rate 0: as fast as possible), as the serialised bytes recorded
(no decoding, so any message type whose Python package is installed plays). Headers keep their recorded stamps.
--wait-subscribers waits until every played topic has a subscriber (a node still loading its model), then
starts. Reliable publishers by default: they reach best-effort and reliable subscriptions alike. Ctrl-C or
SIGTERM stops after the current message. Prints how many messages went out per topic and how late the player
ran behind the schedule at worst.
"""
from __future__ import annotations

import argparse
import importlib
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from drm_ros.signals import JOB_STOP, GracefulStop


class PlaybackError(RuntimeError):
    """A bag or option that cannot be played: missing bag, unknown topic, message type not installed."""


@dataclass(frozen=True)
class PlaybackOptions:
    rate: float = 1.0  # 0: as fast as possible
    topics: tuple[str, ...] = ()  # empty: all
    remap: tuple[tuple[str, str], ...] = ()
    loop: bool = False
    wait_subscribers_s: float = 0.0
    reliable: bool = True
    depth: int = 10


def message_class(msgtype: str):
    """The rclpy class of 'pkg/msg/Name'; PlaybackError naming the package when it is not installed."""
    pkg, _, name = msgtype.split("/")
    try:
        return getattr(importlib.import_module(f"{pkg}.msg"), name)
    except (ImportError, AttributeError) as err:
        raise PlaybackError(f"message type {msgtype} is not installed here ({err}); leave its topic out with "
                            "--topics") from err


def play(bag: Path, options: PlaybackOptions = PlaybackOptions(), node=None) -> dict:
    """Publish `bag` (see the module docstring) from `node` (created when None); a summary dict."""
    import rclpy
    from rclpy.qos import QoSProfile, QoSReliabilityPolicy
    from rosbags.rosbag2 import Reader

    if not (bag.is_dir() and (bag / "metadata.yaml").is_file()):
        raise PlaybackError(f"bag {bag}: not a rosbag2 directory (give the folder that holds metadata.yaml)")
    if options.rate < 0:
        raise PlaybackError(f"--rate {options.rate} must be >= 0 (0: as fast as possible)")
    try:
        reader = Reader(bag)
        reader.open()
    except Exception as err:  # rosbags raises several types for damage
        raise PlaybackError(f"bag {bag}: cannot be opened ({type(err).__name__}: {err})") from err
    try:
        topics = {c.topic: c.msgtype for c in reader.connections}
        missing = [t for t in options.topics if t not in topics]
        if missing:
            raise PlaybackError(f"topics {missing} are not in the bag; it has {sorted(topics)}")
        played = [c for c in reader.connections if not options.topics or c.topic in options.topics]
        remap = dict(options.remap)
        qos = QoSProfile(depth=options.depth, reliability=QoSReliabilityPolicy.RELIABLE if options.reliable
                         else QoSReliabilityPolicy.BEST_EFFORT)
        classes = {c.topic: message_class(c.msgtype) for c in played}
        own = node is None
        if own:
            node = rclpy.create_node("bag_player")
        publishers = {t: node.create_publisher(cls, remap.get(t, t), qos) for t, cls in classes.items()}
        counts = {remap.get(t, t): 0 for t in classes}
        worst_late, played_s = 0.0, 0.0
        interrupted = False
        try:
            with GracefulStop(announce=JOB_STOP) as interrupt:
                deadline = time.monotonic() + options.wait_subscribers_s
                while options.wait_subscribers_s and not interrupt.requested and time.monotonic() < deadline and \
                        not all(p.get_subscription_count() for p in publishers.values()):
                    time.sleep(0.05)
                while True:
                    start, first = time.monotonic(), None
                    for conn, t_ns, raw in reader.messages(played):
                        if interrupt.requested:
                            break
                        first = t_ns if first is None else first
                        if options.rate > 0:
                            due = start + (t_ns - first) / 1e9 / options.rate
                            wait = due - time.monotonic()
                            if wait > 0:
                                time.sleep(wait)
                            else:
                                worst_late = max(worst_late, -wait)
                        publishers[conn.topic].publish(raw)  # rclpy publishes serialised bytes as they are
                        counts[remap.get(conn.topic, conn.topic)] += 1
                    played_s += time.monotonic() - start
                    interrupted = interrupt.requested
                    if not options.loop or interrupted:
                        break
        finally:
            for pub in publishers.values():
                node.destroy_publisher(pub)
            if own:
                node.destroy_node()
    finally:
        reader.close()
    return {"bag": str(bag), "published": counts, "rate": options.rate, "worst_late_s": worst_late,
            "played_s": played_s, "interrupted": interrupted}


def _remap(text: str) -> tuple[str, str]:
    if ":=" not in text:
        raise argparse.ArgumentTypeError(f"--remap {text!r}: expected FROM:=TO")
    source, target = text.split(":=", 1)
    return source, target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Publish a rosbag2's messages into a live ROS graph.")
    parser.add_argument("bag", type=Path, help="rosbag2 directory (sqlite3 or mcap)")
    parser.add_argument("--rate", type=float, default=1.0, help="speed factor; 0: as fast as possible")
    parser.add_argument("--topics", nargs="+", default=[], help="only these topics (default: all)")
    parser.add_argument("--remap", nargs="+", type=_remap, default=[], metavar="FROM:=TO",
                        help="publish a bag topic under another name")
    parser.add_argument("--loop", action="store_true", help="start over at the end, until stopped")
    parser.add_argument("--wait-subscribers", type=float, default=0.0, metavar="SECONDS",
                        help="wait up to this long for a subscriber on every played topic")
    parser.add_argument("--qos", default="reliable", choices=("reliable", "best_effort"))
    parser.add_argument("--depth", type=int, default=10, help="publisher queue depth")
    args, ros_args = parser.parse_known_args(argv)
    options = PlaybackOptions(args.rate, tuple(args.topics), tuple(args.remap), args.loop, args.wait_subscribers,
                              args.qos == "reliable", args.depth)
    import rclpy
    from rclpy.signals import SignalHandlerOptions

    # Our own SIGINT/SIGTERM handling (drm_ros.interrupt): stop between messages, then shut down in order.
    rclpy.init(args=[sys.argv[0], *ros_args], signal_handler_options=SignalHandlerOptions.NO)
    try:
        summary = play(args.bag, options)
    except PlaybackError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # Ctrl-C before playing began (opening the bag)
        return 0
    finally:
        rclpy.try_shutdown()
    total = sum(summary["published"].values())
    print(f"published {total} messages from {args.bag}"
          + "".join(f"\n  {topic}: {n}" for topic, n in summary["published"].items())
          + f"\nin {summary['played_s']:.3f} s, at most {summary['worst_late_s'] * 1e3:.0f} ms behind schedule"
          + (" (interrupted)" if summary["interrupted"] else ""), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
