"""The launch file, params file and RViz layout agree with the node and the repository.

launch / launch_ros cannot be installed here, so the launch file is read as a syntax tree: what it imports,
the files it names, the node it starts, the parameters and remappings it sets, the arguments it uses.
"""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from drm_ros.sim.camera_sim import FRAME_ID
from drm_ros.live.params import PARAMETERS, validate
from tests.paths import ROOT

LAUNCH = ROOT / "launch" / "drm.launch.py"
PARAMS_FILE = ROOT / "config" / "drm_node.yaml"
RVIZ = ROOT / "config" / "drm.rviz"
SET_BY_ROS = {"use_sim_time"}  # declared by every rclpy node


@pytest.fixture(scope="module")
def tree() -> ast.Module:
    return ast.parse(LAUNCH.read_text(encoding="utf-8"), str(LAUNCH))


def _calls(tree: ast.AST, name: str) -> list[ast.Call]:
    return [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", None) == name]


def _kwarg(call: ast.Call, name: str):
    return next((k.value for k in call.keywords if k.arg == name), None)


def _const(node) -> object:
    return node.value if isinstance(node, ast.Constant) else None


def _drm_node(tree: ast.Module) -> ast.Call:
    nodes = [c for c in _calls(tree, "Node") if _const(_kwarg(c, "package")) == "drm_ros"]
    assert len(nodes) == 1, "the launch file starts drm_ros once"
    return nodes[0]


def test_imports_only_launch_apis_and_stdlib(tree):
    modules = {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    modules |= {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert {"launch", "launch_ros"} <= modules
    assert modules <= {"launch", "launch_ros"} | set(sys.stdlib_module_names), modules
    assert any(isinstance(n, ast.FunctionDef) and n.name == "generate_launch_description" for n in tree.body)


def test_files_and_executables_it_names_exist(tree):
    named = []
    for call in _calls(tree, "PathJoinSubstitution"):
        parts = [_const(e) for e in call.args[0].elts]  # [share, "config", "file"]
        assert getattr(call.args[0].elts[0], "id", None) == "share" and all(parts[1:]), ast.unparse(call)
        named.append(Path(*parts[1:]))
    assert {Path("config/drm_node.yaml"), Path("config/drm.rviz")} <= set(named)
    for path in named:
        assert (ROOT / path).is_file(), path
    shares = _calls(tree, "FindPackageShare")
    assert shares and all(_const(c.args[0]) == "drm_ros" for c in shares)
    node = _drm_node(tree)
    executable = _const(_kwarg(node, "executable"))
    assert (ROOT / "bin" / executable).is_file()
    assert f"bin/{executable}" in (ROOT / "CMakeLists.txt").read_text(encoding="utf-8")
    # The node's name is the params file's top-level key, or ROS would ignore the file.
    assert [_const(_kwarg(node, "name"))] == list(yaml.safe_load(PARAMS_FILE.read_text()))
    installed = (ROOT / "CMakeLists.txt").read_text(encoding="utf-8")
    assert "install(DIRECTORY launch config" in installed


def test_every_argument_used_is_declared_with_a_description(tree):
    declared = {_const(c.args[0]): c for c in _calls(tree, "DeclareLaunchArgument")}
    used = {_const(c.args[0]) for c in _calls(tree, "LaunchConfiguration")}
    assert used <= set(declared), used - set(declared)
    assert {"image", "camera_info", "camera", "rviz", "params"} <= set(declared)
    for name, call in declared.items():
        assert _const(_kwarg(call, "description")), name
    assert [_const(e) for e in _kwarg(declared["camera"], "choices").elts] == ["none", "usb_cam", "v4l2_camera"]
    assert _const(_kwarg(declared["camera"], "default_value")) == "none"
    assert _const(_kwarg(declared["rviz"], "default_value")) == "false"


def test_parameters_and_remappings_match_the_node(tree):
    node = _drm_node(tree)
    params = _kwarg(node, "parameters").elts
    assert ast.unparse(params[0]) == "LaunchConfiguration('params')"  # the file first, overrides after
    overrides = {_const(k) for d in params[1:] for k in d.keys}
    assert overrides and overrides <= set(PARAMETERS) | SET_BY_ROS, overrides - set(PARAMETERS)
    remapped = {_const(pair.elts[0]) for pair in _kwarg(node, "remappings").elts}
    image, info = PARAMETERS["image_topic"][0], PARAMETERS["camera_info_topic"][0]
    assert remapped == {image, f"{image}/compressed", info}  # the node's default (relative) topics


def test_params_file_sets_every_declared_parameter_to_its_default():
    params = yaml.safe_load(PARAMS_FILE.read_text())["drm_node"]["ros__parameters"]
    assert list(params) == list(PARAMETERS)
    for name, value in params.items():
        assert value == PARAMETERS[name][0] and type(value) is type(PARAMETERS[name][0]), name
        assert validate(name, value) is None, name


def test_rviz_layout_shows_what_the_node_publishes(tree):
    layout = yaml.safe_load(RVIZ.read_text())
    assert {"Panels", "Visualization Manager"} <= set(layout)
    manager = layout["Visualization Manager"]
    displays = {d["Class"]: d for d in manager["Displays"]}
    assert {"rviz_default_plugins/Grid", "rviz_default_plugins/Image", "rviz_default_plugins/MarkerArray"} \
        <= set(displays)
    markers = displays["rviz_default_plugins/MarkerArray"]["Topic"]
    assert markers["Value"] == "/" + PARAMETERS["markers_topic"][0] and markers["Reliability Policy"] == "Reliable"
    declared = {_const(c.args[0]): c for c in _calls(tree, "DeclareLaunchArgument")}
    image_default = _const(_kwarg(declared["image"], "default_value"))
    assert displays["rviz_default_plugins/Image"]["Topic"]["Value"] == image_default
    # TF-free: the fixed frame is the frame the camera (the synthetic one and the launched drivers) stamps.
    assert manager["Global Options"]["Fixed Frame"] == FRAME_ID
    frames = {ast.unparse(v) for c in _calls(tree, "Node") for d in (_kwarg(c, "parameters") or ast.List([])).elts
              if isinstance(d, ast.Dict) for k, v in zip(d.keys, d.values) if "frame_id" in (_const(k) or "")}
    assert frames == {"CAMERA_FRAME"} and f'CAMERA_FRAME = "{FRAME_ID}"' in LAUNCH.read_text()


def test_params_file_loads_in_the_node_and_a_bad_override_is_refused(ros_env):
    proc = subprocess.run([sys.executable, "-m", "drm_ros.node", "--ros-args", "--params-file", str(PARAMS_FILE),
                           "-p", "max_people:=0"], cwd=ROOT, env=ros_env, capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0 and "max_people=0" in proc.stdout + proc.stderr, proc.stdout + proc.stderr


def test_every_process_started_gets_the_large_image_dds_profile(tree):
    """HD best-effort images need the profile in the publisher's process: the launch file sets it for all the
    processes it starts (before them), and scripts/env.sh for everything started from its shell."""
    sets = [c for c in _calls(tree, "SetEnvironmentVariable") if _const(c.args[0]) == "FASTDDS_DEFAULT_PROFILES_FILE"]
    assert len(sets) == 1 and ast.unparse(sets[0].args[1]) == "LaunchConfiguration('dds_profile')"
    files = {ast.unparse(c) for c in _calls(tree, "PathJoinSubstitution")}
    assert "PathJoinSubstitution([share, 'config', 'fastdds_large_images.xml'])" in files
    described = _calls(tree, "LaunchDescription")[0].args[0].elts
    order = [ast.unparse(e) for e in described]
    assert order.index("dds_profile") < order.index("drm") < order.index("*drivers")
    profile = ROOT / "config" / "fastdds_large_images.xml"
    assert "segment_size" in profile.read_text()
    env_sh = (ROOT / "scripts" / "env.sh").read_text()
    assert 'FASTDDS_DEFAULT_PROFILES_FILE="${FASTDDS_DEFAULT_PROFILES_FILE:-$_drm_root/config/fastdds_large_images.xml}"' \
        in env_sh
