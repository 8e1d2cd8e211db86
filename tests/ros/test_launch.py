"""The launch file, params file and RViz layout agree with the node (ros2 launch itself is not installable here)."""
from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import yaml

from drm_ros.node import PARAMETERS, validate

ROOT = Path(__file__).resolve().parents[2]
LAUNCH = ROOT / "launch" / "drm.launch.py"


def _tree() -> ast.Module:
    return ast.parse(LAUNCH.read_text(encoding="utf-8"))


def test_launch_file_imports_only_launch_apis():
    modules = {n.module.split(".")[0] for n in ast.walk(_tree()) if isinstance(n, ast.ImportFrom)}
    modules |= {a.name.split(".")[0] for n in ast.walk(_tree()) if isinstance(n, ast.Import) for a in n.names}
    assert modules <= {"launch", "launch_ros"}, modules
    assert any(isinstance(n, ast.FunctionDef) and n.name == "generate_launch_description" for n in _tree().body)


def test_files_the_launch_file_names_exist():
    text = LAUNCH.read_text(encoding="utf-8")
    for parts in re.findall(r'PathJoinSubstitution\(\[share, "([^"]+)", "([^"]+)"\]\)', text):
        assert (ROOT / Path(*parts)).is_file(), parts
    executables = set(re.findall(r'package="drm_ros", executable="(\w+)"', text))
    cmake = (ROOT / "CMakeLists.txt").read_text(encoding="utf-8")
    assert executables and all(f"bin/{e}" in cmake for e in executables)


def test_every_parameter_set_is_declared_and_valid():
    text = LAUNCH.read_text(encoding="utf-8")
    for name in re.findall(r'\{"(\w+)": LaunchConfiguration', text):
        assert name in PARAMETERS, name
    params = yaml.safe_load((ROOT / "config" / "drm_node.yaml").read_text())["drm_node"]["ros__parameters"]
    assert set(params) == set(PARAMETERS)
    for name, value in params.items():
        assert value == PARAMETERS[name][0] and validate(name, value) is None, name


def test_rviz_layout_shows_what_the_node_publishes():
    layout = yaml.safe_load((ROOT / "config" / "drm.rviz").read_text())
    manager = layout["Visualization Manager"]
    topics = {d.get("Topic", {}).get("Value") for d in manager["Displays"]}
    assert "/" + PARAMETERS["markers_topic"][0] in topics
    assert manager["Global Options"]["Fixed Frame"] == "camera_optical_frame"


def test_params_file_loads_and_overrides_are_validated(ros_env):
    # A bad value in a copy of the params file is refused at start, naming the parameter.
    proc = subprocess.run([sys.executable, "-m", "drm_ros.node", "--ros-args", "--params-file",
                           str(ROOT / "config" / "drm_node.yaml"), "-p", "max_people:=0"], cwd=ROOT, env=ros_env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0 and "max_people" in proc.stdout + proc.stderr
