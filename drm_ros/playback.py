"""`python -m drm_ros.playback`: the command; its code lives in `drm_ros.bag.playback`."""
import sys

from drm_ros.bag.playback import main

if __name__ == "__main__":
    sys.exit(main())
