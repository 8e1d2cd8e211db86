"""`python -m drm_ros.camera_sim`: the command; its code lives in `drm_ros.sim.camera_sim`."""
import sys

from drm_ros.sim.camera_sim import main

if __name__ == "__main__":
    sys.exit(main())
