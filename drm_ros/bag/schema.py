"""The bag schema the bag tools share: topic names, message type names and the typestore that reads and writes
this package's messages without a ROS install (rosbags, with the types from msg/*.msg, the one definition)."""
from __future__ import annotations

from pathlib import Path

from sensor_msgs.msg import CompressedImage, Image

# What record writes and replay reads by default (the node's default topics, resolved).
IMAGE_TOPIC = "/camera/image_raw"
INFO_TOPIC = "/camera/camera_info"
GT_TOPIC = "/ground_truth/poses"
# What replay writes beside the input.
POSES_TOPIC = "/drm/poses"
MARKERS_TOPIC = "/drm/markers"

IMAGE_TYPES = {"sensor_msgs/msg/Image": Image, "sensor_msgs/msg/CompressedImage": CompressedImage}
INFO_TYPE = "sensor_msgs/msg/CameraInfo"
POSES_TYPE = "drm_ros/msg/PoseArray3D"
MARKERS_TYPE = "visualization_msgs/msg/MarkerArray"
MSG_DIR = Path(__file__).resolve().parents[2] / "msg"


def drm_typestore():
    """rosbags' Kilted typestore with this package's messages registered (from msg/, the one definition)."""
    from rosbags.typesys import Stores, get_typestore, get_types_from_msg

    store = get_typestore(Stores.ROS2_KILTED)
    for path in sorted(MSG_DIR.glob("*.msg")):
        store.register(get_types_from_msg(path.read_text(encoding="utf-8"), f"drm_ros/msg/{path.stem}"))
    return store
