# Environment for every test, demo and benchmark: `source scripts/env.sh` (after scripts/setup.sh).
# Puts the venv and the colcon install tree on the paths ROS 2 and Python read, keeps DDS on this machine,
# and gives this run a ROS domain of its own so parallel runs do not see each other.
_drm_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
_drm_venv="$_drm_root/.venv"
_drm_site="$_drm_venv/lib/python3.11/site-packages"
_drm_install="$_drm_root/install"

export VIRTUAL_ENV="$_drm_venv"
export PATH="$_drm_venv/bin:$PATH"
# The ROS wheels' .pth hook re-executes each Python process with these set; setting them here skips that.
_drm_libs="$_drm_venv/lib:$_drm_install/lib"
for _d in "$_drm_site"/ros_*.libs; do [ -d "$_d" ] && _drm_libs="$_drm_libs:$_d"; done
export LD_LIBRARY_PATH="$_drm_libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export _ROS_WHEELS_BOOTSTRAP_COMPLETE=1
export AMENT_PREFIX_PATH="$_drm_install:$_drm_venv${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}"
export CMAKE_PREFIX_PATH="$_drm_install:$_drm_venv${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}"
# The source tree first (edits take effect without a rebuild), then the generated messages.
export PYTHONPATH="$_drm_root:$_drm_install/lib/python3.11/site-packages${PYTHONPATH:+:$PYTHONPATH}"
export RMW_IMPLEMENTATION="${RMW_IMPLEMENTATION:-rmw_fastrtps_cpp}"
# Camera-sized images over DDS: a large shared-memory segment for every process started from this shell (the
# publisher's process is the one that needs it; see config/fastdds_large_images.xml). A caller's own file wins.
export FASTDDS_DEFAULT_PROFILES_FILE="${FASTDDS_DEFAULT_PROFILES_FILE:-$_drm_root/config/fastdds_large_images.xml}"
export ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST
export ROS_LOCALHOST_ONLY=1
# Domains 1-100 are safe on Linux; a caller may fix one by exporting DRM_ROS_DOMAIN_ID.
export ROS_DOMAIN_ID="${DRM_ROS_DOMAIN_ID:-$(( (RANDOM % 100) + 1 ))}"
export MPLBACKEND=Agg
unset _drm_root _drm_venv _drm_site _drm_install _drm_libs _d
