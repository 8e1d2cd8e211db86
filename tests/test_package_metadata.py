"""package.xml, CMakeLists.txt and pyproject.toml/setup.py describe the same package."""
from __future__ import annotations

import re
import tomllib
import xml.etree.ElementTree as ET
from tests.paths import ROOT



def _package_xml() -> ET.Element:
    return ET.parse(ROOT / "package.xml").getroot()


def _cmake() -> str:
    return (ROOT / "CMakeLists.txt").read_text(encoding="utf-8")


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_name_agrees():
    name = _package_xml().findtext("name")
    assert re.search(r"^project\((\w+)\)", _cmake(), re.M).group(1) == name
    assert _pyproject()["project"]["name"] == name


def test_version_agrees():
    assert _pyproject()["project"]["version"] == _package_xml().findtext("version")
    assert re.fullmatch(r"\d+\.\d+\.\d+", _package_xml().findtext("version"))


def test_installed_python_modules_agree():
    on_disk = {p.parent.name for p in ROOT.glob("*/__init__.py")} - {"tests"}
    cmake = set(re.findall(r"install\(DIRECTORY (\w+)/? DESTINATION \"\$\{PYTHON_INSTALL_DIR\}", _cmake()))
    pip = set(_pyproject()["tool"]["setuptools"]["packages"]["find"]["include"])
    assert on_disk == {"drm_core", "drm_ros"}
    assert cmake == on_disk
    assert pip == {f"{m}*" for m in on_disk}


def test_every_message_is_generated():
    generated = set(re.findall(r'"(msg/\w+\.msg)"', _cmake()))
    assert generated == {f"msg/{p.name}" for p in (ROOT / "msg").glob("*.msg")}


def test_installed_executables_exist_and_console_scripts_resolve():
    programs = re.search(r"install\(PROGRAMS ([^)]*?) DESTINATION", _cmake()).group(1).split()
    for program in programs:
        path = ROOT / program
        assert path.is_file() and path.stat().st_mode & 0o111, f"{program} is not an executable file"
        module = re.search(r"from ([\w.]+) import main", path.read_text(encoding="utf-8")).group(1)
        assert (ROOT / (module.replace(".", "/") + ".py")).is_file(), f"{program} runs missing {module}"
    for name, target in _pyproject()["project"].get("scripts", {}).items():
        module = target.split(":")[0]
        assert (ROOT / (module.replace(".", "/") + ".py")).is_file(), f"console script {name} -> missing {module}"


def test_package_xml_is_format_3_ament_cmake_with_valid_maintainer():
    root = _package_xml()
    assert root.get("format") == "3"
    assert root.find("export/build_type").text == "ament_cmake"
    assert re.fullmatch(r"[^@\s]+@[^@\s]+\.\w+", root.find("maintainer").get("email"))
    deps = {e.text for e in root if e.tag.endswith("depend")}
    for key in ("rclpy", "sensor_msgs", "std_msgs", "geometry_msgs", "visualization_msgs", "builtin_interfaces",
                "diagnostic_msgs", "rosidl_default_generators", "rosidl_default_runtime"):
        assert key in deps, f"package.xml lacks {key}"
    assert root.findtext("member_of_group") == "rosidl_interface_packages"
