"""`python -m drm_ros.demo`: the command; its code lives in `drm_ros.sim.demo`."""
import sys

from drm_ros.sim.demo import main

if __name__ == "__main__":
    sys.exit(main())
