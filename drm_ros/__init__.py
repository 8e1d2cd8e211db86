"""drm_ros: the ROS 2 side of the DRM pose estimator (messages, node, markers, bag replay).

In a source checkout the generated messages (`drm_ros.msg`) live in the colcon install tree, not here:
extend_path lets one package name span both directories. An installed package ships the generated
__init__ instead of this one, which needs nothing.
"""
from pkgutil import extend_path

__path__ = extend_path(__path__, __name__)
