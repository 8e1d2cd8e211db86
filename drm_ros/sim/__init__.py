"""The demo: a synthetic camera and the node as real ROS 2 processes, with pictures of what the robot saw."""
