"""score_threshold 0 is the model's own threshold (from its checkpoint), at start and when set at run time."""
from __future__ import annotations

import rclpy
from rclpy.parameter import Parameter

from drm_ros.live.pose_node import DRMNode


def test_score_threshold_zero_at_run_time_restores_the_checkpoint_threshold(ros_env, monkeypatch):
    for key, value in ros_env.items():  # a private domain for this in-process node
        monkeypatch.setenv(key, value)
    rclpy.init()
    node = None
    try:
        node = DRMNode(parameter_overrides=[Parameter("score_threshold", value=0.3),
                                            Parameter("device", value="cpu")])
        predictor = node.predictor
        own = predictor.model_threshold
        assert 0 < own < 1 and own != 0.3
        assert predictor.codec.config.center_threshold == 0.3
        assert node.set_parameters([Parameter("score_threshold", value=0.0)])[0].successful
        assert predictor.codec.config.center_threshold == own  # not the 0.3 it started with
        assert node.set_parameters([Parameter("score_threshold", value=0.5)])[0].successful
        assert predictor.codec.config.center_threshold == 0.5
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
