"""`python -m drm_ros.replay`: the command; its code lives in `drm_ros.bag.replay`."""
import sys

from drm_ros.bag.replay import main

if __name__ == "__main__":
    sys.exit(main())
