"""Draws synthetic people and backgrounds with OpenCV, and reads per-joint visibility off the drawing.

People are shaded capsules (limbs, neck, hands, feet), a convex torso hull and an elliptic head, all made of
projected 3D points so lens distortion bends them like it bends the joints. People are painted far to near
(painter's algorithm) into the image and, with the same shapes, into an id buffer; a joint is visible (2)
when its pixel shows its own person or nobody, occluded (1) when a nearer person covers it or it falls outside
the image (MuCo's convention: such joints keep their exact 2D and 3D), unlabelled (0) when it cannot be
projected (behind the camera, beyond the lens' valid field).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from drm_core.camera import Camera, project
from drm_core.data import body as B
from drm_core.pose_types import OCCLUDED, UNLABELLED, VISIBLE

_SHIFT = 4                 # sub-pixel bits for OpenCV drawing
_SCALE = float(1 << _SHIFT)
_MIN_Z = 0.05              # points nearer than this (metres) are not drawn
_MAX_PX = 1e5              # parts reaching beyond this many pixels are not drawn (keeps int32 fixed point safe)
_RING_COS = np.cos(np.linspace(0, 2 * np.pi, 10, endpoint=False))[:, None]  # torso cross-section samples
_RING_SIN = np.sin(np.linspace(0, 2 * np.pi, 10, endpoint=False))[:, None]
_LIGHT = np.array([-0.35, -0.8, -0.5]) / np.linalg.norm([-0.35, -0.8, -0.5])  # from above-left-front


@dataclass(frozen=True)
class Appearance:
    """Colours (RGB 0-255) of one person's skin, hair and clothes."""

    skin: tuple[int, int, int]
    hair: tuple[int, int, int]
    top: tuple[int, int, int]
    bottom: tuple[int, int, int]
    shoes: tuple[int, int, int]
    long_sleeves: bool
    long_legs: bool


_SKINS = np.array([[255, 224, 196], [241, 194, 155], [224, 172, 130], [198, 134, 90], [160, 100, 65],
                   [120, 75, 45], [90, 56, 36]], dtype=np.float64)
_HAIRS = np.array([[20, 15, 10], [60, 40, 25], [110, 75, 40], [190, 150, 90], [140, 60, 30], [120, 120, 120],
                   [230, 230, 225]], dtype=np.float64)


def _colour(c: np.ndarray) -> tuple[int, int, int]:
    return tuple(int(x) for x in np.clip(c, 0, 255))


def sample_appearance(rng: np.random.Generator) -> Appearance:
    """Random skin tone, hair and clothing colours (clothes are often dark or desaturated, sometimes vivid)."""
    skin = _SKINS[rng.integers(len(_SKINS))] * rng.uniform(0.9, 1.08)
    hair = _HAIRS[rng.integers(len(_HAIRS))] * rng.uniform(0.8, 1.2)

    def cloth() -> np.ndarray:
        hsv = np.array([[[rng.uniform(0, 180), rng.choice([rng.uniform(0, 60), rng.uniform(60, 255)]),
                          rng.uniform(25, 240)]]], dtype=np.uint8)
        return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0].astype(np.float64)

    return Appearance(skin=_colour(skin), hair=_colour(hair), top=_colour(cloth()), bottom=_colour(cloth()),
                      shoes=_colour(cloth() * 0.5), long_sleeves=bool(rng.random() < 0.6),
                      long_legs=bool(rng.random() < 0.75))


@dataclass
class Person:
    """One person to draw: joints in the camera frame (15, 3), body shape and colours.

    `props` are convex solids (camera-frame corner points, colour) that belong to the person, such as a seat:
    they are drawn with the person and occlude like the person's body.
    """

    joints: np.ndarray
    shape: B.BodyShape
    appearance: Appearance
    props: list[tuple[np.ndarray, tuple[int, int, int]]] = field(default_factory=list)


@dataclass
class _Part:
    kind: str              # "capsule", "hull" or "head"
    points: np.ndarray     # (N, 3) camera frame; head: centre, centre + r_w * facing, centre + r_h * up
    radii: np.ndarray      # (N,) metres (capsule); (2,) half-width and half-height (head)
    colour: tuple[int, int, int]
    face: tuple[int, int, int] | None = None  # head: skin colour of the face


