"""`python -m drm_ros.record`: the command; its code lives in `drm_ros.bag.record`."""
import sys

from drm_ros.bag.record import main

if __name__ == "__main__":
    sys.exit(main())
