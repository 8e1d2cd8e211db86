"""Where the real footage and the teacher's models come from: packages fetched by pinned name and version
through their ordinary clients (pip download, apt-get download), unpacked into the cache, every file hashed.

Licences (checked in each package's metadata / debian/copyright): opencv-doc Apache-2.0 AND BSD-3-Clause,
sports2d and pose2sim BSD-3-Clause, mediapipe Apache-2.0 (models only; the teacher runs them with
ai-edge-litert, Apache-2.0). No AGPL file enters the pipeline.
"""
from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path


class BuildError(RuntimeError):
    """A build step that cannot go on; the message says what is missing and how to get it."""


@dataclass(frozen=True)
class Package:
    kind: str  # "pypi" | "deb"
    name: str
    version: str
    licence: str


PACKAGES = {p.name: p for p in (
    Package("deb", "opencv-doc", "4.6.0+dfsg-12", "Apache-2.0 AND BSD-3-Clause (debian/copyright)"),
    Package("pypi", "sports2d", "0.8.34", "BSD-3-Clause"),
    Package("pypi", "pose2sim", "0.10.49", "BSD-3-Clause"),
    Package("pypi", "mediapipe", "0.10.21", "Apache-2.0"),
)}

TEACHER_MODELS = {"pose_detection.tflite": "mediapipe/modules/pose_detection/pose_detection.tflite",
                  "pose_landmark_full.tflite": "mediapipe/modules/pose_landmark/pose_landmark_full.tflite"}


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _run(cmd: list[str], cwd: Path, what: str) -> None:
    try:
        res = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    except FileNotFoundError:
        raise BuildError(f"{what}: the command {cmd[0]!r} is not installed") from None
    if res.returncode != 0:
        tail = (res.stderr or res.stdout).strip().splitlines()[-5:]
        raise BuildError(f"{what} failed (exit {res.returncode}; offline, or the pinned version is gone from the "
                         f"registry?):\n  $ {' '.join(cmd)}\n  " + "\n  ".join(tail))


@dataclass
class FetchedPackage:
    package: Package
    archive: Path
    root: Path  # unpacked files

    def file(self, relative: str) -> Path:
        path = self.root / relative
        if not path.is_file():
            raise BuildError(f"{self.package.name}=={self.package.version} has no file {relative} "
                             f"(looked in {self.root})")
        return path


def fetch(package: Package, cache: Path) -> FetchedPackage:
    """Download (once) and unpack one pinned package under cache/."""
    dl = cache / "download" / package.kind
    dl.mkdir(parents=True, exist_ok=True)
    root = cache / "unpacked" / f"{package.name}-{package.version}"
    if package.kind == "pypi":
        pattern = f"{package.name.replace('-', '_')}-{package.version}-*.whl"
        if not list(dl.glob(pattern)):
            _run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q",
                  f"{package.name}=={package.version}", "-d", str(dl)], dl, f"pip download {package.name}")
        found = sorted(dl.glob(pattern))
    else:
        pattern = f"{package.name}_{package.version.replace(':', '%3a')}_*.deb"
        if not list(dl.glob(pattern)):
            _run(["apt-get", "download", f"{package.name}={package.version}"], dl, f"apt-get download {package.name}")
        found = sorted(dl.glob(pattern))
    if not found:
        raise BuildError(f"{package.name}=={package.version}: download finished but no {pattern} in {dl}")
    archive = found[0]
    if not root.is_dir():
        tmp = root.with_suffix(".partial")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        if package.kind == "pypi":
            _run(["unzip", "-q", "-o", str(archive), "-d", str(tmp)], dl, f"unzip {archive.name}")
        else:
            _run(["dpkg-deb", "-x", str(archive), str(tmp)], dl, f"dpkg-deb -x {archive.name}")
        tmp.rename(root)
    return FetchedPackage(package, archive, root)


def teacher_python(venv: Path, requirements: Path) -> Path:
    """The teacher environment's interpreter, creating the venv from the pinned requirements if needed."""
    python = venv / "bin" / "python"
    stamp = venv / ".requirements.sha256"
    want = sha256(requirements)
    if python.is_file() and stamp.is_file() and stamp.read_text().strip() == want:
        return python
    if not python.is_file():
        _run([sys.executable, "-m", "venv", str(venv)], venv.parent, f"creating the teacher venv {venv}")
    _run([str(python), "-m", "pip", "install", "-q", "-r", str(requirements)], venv.parent,
         f"installing the teacher's packages into {venv}")
    stamp.write_text(want + "\n")
    return python
