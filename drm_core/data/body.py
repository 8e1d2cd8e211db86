"""A parametric human body in the model's joint set (MPI15): shape, joint angles, poses and forward kinematics.

The body frame is the camera optical frame of a person facing the camera: x = the person's left, y = down,
z = backward (the person faces -z); the pelvis (MPI15 root) is the origin. Lengths are metres.

Segment proportions follow anthropometric tables (Winter, "Biomechanics and Motor Control of Human Movement",
segment lengths as fractions of body height) for adults; children get a larger head and shorter legs,
blended linearly from 1.75 m down to 1.0 m.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from drm_core.skeleton import MPI15

_J = MPI15.index
NECK, HEAD, PELVIS = _J("neck"), _J("head_top"), _J("pelvis")
L_SH, L_EL, L_WR, L_HIP, L_KN, L_AN = (_J(n) for n in ("l_shoulder", "l_elbow", "l_wrist", "l_hip", "l_knee",
                                                       "l_ankle"))
R_SH, R_EL, R_WR, R_HIP, R_KN, R_AN = (_J(n) for n in ("r_shoulder", "r_elbow", "r_wrist", "r_hip", "r_knee",
                                                       "r_ankle"))

# Body-frame unit vectors: left, down, forward.
LEFT = np.array([1.0, 0.0, 0.0])
DOWN = np.array([0.0, 1.0, 0.0])
FORWARD = np.array([0.0, 0.0, -1.0])

POSE_KINDS = ("standing", "walking", "sitting", "reaching", "random")


@dataclass(frozen=True)
class BodyShape:
    """Segment lengths and limb radii of one person (metres)."""

    height: float
    head: float            # neck -> head top
    torso: float           # pelvis -> neck
    shoulder_half: float   # neck -> each shoulder, sideways
    hip_half: float        # pelvis -> each hip, sideways
    hip_drop: float        # hips sit this far below the pelvis joint
    upper_arm: float
    forearm: float
    thigh: float
    shin: float
    ankle_height: float    # ankle joint above the sole
    build: float           # girth factor, 1 = average adult
    # Radii (metres) used by the renderer.
    r_upper_arm: float
    r_forearm: float
    r_thigh: float
    r_shin: float
    r_neck: float
    r_head: float
    torso_depth: float     # half-depth of the torso (front to back)


def _child_blend(height: float) -> float:
    """0 for adults (>= 1.75 m), 1 at 1.0 m: how child-like the proportions are."""
    return float(np.clip((1.75 - height) / 0.75, 0.0, 1.0))


def body_shape(height: float, build: float = 1.0, jitter: np.ndarray | None = None) -> BodyShape:
    """The body of a person `height` metres tall; `jitter` (9 factors near 1) perturbs the segment lengths
    (head, torso, shoulder, hip, upper arm, forearm, thigh, shin, ankle)."""
    if not 0.5 <= height <= 2.5:
        raise ValueError(f"body height must be within 0.5..2.5 m, got {height}")
    t = _child_blend(height)
    j = np.ones(9) if jitter is None else np.asarray(jitter, dtype=np.float64)
    if j.shape != (9,):
        raise ValueError(f"jitter must hold 9 factors, got shape {j.shape}")
    h = height
    head = (0.185 + 0.035 * t) * h * j[0]
    leg_scale = 1.0 - 0.12 * t
    thigh, shin = 0.245 * leg_scale * h * j[6], 0.246 * leg_scale * h * j[7]
    ankle = 0.039 * h * j[8]
    hip_drop = 0.01 * h
    # The torso takes what is left, so a neutral standing body is `height` tall (before its jitter).
    torso = (h - head / j[0] - thigh / j[6] - shin / j[7] - ankle / j[8] - hip_drop) * j[1]
    s = h / 1.75  # radii scale with size and build, not with the child blend
    return BodyShape(
        height=h, head=head, torso=torso,
        shoulder_half=(0.105 - 0.005 * t) * h * j[2] * (0.9 + 0.1 * build),
        hip_half=0.06 * h * j[3] * (0.9 + 0.1 * build), hip_drop=hip_drop,
        upper_arm=0.186 * (1 - 0.04 * t) * h * j[4], forearm=0.146 * (1 - 0.04 * t) * h * j[5],
        thigh=thigh, shin=shin, ankle_height=ankle, build=build,
        r_upper_arm=0.045 * s * build, r_forearm=0.037 * s * build, r_thigh=0.075 * s * build,
        r_shin=0.052 * s * build, r_neck=0.05 * s * build,
        r_head=(0.095 + 0.02 * t) * s ** 0.6,  # heads grow much less than bodies
        torso_depth=0.11 * s * build)


def sample_shape(rng: np.random.Generator, height_range: tuple[float, float] = (1.0, 1.95),
                 child_fraction: float = 0.15) -> BodyShape:
    """A random person: adult heights 1.5-1.95 m (clipped to `height_range`) or, with `child_fraction`,
    a child from the bottom of the range to 1.5 m; segment lengths jittered by about 4 %."""
    lo, hi = height_range
    if not lo <= hi:
        raise ValueError(f"height_range must be (low, high), got {height_range}")
    if rng.random() < child_fraction:
        height = rng.uniform(lo, max(lo, min(hi, 1.5)))
    else:
        height = float(np.clip(rng.normal(1.72, 0.09), max(lo, min(hi, 1.5)), hi))
    jitter = np.clip(rng.normal(1.0, 0.04, 9), 0.9, 1.1)
    build = float(np.clip(rng.normal(1.0, 0.12), 0.8, 1.35))
    return body_shape(height, build, jitter)


@dataclass(frozen=True)
class Pose:
    """Joint angles in radians; arm and leg fields are (left, right).

    Shoulder/hip: flexion swings the limb forward from hanging down (pi = straight up), abduction swings it
    sideways away from the body, twist turns the plane in which the elbow/knee bends. Elbow flexion bends the
    forearm forward, knee flexion bends the shin backward.
    """

    spine_lean: float = 0.0    # forward bend of the torso
    spine_side: float = 0.0    # sideways bend (positive: towards the person's left)
    spine_twist: float = 0.0   # shoulders turned about the spine relative to the hips
    head_pitch: float = 0.0    # chin down
    head_side: float = 0.0
    arm_flex: tuple[float, float] = (0.0, 0.0)
    arm_abd: tuple[float, float] = (0.15, 0.15)
    arm_twist: tuple[float, float] = (0.0, 0.0)
    elbow: tuple[float, float] = (0.2, 0.2)
    hip_flex: tuple[float, float] = (0.0, 0.0)
    hip_abd: tuple[float, float] = (0.03, 0.03)
    hip_twist: tuple[float, float] = (0.0, 0.0)
    knee: tuple[float, float] = (0.0, 0.0)
    kind: str = "custom"       # which of POSE_KINDS drew it (a sitting body gets a seat drawn under it)


# Limits (radians) that keep poses human; sampled angles are clipped to them.
JOINT_LIMITS: dict[str, tuple[float, float]] = {
    "spine_lean": np.deg2rad((-25.0, 60.0)), "spine_side": np.deg2rad((-20.0, 20.0)),
    "spine_twist": np.deg2rad((-35.0, 35.0)), "head_pitch": np.deg2rad((-30.0, 40.0)),
    "head_side": np.deg2rad((-20.0, 20.0)),
    "arm_flex": np.deg2rad((-50.0, 180.0)), "arm_abd": np.deg2rad((-30.0, 100.0)),
    "arm_twist": np.deg2rad((-60.0, 90.0)), "elbow": np.deg2rad((0.0, 150.0)),
    "hip_flex": np.deg2rad((-30.0, 125.0)), "hip_abd": np.deg2rad((-15.0, 50.0)),
    "hip_twist": np.deg2rad((-35.0, 40.0)), "knee": np.deg2rad((0.0, 150.0)),
}


def clip_pose(pose: Pose) -> Pose:
    """The pose with every angle inside JOINT_LIMITS."""
    out = {}
    for name, (lo, hi) in JOINT_LIMITS.items():
        v = np.clip(np.asarray(getattr(pose, name), dtype=np.float64), lo, hi)
        out[name] = tuple(float(x) for x in v) if v.ndim else float(v)
    return replace(pose, **out)


def _deg(rng: np.random.Generator, mean: float, sd: float, n: int | None = None):
    v = np.deg2rad(rng.normal(mean, sd, n))
    return tuple(float(x) for x in v) if n else float(v)


def _uni(rng: np.random.Generator, lo: float, hi: float, n: int | None = None):
    v = np.deg2rad(rng.uniform(lo, hi, n))
    return tuple(float(x) for x in v) if n else float(v)


def sample_pose(rng: np.random.Generator, kind: str | None = None) -> Pose:
    """A random pose of `kind` (one of POSE_KINDS; None picks one), inside JOINT_LIMITS."""
    if kind is None:
        kind = str(rng.choice(POSE_KINDS, p=[0.3, 0.25, 0.15, 0.15, 0.15]))
    if kind not in POSE_KINDS:
        raise ValueError(f"unknown pose kind {kind!r}; expected one of {POSE_KINDS}")
    common = dict(spine_side=_deg(rng, 0, 4), spine_twist=_deg(rng, 0, 8), head_pitch=_deg(rng, 5, 10),
                  head_side=_deg(rng, 0, 7), arm_twist=_deg(rng, 10, 20, 2))
    if kind == "standing":
        pose = Pose(spine_lean=_deg(rng, 2, 5), arm_flex=_deg(rng, 5, 15, 2), arm_abd=_uni(rng, 3, 25, 2),
                    elbow=_uni(rng, 5, 60, 2), hip_flex=_deg(rng, 0, 5, 2), hip_abd=_uni(rng, 0, 12, 2),
                    hip_twist=_deg(rng, 5, 10, 2), knee=_uni(rng, 0, 12, 2), **common)
        if rng.random() < 0.2:  # hands on hips or arms crossed
            pose = replace(pose, arm_abd=_uni(rng, 25, 45, 2), elbow=_uni(rng, 100, 140, 2),
                           arm_twist=_uni(rng, 50, 85, 2))
    elif kind == "walking":
        phase = rng.uniform(-1.0, 1.0)  # one leg forward, the other back; arms swing the other way
        swing = np.deg2rad(rng.uniform(15, 35))
        hip = (swing * phase, -swing * phase)
        knee_fwd = np.deg2rad(rng.uniform(0, 50))
        knee = tuple(float(knee_fwd if h > 0 else np.deg2rad(rng.uniform(5, 60))) for h in hip)
        arm = (-0.8 * hip[0] + np.deg2rad(5), -0.8 * hip[1] + np.deg2rad(5))
        pose = Pose(spine_lean=_deg(rng, 5, 4), arm_flex=arm, arm_abd=_uni(rng, 5, 15, 2),
                    elbow=_uni(rng, 10, 50, 2), hip_flex=hip, hip_abd=_uni(rng, 0, 6, 2),
                    hip_twist=_deg(rng, 5, 6, 2), knee=knee, **common)
    elif kind == "sitting":
        pose = Pose(spine_lean=_deg(rng, -5, 10), arm_flex=_uni(rng, 10, 60, 2), arm_abd=_uni(rng, 0, 25, 2),
                    elbow=_uni(rng, 20, 100, 2), hip_flex=_uni(rng, 70, 105, 2), hip_abd=_uni(rng, 0, 25, 2),
                    hip_twist=_deg(rng, 0, 10, 2), knee=_uni(rng, 60, 110, 2), **common)
    elif kind == "reaching":
        both = rng.random() < 0.5
        flex = np.deg2rad(rng.uniform(40, 180, 2))
        abd = np.deg2rad(rng.uniform(-10, 95, 2))
        if not both:  # one arm reaches, the other hangs
            k = int(rng.integers(2))
            flex[k], abd[k] = np.deg2rad(rng.uniform(-10, 30)), np.deg2rad(rng.uniform(3, 20))
        pose = Pose(spine_lean=_deg(rng, 5, 10), arm_flex=tuple(flex), arm_abd=tuple(abd),
                    elbow=_uni(rng, 0, 45, 2), hip_flex=_deg(rng, 0, 6, 2), hip_abd=_uni(rng, 0, 15, 2),
                    hip_twist=_deg(rng, 5, 8, 2), knee=_uni(rng, 0, 15, 2), **common)
    else:  # random: every angle uniform within its limits, the legs kept a little calmer
        vals = {}
        for name, (lo, hi) in JOINT_LIMITS.items():
            n = 2 if name in ("arm_flex", "arm_abd", "arm_twist", "elbow", "hip_flex", "hip_abd", "hip_twist",
                              "knee") else None
            if name in ("hip_flex", "knee", "spine_lean"):
                hi = lo + 0.7 * (hi - lo)
            v = rng.uniform(lo, hi, n)
            vals[name] = tuple(float(x) for x in v) if n else float(v)
        pose = Pose(**vals)
    return replace(clip_pose(pose), kind=kind)


def cross3(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cross product of two 3-vectors (np.cross is slow for single vectors, and FK runs often)."""
    return np.array([a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]])