def max_valid_radius(camera: Camera) -> float:
    """Largest normalised image radius r = |(x/z, y/z)| up to which the lens model is monotonic.

    Polynomial distortion folds back beyond it, so points past it would land at wrong pixels (inf for none).
    """
    if not camera.has_distortion:
        return float("inf")
    r = np.linspace(0.0, 4.0, 801)[1:]
    uv = project(np.stack([r, np.zeros_like(r), np.ones_like(r)], axis=1), camera)
    bad = np.nonzero(np.diff(uv[:, 0]) <= 0)[0]
    return float(r[bad[0]]) if len(bad) else float("inf")


def projectable(points: np.ndarray, camera: Camera, r_max: float) -> np.ndarray:
    """(N,) True where a camera-frame point is in front of the camera and inside the lens' valid field."""
    z = points[:, 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.linalg.norm(points[:, :2], axis=1) / z
    return (z > _MIN_Z) & (r < r_max)


def _unit(v: np.ndarray) -> np.ndarray:
    n = float(np.sqrt(v @ v))
    return v / n if n > 1e-9 else v


def _segment(a: np.ndarray, b: np.ndarray, n: int) -> np.ndarray:
    if n == 2:
        return np.stack([a, b])
    t = np.linspace(0.0, 1.0, n)[:, None]
    return a * (1 - t) + b * t


def _parts(person: Person, samples: int) -> list[_Part]:
    """The 3D shapes a person is drawn with."""
    j, s, a = person.joints, person.shape, person.appearance
    size = s.height / 1.75
    up = _unit(j[B.NECK] - j[B.PELVIS])
    sh_axis = _unit(j[B.L_SH] - j[B.R_SH])
    hip_axis = _unit(j[B.L_HIP] - j[B.R_HIP])
    fwd = _unit(B.cross3(sh_axis, up))
    parts: list[_Part] = []

    # Torso: three elliptic rings (hips, waist, shoulders) whose projected hull is filled.
    rings = []
    for centre, axis, half_w, half_d in (
            (j[B.PELVIS] - 0.05 * size * up, hip_axis, s.hip_half + 0.85 * s.r_thigh, s.torso_depth * 0.95),
            (j[B.PELVIS] + 0.45 * (j[B.NECK] - j[B.PELVIS]), _unit(sh_axis + hip_axis),
             0.5 * (s.hip_half + s.shoulder_half) + 0.3 * s.r_thigh, s.torso_depth),
            (j[B.NECK] - 0.03 * size * up, sh_axis, s.shoulder_half + 0.5 * s.r_upper_arm, s.torso_depth * 0.9)):
        side = _unit(axis - up * float(axis @ up))
        depth = B.cross3(up, side)
        rings.append(centre + half_w * _RING_COS * side + half_d * _RING_SIN * depth)
    parts.append(_Part("hull", np.concatenate(rings), np.zeros(0), a.top))
    parts += [_Part("hull", np.asarray(points, dtype=np.float64), np.zeros(0), colour)
              for points, colour in person.props]

    def capsule(p0: np.ndarray, p1: np.ndarray, r0: float, r1: float, colour) -> None:
        radii = np.linspace(r0, r1, samples) if samples > 2 else np.array([r0, r1])
        parts.append(_Part("capsule", _segment(p0, p1, samples), radii, colour))

    head_axis = _unit(j[B.HEAD] - j[B.NECK])
    head_centre = j[B.HEAD] - 1.15 * s.r_head * head_axis
    capsule(j[B.NECK] - 0.04 * size * up, head_centre, s.r_neck, s.r_neck * 0.9, a.skin)
    head_fwd = _unit(fwd - head_axis * float(fwd @ head_axis))
    head_r = np.array([s.r_head, 1.18 * s.r_head])
    parts.append(_Part("head", np.stack([head_centre, head_centre + head_r[0] * head_fwd,
                                         head_centre + head_r[1] * head_axis]), head_r, a.hair, a.skin))
    sleeve = a.top if a.long_sleeves else a.skin
    legs = a.bottom if a.long_legs else a.skin
    for sh, el, wr in ((B.L_SH, B.L_EL, B.L_WR), (B.R_SH, B.R_EL, B.R_WR)):
        capsule(j[sh], j[el], s.r_upper_arm, s.r_upper_arm * 0.85, a.top)
        capsule(j[el], j[wr], s.r_forearm, s.r_forearm * 0.8, sleeve)
        hand = _unit(j[wr] - j[el])
        capsule(j[wr], j[wr] + 0.075 * size * hand, s.r_forearm * 0.9, s.r_forearm * 0.8, a.skin)
    pelvis_fwd = _unit(B.cross3(hip_axis, up))
    for hip, kn, an in ((B.L_HIP, B.L_KN, B.L_AN), (B.R_HIP, B.R_KN, B.R_AN)):
        capsule(j[hip], j[kn], s.r_thigh, s.r_thigh * 0.75, a.bottom)
        capsule(j[kn], j[an], s.r_shin, s.r_shin * 0.7, legs)
        shin = _unit(j[an] - j[kn])
        foot = _unit(pelvis_fwd - shin * float(pelvis_fwd @ shin))
        toe = j[an] + 0.14 * size * foot + 0.6 * s.ankle_height * shin
        capsule(j[an] + 0.2 * s.ankle_height * shin, toe, s.r_shin * 0.75, s.r_shin * 0.6, a.shoes)
    return parts


def _to_int(uv: np.ndarray) -> np.ndarray:
    """Fixed-point pixel coordinates for OpenCV's `shift` argument."""
    return np.rint(uv * _SCALE).astype(np.int32)


def _shade(colour: tuple[int, int, int], factor: float) -> tuple[int, int, int]:
    return tuple(min(255, int(c * factor)) for c in colour)


def _draw_capsule(img: np.ndarray, uv: list, rad: list, colour, aa: int, caps: bool = True) -> None:
    """Circles at the samples (`caps`) joined by tangent quads: a tapered capsule along a projected polyline.

    Plain Python floats on purpose: for a handful of points it is several times faster than numpy.
    Coordinates are in OpenCV's fixed point (`shift`); callers keep them well inside int32.
    """
    if caps:
        for (x, y), r in zip(uv, rad):
            cv2.circle(img, (round(x * _SCALE), round(y * _SCALE)), max(1, round(r * _SCALE)), colour, -1, aa,
                       _SHIFT)
    for (x0, y0), (x1, y1), r0, r1 in zip(uv[:-1], uv[1:], rad[:-1], rad[1:]):
        dx, dy = x1 - x0, y1 - y0
        length = (dx * dx + dy * dy) ** 0.5
        if length < 1e-6:
            continue
        nx, ny = -dy / length * _SCALE, dx / length * _SCALE
        x0, y0, x1, y1 = x0 * _SCALE, y0 * _SCALE, x1 * _SCALE, y1 * _SCALE
        quad = np.array([[x0 + nx * r0, y0 + ny * r0], [x1 + nx * r1, y1 + ny * r1],
                         [x1 - nx * r1, y1 - ny * r1], [x0 - nx * r0, y0 - ny * r0]]).round().astype(np.int32)
        cv2.fillConvexPoly(img, quad, colour, aa, _SHIFT)


def _draw_part(img: np.ndarray, ids: np.ndarray, pid: int, part: _Part, uv: np.ndarray, focal: float,
               light_uv: np.ndarray) -> None:
    """Draw one projected part shaded into `img` and as a flat silhouette into the id buffer."""
    aa = cv2.LINE_AA
    if part.kind == "capsule":
        rad = part.radii * focal / part.points[:, 2]
        uvl, radl = uv.tolist(), rad.tolist()
        axis = _unit(part.points[-1] - part.points[0])
        lambert = 0.5 + 0.5 * np.sqrt(max(0.0, 1.0 - float(axis @ _LIGHT) ** 2))
        _draw_capsule(img, uvl, radl, _shade(part.colour, 0.7 * lambert), aa)
        if max(radl) > 1.5:  # the lit stripe of the cylinder, where it is big enough to show
            dx, dy = uvl[-1][0] - uvl[0][0], uvl[-1][1] - uvl[0][1]
            nx, ny = -dy, dx
            if nx * light_uv[0] + ny * light_uv[1] < 0:
                nx, ny = -nx, -ny
            norm = max((nx * nx + ny * ny) ** 0.5, 1e-6)
            nx, ny = nx / norm, ny / norm
            _draw_capsule(img, [(x + nx * 0.3 * r, y + ny * 0.3 * r) for (x, y), r in zip(uvl, radl)],
                          [0.55 * r for r in radl], _shade(part.colour, 1.05 * lambert), aa, caps=False)
        _draw_capsule(ids, uvl, radl, pid, cv2.LINE_8)
    elif part.kind == "hull":
        hull = cv2.convexHull(uv.astype(np.float32))[:, 0, :].astype(np.float64)
        centre = hull.mean(axis=0)
        cv2.fillConvexPoly(img, _to_int(hull), _shade(part.colour, 0.72), aa, _SHIFT)
        # A smaller hull pushed towards the light reads as a rounded chest.
        inner = centre + 0.7 * (hull - centre) + 0.12 * light_uv * np.ptp(hull, axis=0)
        cv2.fillConvexPoly(img, _to_int(inner), _shade(part.colour, 0.95), aa, _SHIFT)
        cv2.fillConvexPoly(ids, _to_int(hull), pid, cv2.LINE_8, _SHIFT)
    else:  # head: an ellipse of hair, with a face ellipse towards where the head faces
        c = uv[0]
        rw, rh = (float(x) for x in part.radii * focal / part.points[0, 2])
        face_uv, chin_uv = _unit(uv[1] - c), -_unit(uv[2] - c)
        angle = float(np.degrees(np.arctan2(chin_uv[1], chin_uv[0]))) + 90.0
        ci = _to_int(c)
        axes = (max(int(rw * _SCALE), 1), max(int(rh * _SCALE), 1))
        cv2.ellipse(img, (int(ci[0]), int(ci[1])), axes, angle, 0, 360, part.colour, -1, aa, _SHIFT)
        cv2.ellipse(ids, (int(ci[0]), int(ci[1])), axes, angle, 0, 360, pid, -1, cv2.LINE_8, _SHIFT)
        facing = float(_unit(part.points[1] - part.points[0]) @ -_unit(part.points[0]))
        if facing > -0.2 and part.face is not None:  # the face shows unless the head turns away
            fc = _to_int(c + face_uv * rw * 0.35 + chin_uv * rh * 0.12)
            fa = (max(int(rw * 0.8 * min(1.0, facing + 0.6) * _SCALE), 1), max(int(rh * 0.78 * _SCALE), 1))
            cv2.ellipse(img, (int(fc[0]), int(fc[1])), fa, angle, 0, 360, part.face, -1, aa, _SHIFT)


@dataclass
class RenderResult:
    visibility: np.ndarray  # (P, 15) int8: 0 unlabelled/outside, 1 occluded by a nearer person, 2 visible
    ids: np.ndarray         # (H, W) uint8: 1 + index of the person drawn last at each pixel, 0 for nobody


def render_people(image: np.ndarray, camera: Camera, people: list[Person]) -> RenderResult:
    """Paint `people` (camera-frame joints) into `image` (H x W x 3 RGB uint8, modified in place), far to near.

    Returns per-joint visibility and the person id buffer. At most 254 people.
    """
    h, w = image.shape[:2]
    if (w, h) != (camera.width, camera.height):
        raise ValueError(f"image is {w}x{h} but the camera is {camera.width}x{camera.height}")
    if len(people) > 254:
        raise ValueError(f"at most 254 people can be rendered, got {len(people)}")
    ids = np.zeros((h, w), dtype=np.uint8)
    vis = np.zeros((len(people), B.MPI15.num_joints), dtype=np.int8)
    if not people:
        return RenderResult(vis, ids)
    r_max = max_valid_radius(camera)
    samples = 6 if camera.has_distortion else 2
    focal = float(np.sqrt(camera.fx * camera.fy))
    light_uv = _unit(-_LIGHT[:2])  # image direction towards the light
    order = np.argsort([-p.joints[B.PELVIS, 2] for p in people], kind="stable")  # far first
    for pi in order:
        person = people[int(pi)]
        parts = _parts(person, samples)
        all_pts = np.concatenate([p.points for p in parts])  # one projection call per person
        ok = projectable(all_pts, camera, r_max)
        uv_all = np.zeros((len(all_pts), 2))
        if ok.any():
            uv_all[ok] = project(all_pts[ok], camera)
        drawable, k = [], 0
        for part in parts:
            n = len(part.points)
            # Parts reaching absurdly far off-image (points almost in the camera plane) are not drawn.
            if ok[k:k + n].all() and np.abs(uv_all[k:k + n]).max() < _MAX_PX:
                drawable.append((part, uv_all[k:k + n]))
            k += n
        # Within a person, far parts first too.
        drawable.sort(key=lambda t: -float(t[0].points[:, 2].mean()))
        for part, uv in drawable:
            _draw_part(image, ids, int(pi) + 1, part, uv, focal, light_uv)
    # Visibility from the finished id buffer: people drawn later are nearer.
    for pi, person in enumerate(people):
        ok = projectable(person.joints, camera, r_max)
        uv = np.zeros((len(ok), 2))
        if ok.any():
            uv[ok] = project(person.joints[ok], camera)
        px = np.round(uv).astype(np.int64)
        inside = ok & (px[:, 0] >= 0) & (px[:, 0] < w) & (px[:, 1] >= 0) & (px[:, 1] < h)
        owner = np.zeros(len(ok), dtype=np.int64)
        owner[inside] = ids[px[inside, 1], px[inside, 0]]
        mine = (owner == 0) | (owner == pi + 1)
        # Out of the image but projectable: labelled occluded with its exact 2D and 3D, as MuCo labels them.
        vis[pi] = np.where(inside, np.where(mine, VISIBLE, OCCLUDED), np.where(ok, OCCLUDED, UNLABELLED))
    return RenderResult(vis, ids)


def _noise_texture(rng: np.random.Generator, w: int, h: int, cell: int) -> np.ndarray:
    """Smooth random (h, w) uint8 texture: a coarse random grid upsampled bicubically."""
    small = rng.integers(0, 256, (max(2, h // cell + 2), max(2, w // cell + 2)), dtype=np.uint8)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)


def _random_rgb(rng: np.random.Generator, lo: float = 0, hi: float = 255) -> np.ndarray:
    return rng.uniform(lo, hi, 3).astype(np.float32)


def render_background(rng: np.random.Generator, camera: Camera, world_to_camera: np.ndarray,
                      camera_height: float) -> np.ndarray:
    """A random scene behind the people: a wall or sky (gradient, noise, rectangles, lines) and a textured
    floor on the ground plane y_world = camera_height (world frame: y down, gravity-levelled).

    The floor is drawn for the pinhole part of the camera only (distortion ignored): it is backdrop.
    """
    w, h = camera.width, camera.height
    top, bottom = _random_rgb(rng), _random_rgb(rng)
    t = np.linspace(0.0, 1.0, h, dtype=np.float32)[:, None, None]
    column = np.clip(top * (1 - t) + bottom * t, 0, 255).astype(np.uint8)  # (h, 1, 3)
    a1, a2 = rng.uniform(0, 90), rng.uniform(0, 40)
    # Saturating uint8 OpenCV arithmetic: a few times faster than float numpy on full images.
    tex = cv2.addWeighted(_noise_texture(rng, w, h, int(rng.integers(16, 96))), a1 / 255,
                          _noise_texture(rng, w, h, int(rng.integers(2, 6))), a2 / 255, 0.0)
    img = cv2.addWeighted(cv2.resize(column, (w, h), interpolation=cv2.INTER_NEAREST), 1.0,
                          cv2.cvtColor(tex, cv2.COLOR_GRAY2RGB), 1.0, -0.5 * (a1 + a2))
    for _ in range(int(rng.integers(2, 12))):  # walls, windows, furniture, posters
        x0, y0 = rng.uniform(-0.2, 1.0) * w, rng.uniform(-0.2, 1.0) * h
        x1, y1 = x0 + rng.uniform(0.05, 0.6) * w, y0 + rng.uniform(0.05, 0.6) * h
        cv2.rectangle(img, (int(x0), int(y0)), (int(x1), int(y1)), _random_rgb(rng).tolist(),
                      -1 if rng.random() < 0.7 else int(rng.integers(1, 8)), cv2.LINE_AA)
    for _ in range(int(rng.integers(0, 10))):
        p0 = (int(rng.uniform(0, w)), int(rng.uniform(0, h)))
        p1 = (int(rng.uniform(0, w)), int(rng.uniform(0, h)))
        cv2.line(img, p0, p1, _random_rgb(rng).tolist(), int(rng.integers(1, 6)), cv2.LINE_AA)

    # Floor: intersect the pixel rays with the ground plane on a coarse grid, texture it in world units.
    step = 3
    gw, gh = (w + step - 1) // step, (h + step - 1) // step
    u = ((np.arange(gw) * step - camera.cx) / camera.fx).astype(np.float32)
    v = ((np.arange(gh) * step - camera.cy) / camera.fy).astype(np.float32)
    rays = np.stack(np.broadcast_arrays(u[None, :], v[:, None], np.ones((gh, gw), np.float32)), axis=-1)
    rays_w = rays @ world_to_camera.astype(np.float32)  # camera -> world: R^T applied to row vectors
    down = rays_w[..., 1]
    hit = down > 1e-3
    dist = camera_height / np.maximum(down, 1e-3)
    xw, zw = rays_w[..., 0] * dist, rays_w[..., 2] * dist
    tile = rng.uniform(0.3, 1.2)
    style = int(rng.integers(3))
    c0, c1 = _random_rgb(rng, 40, 230), _random_rgb(rng, 40, 230)
    # Ground footprint of one grid cell; edges are smoothed over it, so tiles smaller than a cell fade to grey
    # instead of aliasing.
    footprint = step * dist * np.maximum(1.0, dist / camera_height) / camera.fx
    sharp = tile / (np.pi * footprint)
    if style == 0:    # tiles
        wave = np.sin(np.pi * xw / tile) * np.sin(np.pi * zw / tile) * (2 * sharp)
    elif style == 1:  # planks along the depth axis
        wave = np.sin(np.pi * xw / tile) * sharp
    else:             # plain with a faint grid
        line = np.minimum(np.abs(np.mod(xw, tile) - tile / 2), np.abs(np.mod(zw, tile) - tile / 2))
        wave = (np.clip((line - 0.45 * tile) / footprint, -1, 1) * 0.3 - 0.7) * np.clip(sharp, 0, 1)
    pattern = (0.5 + 0.5 * np.clip(wave, -1.0, 1.0))[..., None]
    floor = c0 * (1 - pattern) + c1 * pattern  # float32: pattern and colours are float32
    haze = np.clip(dist / rng.uniform(15, 60), 0, 1)[..., None]  # far floor fades to the wall colour
    floor = np.clip(floor * (1 - haze) + bottom * haze, 0, 255).astype(np.uint8)
    if rng.random() < 0.85 and hit.any():
        floor_full = cv2.resize(floor, (w, h), interpolation=cv2.INTER_LINEAR)
        # Soft horizon: the mask ramps up over about one grid cell of ray slope below it.
        mask = np.clip(down * (camera.fy / step), 0.0, 1.0).astype(np.float32)
        mask = cv2.resize(mask, (w, h), interpolation=cv2.INTER_LINEAR)
        img = cv2.blendLinear(img, floor_full, 1.0 - mask, mask)
    for _ in range(int(rng.integers(0, 5))):  # clutter blobs
        c = (int(rng.uniform(0, w)), int(rng.uniform(0, h)))
        ax = (int(rng.uniform(3, 0.15 * w)), int(rng.uniform(3, 0.15 * h)))
        cv2.ellipse(img, c, ax, float(rng.uniform(0, 180)), 0, 360, _random_rgb(rng).tolist(), -1, cv2.LINE_AA)
    return img


def postprocess(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Camera-like finish: contrast/brightness jitter, a little blur sometimes, grey sensor noise."""
    lut = np.clip(np.arange(256) * rng.uniform(0.75, 1.2) + rng.uniform(-25, 25), 0, 255).astype(np.uint8)
    img = cv2.LUT(image, lut)
    if rng.random() < 0.3:
        img = cv2.GaussianBlur(img, (0, 0), sigmaX=rng.uniform(0.4, 1.2))
    amp = int(rng.integers(0, 10))  # uniform noise of +-amp grey levels
    if amp:
        noisy = img.astype(np.int16)
        noisy += rng.integers(-amp, amp + 1, image.shape[:2], dtype=np.int16)[..., None]
        img = np.clip(noisy, 0, 255, out=noisy).astype(np.uint8)
    return img
