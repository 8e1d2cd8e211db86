"""One camera frame through the model, shared by the live node and the bag replay: image conversion, intrinsics, the frame pipeline, PoseArray3D messages and RViz markers."""