def _rotate(v: np.ndarray, axis: np.ndarray, angle: float) -> np.ndarray:
    """Rodrigues: v rotated by `angle` about the unit `axis` (right-handed)."""
    c, s = np.cos(angle), np.sin(angle)
    return v * c + cross3(axis, v) * s + axis * (float(axis @ v) * (1 - c))


def _limb(side: float, down: np.ndarray, fwd: np.ndarray, flex: float, abd: float,
          twist: float, bend: float, bend_forward: bool) -> tuple[np.ndarray, np.ndarray]:
    """Unit directions of the upper and lower segment of a limb hanging from a trunk frame."""
    back_axis = cross3(down, fwd)                      # rotating `down` about it moves towards `fwd`
    upper = _rotate(_rotate(down, back_axis, flex), fwd, side * abd)
    hinge = _rotate(back_axis if bend_forward else -back_axis, fwd, side * abd)
    hinge = _rotate(hinge, upper, side * twist)
    return upper, _rotate(upper, hinge, bend)


def forward_kinematics(shape: BodyShape, pose: Pose) -> np.ndarray:
    """(15, 3) MPI15 joints in the body frame (pelvis at the origin, person facing -z)."""
    j = np.zeros((MPI15.num_joints, 3))
    up = -DOWN
    # Torso: lean forward about the left axis, bend sideways about the forward axis.
    spine = _rotate(_rotate(up, LEFT, pose.spine_lean), FORWARD, -pose.spine_side)
    torso_fwd = _rotate(_rotate(FORWARD, LEFT, pose.spine_lean), FORWARD, -pose.spine_side)
    shoulder_left = _rotate(cross3(spine, torso_fwd), spine, pose.spine_twist)
    torso_fwd = _rotate(torso_fwd, spine, pose.spine_twist)
    j[NECK] = shape.torso * spine
    head_dir = _rotate(_rotate(spine, shoulder_left, pose.head_pitch), torso_fwd, -pose.head_side)
    j[HEAD] = j[NECK] + shape.head * head_dir
    sh_drop = 0.02 * shape.height
    for side, (sh, el, wr) in ((1.0, (L_SH, L_EL, L_WR)), (-1.0, (R_SH, R_EL, R_WR))):
        k = 0 if side > 0 else 1
        j[sh] = j[NECK] + side * shape.shoulder_half * shoulder_left - sh_drop * spine
        upper, lower = _limb(side, -spine, torso_fwd, pose.arm_flex[k], pose.arm_abd[k],
                             pose.arm_twist[k], pose.elbow[k], bend_forward=True)
        j[el] = j[sh] + shape.upper_arm * upper
        j[wr] = j[el] + shape.forearm * lower
    for side, (hip, kn, an) in ((1.0, (L_HIP, L_KN, L_AN)), (-1.0, (R_HIP, R_KN, R_AN))):
        k = 0 if side > 0 else 1
        j[hip] = side * shape.hip_half * LEFT + shape.hip_drop * DOWN
        upper, lower = _limb(side, DOWN, FORWARD, pose.hip_flex[k], pose.hip_abd[k], pose.hip_twist[k],
                             pose.knee[k], bend_forward=False)
        j[kn] = j[hip] + shape.thigh * upper
        j[an] = j[kn] + shape.shin * lower
    return j


def rotation(yaw: float, pitch: float = 0.0, roll: float = 0.0) -> np.ndarray:
    """3x3 rotation of a body: yaw about the vertical (y), then pitch about x, then roll about z."""
    cy, sy, cp, sp, cr, sr = np.cos(yaw), np.sin(yaw), np.cos(pitch), np.sin(pitch), np.cos(roll), np.sin(roll)
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rx = np.array([[1, 0, 0], [0, cp, -sp], [0, sp, cp]])
    rz = np.array([[cr, -sr, 0], [sr, cr, 0], [0, 0, 1]])
    return ry @ rx @ rz


def bone_lengths(joints: np.ndarray) -> np.ndarray:
    """(..., B) lengths of MPI15.bones for (..., 15, 3) joints."""
    b = np.array(MPI15.bones)
    return np.linalg.norm(joints[..., b[:, 0], :] - joints[..., b[:, 1], :], axis=-1)
