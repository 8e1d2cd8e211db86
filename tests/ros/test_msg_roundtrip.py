"""PoseArray3D crosses DDS between two real processes with every field intact."""
from __future__ import annotations

import json
import subprocess
import sys

from tests.ros.msg_peer import reference_message, to_dict
from tests.paths import ROOT



def test_pose_array_round_trips_between_processes(tmp_path, ros_env):
    out = tmp_path / "received.json"
    topic, seed = "/test/poses", 7
    sub = subprocess.Popen([sys.executable, "-m", "tests.ros.msg_peer", "subscribe", topic, str(out), "30"],
                           cwd=ROOT, env=ros_env)
    pub = subprocess.Popen([sys.executable, "-m", "tests.ros.msg_peer", "publish", topic, str(seed), "30"],
                           cwd=ROOT, env=ros_env)
    try:
        assert sub.wait(timeout=40) == 0, "the subscriber process received nothing within 30 s"
    finally:
        pub.kill()
        pub.wait(timeout=10)
        sub.kill()
    received = json.loads(out.read_text(encoding="utf-8"))
    expected = to_dict(reference_message(seed))
    assert len(received["people"]) == 4 and len(received["people"][0]["keypoints"]) == 15
    assert received == expected


def test_reference_messages_differ_by_seed():
    # Guards the round-trip test against a reference that ignores its seed (it would then prove little).
    assert to_dict(reference_message(1)) != to_dict(reference_message(2))


def test_reference_messages_carry_the_tracking_fields():
    # velocity, state and age_s take non-default values, so the round trip above checks them too.
    people = to_dict(reference_message(7))["people"]
    assert all(p["velocity"] != [0.0, 0.0, 0.0] and p["age_s"] > 0 for p in people)
    assert len({p["state"] for p in people}) > 1
