"""The live node: the rclpy node around the frame pipeline, its parameters, the newest-frame handoff to the inference thread and its diagnostics."""
