"""drm_core: the Decoupled Regression Model for multi-person absolute 3D pose, with no ROS dependency."""

__version__ = "0.1.0"
