"""`python -m drm_ros.node`: the command; its code lives in `drm_ros.live.pose_node`."""
import sys

from drm_ros.live.pose_node import main

if __name__ == "__main__":
    sys.exit(main())
