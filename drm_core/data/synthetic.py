"""Synthetic multi-person scenes with exact 3D ground truth: random cameras, people standing on a floor, rendered
with OpenCV (see render.py). Every sample is a pure function of (config.seed, index).

World frame: the camera's position, gravity-levelled: x right, y down, z forward (horizontal); the floor is the
plane y = camera height. The camera looks along world z pitched down by `pitch` and rolled by `roll`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from drm_core.camera import Camera, project
from drm_core.data import body as B
from drm_core.data.render import (Person, max_valid_radius, postprocess, render_background, render_people,
                                  sample_appearance)
from drm_core.pose_types import Sample


@dataclass(frozen=True)
class SyntheticConfig:
    """Ranges the generator draws from; every range is (low, high), uniform unless said otherwise."""

    sizes: tuple[tuple[int, int], ...] = ((640, 480),)   # (width, height) choices, uniformly
    people: tuple[int, int] = (1, 20)                    # people per image, inclusive
    depth_range_m: tuple[float, float] = (1.0, 12.0)     # pelvis depth (camera z)
    focal_range: tuple[float, float] = (0.5, 1.5)        # fx as a multiple of the image width
    principal_jitter: float = 0.05                       # cx, cy offset from the centre, fraction of the size
    aspect_jitter: float = 0.02                          # fy = fx * U(1 - a, 1 + a)
    distortion_prob: float = 0.3                         # chance of plumb_bob distortion
    k1_range: tuple[float, float] = (-0.3, 0.1)
    camera_height_m: tuple[float, float] = (0.5, 2.5)
    camera_pitch_deg: tuple[float, float] = (-10.0, 25.0)  # positive looks down
    camera_roll_deg: float = 5.0                         # |roll| at most this
    body_tilt_deg: float = 4.0                           # person pitch/roll standard deviation
    height_range_m: tuple[float, float] = (1.0, 1.95)
    child_fraction: float = 0.15
    min_separation_m: float = 0.6                        # between pelvises on the floor
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("people", "depth_range_m", "focal_range", "k1_range", "camera_height_m", "camera_pitch_deg",
                     "height_range_m"):
            lo, hi = getattr(self, name)
            if not lo <= hi:
                raise ValueError(f"SyntheticConfig.{name} must be (low, high), got {(lo, hi)}")
        if self.people[0] < 1 or self.people[1] > 254:
            raise ValueError(f"SyntheticConfig.people must lie within 1..254, got {self.people}")
        if self.depth_range_m[0] <= 0.3:
            raise ValueError(f"SyntheticConfig.depth_range_m must start beyond 0.3 m, got {self.depth_range_m}")
        if not self.sizes or any(w < 32 or h < 32 for w, h in self.sizes):
            raise ValueError(f"SyntheticConfig.sizes must list (width, height) of at least 32 px, got {self.sizes}")
        if self.seed < 0:
            raise ValueError(f"SyntheticConfig.seed must be non-negative, got {self.seed}")

    @classmethod
    def validation(cls, seed: int = 1_000_003) -> "SyntheticConfig":
        """Held-out set: other seeds, other image sizes, longer and shorter lenses, more distortion, higher
        cameras than training draws by default."""
        return cls(sizes=((832, 512), (1280, 720), (720, 720)), focal_range=(0.45, 1.7), principal_jitter=0.08,
                   distortion_prob=0.5, k1_range=(-0.35, 0.15), camera_height_m=(1.0, 3.0),
                   camera_pitch_deg=(0.0, 30.0), seed=seed)


@dataclass
class Scene:
    """Everything a sample is rendered from."""

    camera: Camera
    world_to_camera: np.ndarray  # 3x3 rotation, X_cam = R X_world
    camera_height: float
    people: list[Person] = field(default_factory=list)


def _rot_x(a: float) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    return np.array([[1.0, 0, 0], [0, c, -s], [0, s, c]])


def _rot_z(a: float) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1.0]])


def sample_camera(config: SyntheticConfig, rng: np.random.Generator) -> tuple[Camera, np.ndarray, float]:
    """Random intrinsics, distortion, height above the floor and world->camera rotation."""
    w, h = config.sizes[int(rng.integers(len(config.sizes)))]
    fx = rng.uniform(*config.focal_range) * w
    fy = fx * rng.uniform(1 - config.aspect_jitter, 1 + config.aspect_jitter)
    cx = (w - 1) / 2 + rng.uniform(-1, 1) * config.principal_jitter * w
    cy = (h - 1) / 2 + rng.uniform(-1, 1) * config.principal_jitter * h
    K = np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])
    dist = np.zeros(5)
    if rng.random() < config.distortion_prob:
        k1 = rng.uniform(*config.k1_range)
        dist = np.array([k1, -0.3 * k1 * rng.uniform(0, 1), rng.normal(0, 5e-4), rng.normal(0, 5e-4), 0.0])
    camera = Camera(K, w, h, dist)
    # Keep the lens model monotonic well past the image corners, so every pixel has one ray (and undistortion
    # converges): weaken the distortion until it is.
    corner = max(np.hypot(x - cx, y - cy) for x in (0, w - 1) for y in (0, h - 1)) / min(fx, fy)
    while camera.has_distortion and max_valid_radius(camera) < 1.3 * corner:
        camera = Camera(K, w, h, camera.dist * 0.7)
    pitch = np.deg2rad(rng.uniform(*config.camera_pitch_deg))
    roll = np.deg2rad(rng.uniform(-1, 1) * config.camera_roll_deg)
    camera_to_world = _rot_x(-pitch) @ _rot_z(roll)  # optical axis (0,0,1) -> (0, sin p, cos p): looks down
    return camera, camera_to_world.T, float(rng.uniform(*config.camera_height_m))


def _joints_in_image(joints: np.ndarray, camera: Camera) -> int:
    front = joints[:, 2] > 0.1
    if not front.any():
        return 0
    uv = project(joints[front], camera)
    return int(np.sum((uv[:, 0] >= 0) & (uv[:, 0] <= camera.width - 1) & (uv[:, 1] >= 0) &
                      (uv[:, 1] <= camera.height - 1)))


def _place(sole_drop: float, target_z: float, target_u: float, scene: Scene) -> np.ndarray | None:
    """World position of the pelvis that puts the feet on the floor, the pelvis at camera depth `target_z` and
    (before distortion) at image column `target_u`; None when that point is not in front of the camera."""
    cam, R = scene.camera, scene.world_to_camera
    y = scene.camera_height - sole_drop  # pelvis height in world y (down)
    a = (target_u - cam.cx) / cam.fx
    # Two linear equations in the pelvis' world x and z: camera z = target_z, camera x = a * target_z.
    A = np.array([[R[2, 0], R[2, 2]], [R[0, 0], R[0, 2]]])
    b = np.array([target_z - R[2, 1] * y, a * target_z - R[0, 1] * y])
    try:
        x, z = np.linalg.solve(A, b)
    except np.linalg.LinAlgError:
        return None
    return np.array([x, y, z]) if z > 0.3 else None


def _seat(shape: B.BodyShape, rot: np.ndarray, sole: float) -> np.ndarray:
    """(8, 3) corners of a box seat under a sitting body (pelvis-relative, rotated with the body), from just
    under the thighs down to the floor `sole` metres below the pelvis."""
    size = shape.height / 1.75
    top = shape.hip_drop + 0.9 * shape.r_thigh
    x = np.array([-1, 1]) * (shape.hip_half + 0.12 * size)
    z = np.array([0.15, -0.25]) * size  # from behind the pelvis to under the thighs (the body faces -z)
    corners = np.array([[xi, top, zi] for xi in x for zi in z] * 2) @ rot.T
    corners[4:, 1] = sole  # the bottom four stand on the floor
    return corners


def _sample_person(config: SyntheticConfig, scene: Scene, rng: np.random.Generator, hero: bool,
                   floor_xz: list[np.ndarray]) -> tuple[int, np.ndarray, B.BodyShape, np.ndarray, list] | None:
    """The best of a few random bodies at a few random places: (joints in the image, camera-frame joints,
    shape, floor position, camera-frame seat corners if seated), stopping at the first that shows enough
    joints; None if none could be placed."""
    camera, R = scene.camera, scene.world_to_camera
    zlo, zhi = config.depth_range_m
    need = 13 if hero else 4  # joints inside the image
    best = None
    for _body in range(4):  # a few bodies, each tried at several places (FK is the costly part)
        shape = B.sample_shape(rng, config.height_range_m, config.child_fraction)
        pose = B.sample_pose(rng)
        tilt = np.deg2rad(rng.normal(0, config.body_tilt_deg, 2))
        rot = B.rotation(rng.uniform(-np.pi, np.pi), tilt[0], tilt[1])
        local = B.forward_kinematics(shape, pose) @ rot.T
        # The lowest of ankle soles and knees (kneeling) touches the floor.
        sole = max(float(local[[B.L_AN, B.R_AN], 1].max()) + shape.ankle_height,
                   float(local[[B.L_KN, B.R_KN], 1].max()) + shape.r_shin)
        seat = _seat(shape, rot, sole) if pose.kind == "sitting" else None
        for _try in range(10):
            if hero:  # far enough to fit in the image, when the depth range allows
                fit = 1.1 * shape.height * camera.fy / camera.height
                z = rng.uniform(min(max(zlo, fit), zhi), zhi)
                u = rng.uniform(0.25, 0.75) * camera.width
            else:
                z, u = rng.uniform(zlo, zhi), rng.uniform(-0.15, 1.15) * camera.width
            pelvis_w = _place(sole, z, u, scene)
            if pelvis_w is None:
                continue
            xz = pelvis_w[[0, 2]]
            if any(np.linalg.norm(xz - o) < config.min_separation_m for o in floor_xz):
                continue
            joints = (local + pelvis_w) @ R.T
            n_in = _joints_in_image(joints, camera)
            if best is None or n_in > best[0]:
                props = [] if seat is None else [(seat + pelvis_w) @ R.T]
                best = (n_in, joints, shape, xz, props)
            if n_in >= need:
                return best
    return best


def sample_scene(config: SyntheticConfig, rng: np.random.Generator) -> Scene:
    """A camera and people on its floor: the first person mostly in view (a camera that cannot show anyone
    whole within the depth range is drawn again), the others anywhere in or partly out of the frustum,
    pelvises at least `min_separation_m` apart on the floor."""
    for _camera in range(8):
        scene = Scene(*sample_camera(config, rng))
        hero = _sample_person(config, scene, rng, True, [])
        if hero is not None and hero[0] >= 13:
            break
    count = int(rng.integers(config.people[0], config.people[1] + 1))
    placed = [hero] if hero is not None else []
    for i in range(1, count):
        person = _sample_person(config, scene, rng, False, [p[3] for p in placed])
        if person is not None and (i < config.people[0] or person[0] >= 4):  # keep the minimum count
            placed.append(person)
    scene.people = []
    for _, joints, shape, _, props in placed:
        seat_colour = tuple(int(c) for c in rng.integers(20, 200, 3))
        scene.people.append(Person(joints, shape, sample_appearance(rng), [(p, seat_colour) for p in props]))
    return scene


def render_scene(scene: Scene, background_rng: np.random.Generator, post_rng: np.random.Generator,
                 draw_people: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """The RGB image and (P, 15) visibility of a scene; without people the same background and finish."""
    image = render_background(background_rng, scene.camera, scene.world_to_camera, scene.camera_height)
    if draw_people:
        vis = render_people(image, scene.camera, scene.people).visibility
    else:
        vis = np.zeros((len(scene.people), B.MPI15.num_joints), dtype=np.int8)
    return postprocess(image, post_rng), vis


class SyntheticDataset:
    """`length` synthetic samples; sample i is drawn from numpy.random.default_rng([config.seed, i])."""

    def __init__(self, config: SyntheticConfig = SyntheticConfig(), length: int = 100_000):
        if length < 0:
            raise ValueError(f"SyntheticDataset length must be non-negative, got {length}")
        self.config = config
        self.length = length

    def __len__(self) -> int:
        return self.length

    def _index(self, index: int) -> int:
        i = int(index) + (self.length if index < 0 else 0)
        if not 0 <= i < self.length:
            raise IndexError(f"synthetic index {index} out of range for length {self.length}")
        return i

    def scene(self, index: int) -> tuple[Scene, np.random.Generator, np.random.Generator]:
        """The scene of sample `index` and the generators its background and finish are drawn from."""
        i = self._index(index)
        scene_rng, bg_rng, post_rng = np.random.default_rng([self.config.seed, i]).spawn(3)
        return sample_scene(self.config, scene_rng), bg_rng, post_rng

    def render(self, index: int, draw_people: bool = True) -> Sample:
        """Sample `index`; with draw_people=False the same image without its people (same labels)."""
        scene, bg_rng, post_rng = self.scene(index)
        image, vis = render_scene(scene, bg_rng, post_rng, draw_people)
        j = B.MPI15.num_joints
        joints_3d = np.stack([p.joints for p in scene.people]) if scene.people else np.zeros((0, j, 3))
        joints_2d = project(joints_3d.reshape(-1, 3), scene.camera).reshape(-1, j, 2)
        return Sample(image=image, camera=scene.camera, joints_2d_px=joints_2d, joints_3d_m=joints_3d,
                      visibility=vis, dataset="synthetic",
                      image_id=f"synthetic-{self.config.seed}-{self._index(index)}",
                      meta={"heights_m": [p.shape.height for p in scene.people],
                            "camera_height_m": scene.camera_height, "world_to_camera": scene.world_to_camera})

    def __getitem__(self, index: int) -> Sample:
        return self.render(index)

