"""The DRM codec: ground truth -> training targets (encode) and network maps -> metric 3D poses (decode).

One object owns both directions so they share every convention (stride, radii, depth normalisation);
the key names and units are those of docs/CONTRACTS.md.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from drm_core.camera import Camera, Letterbox, backproject, focal_of
from drm_core.skeleton import MPI15, Skeleton
from drm_core.pose_types import Poses3D


@dataclass(frozen=True)
class CodecConfig:
    """Geometry of the maps and the decoding policy. Map coordinate m <-> input pixel s*m + (s-1)/2."""

    input_width: int = 832
    input_height: int = 512
    stride: int = 4
    center_sigma: float = 3.0  # map px, in exp(-d^2 / sigma^2) (sec. 3.1); the most, see radius_fraction
    offset_radius: int = 3  # square around each center that carries offsets (sec. 3.1, after DEKR); the most
    depth_radius: int = 2  # square around each root pixel that carries depth and O_e targets; the most
    # f0: root depth is learnt as Z * f0 / f_eff. 100 px makes it SMAP's Z[cm] / f_eff, O(1) (0.3-7 at 256x160);
    # the first models used 1000 (targets 10-66, a root-depth loss that drowned every other term) and keep
    # decoding with it, since every checkpoint stores its CodecConfig.
    reference_focal_px: float = 100.0
    # Target footprint per person: sigma and radii are this fraction of the person's box diagonal (map px), at
    # least 1 and at most the values above; 0 keeps the fixed radii. Encoding only.
    radius_fraction: float = 0.1
    # A pixel inside several people's squares belongs to the nearest center (offsets) or root (depth, O_e), so
    # every person keeps its own peak; False: the smaller person wins (DEKR's rule). Encoding only.
    nearest_owner: bool = True
    center_threshold: float = 0.1
    nms_kernel: int = 5
    top_k: int = 30
    max_people: int = 20
    nms_joint_fraction: float = 0.5  # duplicates share at least this fraction of close joints ...
    nms_distance_fraction: float = 0.1  # ... closer than this fraction of the person's box diagonal ...
    nms_depth_m: float = 0.5  # ... and root depths closer than this
    # Also a duplicate: a weaker candidate whose center lies inside a stronger one's torso box (scaled by
    # nms_torso_scale about its middle) with root depths closer than nms_depth_m. Secondary center peaks on
    # large people sit there with poses too poor for the joint test above. Decoding only.
    nms_torso: bool = True
    nms_torso_scale: float = 1.0

    def __post_init__(self) -> None:
        if self.input_width % 32 or self.input_height % 32:
            raise ValueError(f"input size must be a multiple of 32, got {self.input_width}x{self.input_height}")
        if self.reference_focal_px <= 0 or self.radius_fraction < 0 or self.nms_torso_scale <= 0:
            raise ValueError(f"reference_focal_px ({self.reference_focal_px}) and nms_torso_scale "
                             f"({self.nms_torso_scale}) must be positive, radius_fraction "
                             f"({self.radius_fraction}) non-negative")

    @property
    def map_size(self) -> tuple[int, int]:
        """(h, w) of the output maps."""
        return self.input_height // self.stride, self.input_width // self.stride


class DRMCodec:
    """Encodes people into DRM's maps and decodes DRM's maps into Poses3D (eqs. 1, 2, 13)."""

    def __init__(self, config: CodecConfig = CodecConfig(), skeleton: Skeleton = MPI15):
        self.config = config
        self.skeleton = skeleton
        self.non_root = skeleton.non_root()

    # --- coordinates -------------------------------------------------------------------------------------
    def to_map(self, uv_input_px: np.ndarray) -> np.ndarray:
        s = self.config.stride
        return (np.asarray(uv_input_px, dtype=np.float64) - (s - 1) / 2) / s

    def to_input(self, uv_map: np.ndarray) -> np.ndarray:
        s = self.config.stride
        return np.asarray(uv_map, dtype=np.float64) * s + (s - 1) / 2

    # --- encode ------------------------------------------------------------------------------------------
    def encode(self, joints_2d_px: np.ndarray, visibility: np.ndarray, joints_3d_m: np.ndarray | None,
               K_input: np.ndarray, joints_rel_m: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Targets for one network input.

        joints_2d_px: (P, J, 2) in input pixels; visibility: (P, J) 0/1/2; joints_3d_m: (P, J, 3) camera
        frame or None (2D-only data: every 3D weight is zero); K_input: the input's effective intrinsics.
        joints_rel_m: (P, J, 3) root-relative 3D (NaN unknown) or None: for a person without absolute 3D it
        gives the relative-depth targets alone (root depth, rays and DAPL stay unweighted).
        Kept as one loop: each person's 2D and 3D targets are written to the pixels that person has just claimed.
        """
        cfg, J = self.config, self.skeleton.num_joints
        h, w = cfg.map_size
        t = {
            "center": np.zeros((1, h, w), np.float32),
            "offsets": np.zeros((2 * J, h, w), np.float32),
            "offset_weight": np.zeros((2 * J, h, w), np.float32),
            "root_to_center": np.zeros((2, h, w), np.float32),
            "root_to_center_weight": np.zeros((1, h, w), np.float32),
            "root_depth": np.zeros((1, h, w), np.float32),
            "root_depth_weight": np.zeros((1, h, w), np.float32),
            "rel_depth": np.zeros((J - 1, h, w), np.float32),
            "rel_depth_weight": np.zeros((J - 1, h, w), np.float32),
            "rays": np.zeros((2 * J, h, w), np.float32),
            "dapl_weight": np.zeros((J, h, w), np.float32),
            "depth_scale": np.full((1, 1, 1), focal_of(K_input) / cfg.reference_focal_px, np.float32),
        }
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        uv_map = self.to_map(joints_2d_px)
        labelled = visibility > 0
        sizes = np.array([self._box_diagonal(uv_map[p][labelled[p]]) for p in range(len(uv_map))])
        # Who owns a pixel that several people's squares cover: the lowest key wins. Nearest-owner keys are
        # distances to the person's center (offsets) or root (depth); DEKR's rule keys on size, so the
        # smaller person wins.
        center_key = np.full((h, w), np.inf)
        root_key = np.full((h, w), np.inf)
        root = self.skeleton.root
        f_input = focal_of(K_input)
        for p in np.argsort(-sizes, kind="stable"):
            if not labelled[p].any():
                continue
            center = self._center(uv_map[p], visibility[p])
            sigma, r_offset, r_depth = self._footprint(sizes[p])
            t["center"][0] = np.maximum(t["center"][0], np.exp(-((xx - center[0]) ** 2 + (yy - center[1]) ** 2)
                                                               / sigma ** 2))
            inv_size = 1.0 / sizes[p]
            area = self._square(center, r_offset)
            if area is not None:
                ys, xs = area
                mine = self._claim(center_key, area, center, sizes[p])
                q = np.stack(np.meshgrid(np.arange(xs.start, xs.stop), np.arange(ys.start, ys.stop)), 0)
                off = (uv_map[p].reshape(J, 2, 1, 1) - q[None].astype(np.float64)).reshape(2 * J, *q.shape[1:])
                _put(t["offsets"][:, ys, xs], mine, off)
                _put(t["offset_weight"][:, ys, xs], mine, np.repeat(labelled[p] * inv_size, 2)[:, None, None])
            if not labelled[p, root]:
                continue
            area = self._square(uv_map[p, root], r_depth)
            if area is None:
                continue
            ys, xs = area
            mine = self._claim(root_key, area, uv_map[p, root], sizes[p])
            q = np.stack(np.meshgrid(np.arange(xs.start, xs.stop), np.arange(ys.start, ys.stop)), 0)
            _put(t["root_to_center"][:, ys, xs], mine, center[:, None, None] - q)
            _put(t["root_to_center_weight"][:, ys, xs], mine, inv_size)
            # Clear 3D targets another person left here: this pixel now belongs to person p.
            for key in ("root_depth", "root_depth_weight", "rel_depth", "rel_depth_weight", "rays", "dapl_weight"):
                _put(t[key][:, ys, xs], mine, 0.0)
            has_3d = labelled[p] & (joints_3d_m[p, :, 2] > 0) if joints_3d_m is not None else np.zeros(J, bool)
            if not has_3d[root]:
                if joints_rel_m is not None:  # a teacher's root-relative 3D: relative depth only
                    rel_z = joints_rel_m[p, :, 2]
                    has_rel = labelled[p] & np.isfinite(rel_z)
                    if has_rel[root]:
                        dz = np.where(has_rel, rel_z[root] - np.nan_to_num(rel_z), 0.0)  # eq. 2
                        _put(t["rel_depth"][:, ys, xs], mine, dz[self.non_root][:, None, None])
                        _put(t["rel_depth_weight"][:, ys, xs], mine, has_rel[self.non_root][:, None, None])
                continue
            z = joints_3d_m[p, :, 2]
            _put(t["root_depth"][:, ys, xs], mine, z[root] * cfg.reference_focal_px / f_input)
            _put(t["root_depth_weight"][:, ys, xs], mine, 1.0)
            _put(t["rel_depth"][:, ys, xs], mine, (z[root] - z[self.non_root])[:, None, None])  # eq. 2
            _put(t["rel_depth_weight"][:, ys, xs], mine, has_3d[self.non_root][:, None, None])
            # Eqs. 9-10 use (x* - c)/f of the ground-truth 2D; X/Z and Y/Z of the 3D ground truth are that
            # ray with the lens distortion already removed.
            rays = joints_3d_m[p, :, :2] / np.where(has_3d, z, 1.0)[:, None]
            _put(t["rays"][:, ys, xs], mine, np.where(has_3d[:, None], rays, 0.0).reshape(2 * J)[:, None, None])
            _put(t["dapl_weight"][:, ys, xs], mine, (has_3d * inv_size)[:, None, None])
        return t

    def _footprint(self, size: float) -> tuple[float, int, int]:
        """(center sigma, offset radius, depth radius) in map px for a person of box diagonal `size`."""
        cfg = self.config
        if cfg.radius_fraction == 0:
            return cfg.center_sigma, cfg.offset_radius, cfg.depth_radius
        r = cfg.radius_fraction * size
        return (float(np.clip(r, 1.0, cfg.center_sigma)), int(np.clip(round(r), 1, cfg.offset_radius)),
                int(np.clip(round(r), 1, cfg.depth_radius)))

    def _claim(self, owner_key: np.ndarray, area: tuple[slice, slice], point: np.ndarray,
               size: float) -> np.ndarray:
        """Mask of the pixels of `area` person p takes (and marks in owner_key): see encode."""
        ys, xs = area
        if self.config.nearest_owner:
            gy, gx = np.mgrid[ys, xs]
            key = np.hypot(gx - point[0], gy - point[1])
        else:  # people come largest first, so a smaller or equal size takes the pixel
            key = np.full((ys.stop - ys.start, xs.stop - xs.start), size)
        mine = key <= owner_key[ys, xs]
        owner_key[ys, xs] = np.where(mine, key, owner_key[ys, xs])
        return mine

    def _center(self, uv_map: np.ndarray, visibility: np.ndarray) -> np.ndarray:
        """Mean of the visible joints (sec. 3.1); of the labelled ones when none is visible."""
        use = visibility == 2 if (visibility == 2).any() else visibility > 0
        return uv_map[use].mean(axis=0)

    @staticmethod
    def _box_diagonal(uv_map: np.ndarray) -> float:
        """B_i = sqrt(W^2 + H^2) of the keypoint box, map pixels (eq. 6); at least 1."""
        if len(uv_map) == 0:
            return 1.0
        wh = uv_map.max(axis=0) - uv_map.min(axis=0)
        return max(1.0, float(np.hypot(*wh)))

    def _square(self, point: np.ndarray, radius: int) -> tuple[slice, slice] | None:
        """Map rows and columns of the square of `radius` around the pixel nearest `point`, clipped."""
        h, w = self.config.map_size
        cx, cy = int(np.round(point[0])), int(np.round(point[1]))
        if not (0 <= cx < w and 0 <= cy < h):
            return None
        return (slice(max(0, cy - radius), min(h, cy + radius + 1)),
                slice(max(0, cx - radius), min(w, cx + radius + 1)))

    # --- decode ------------------------------------------------------------------------------------------
    def decode(self, maps: dict[str, np.ndarray], camera: Camera, letterbox: Letterbox) -> Poses3D:
        """Poses of one image from its maps (no batch axis): metric 3D in `camera`'s frame (eq. 13)."""
        cfg, J, root = self.config, self.skeleton.num_joints, self.skeleton.root
        heat = np.ascontiguousarray(maps["center"][0], dtype=np.float32)
        h, w = heat.shape
        # Center NMS: a peak is its own maximum over the kernel (max pooling by dilation).
        pooled = cv2.dilate(heat, np.ones((cfg.nms_kernel, cfg.nms_kernel), np.uint8))
        ys, xs = np.nonzero((heat >= pooled) & (heat > cfg.center_threshold))
        order = np.argsort(-heat[ys, xs], kind="stable")[: cfg.top_k]
        ys, xs = ys[order], xs[order]
        if len(ys) == 0:
            return Poses3D.empty(self.skeleton.joint_names)
        scores = heat[ys, xs].astype(np.float64)
        offsets = maps["offsets"].reshape(J, 2, h, w)
        joints_map = np.stack([xs, ys], -1)[:, None, :] + offsets[:, :, ys, xs].transpose(2, 0, 1)  # (N, J, 2)
        sizes = np.array([self._box_diagonal(p) for p in joints_map])
        joint_conf = scores[:, None] * self._offset_agreement(offsets, xs, ys, joints_map, sizes)

        # Depth is read at each person's own root pixel (sec. 3.3), bilinearly.
        root_uv = joints_map[:, root]
        f_input = focal_of(letterbox.input_K(camera.K))
        z_root = _bilinear(maps["root_depth"], root_uv)[:, 0] * f_input / cfg.reference_focal_px
        z = np.repeat(z_root[:, None], J, axis=1)
        z[:, self.non_root] -= _bilinear(maps["rel_depth"], root_uv)  # eq. 2: Z_j = Z_root - dZ_j

        keep = self._pose_nms(joints_map, z_root, sizes, np.stack([xs, ys], -1))[: cfg.max_people]
        joints_map, z, joint_conf, scores = joints_map[keep], z[keep], joint_conf[keep], scores[keep]
        uv_src = letterbox.to_source(self.to_input(joints_map))
        xyz = backproject(uv_src.reshape(-1, 2), z.reshape(-1), camera).reshape(len(keep), J, 3)
        return Poses3D(xyz, uv_src, np.clip(joint_conf, 0.0, 1.0), scores, self.skeleton.joint_names)

    def _offset_agreement(self, offsets: np.ndarray, xs: np.ndarray, ys: np.ndarray, joints_map: np.ndarray,
                          sizes: np.ndarray) -> np.ndarray:
        """Per-joint confidence in [0, 1]: how well the 3x3 neighbours of the center agree on the joint.

        The paper has no per-joint score; robots need one, and the spread of neighbouring offset votes is
        a free, label-free measure of how sure the regression is.
        """
        J, _, h, w = offsets.shape
        spread = np.zeros(joints_map.shape[:2])
        count = 0
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                nx, ny = np.clip(xs + dx, 0, w - 1), np.clip(ys + dy, 0, h - 1)
                vote = np.stack([nx, ny], -1)[:, None, :] + offsets[:, :, ny, nx].transpose(2, 0, 1)
                spread += np.sum((vote - joints_map) ** 2, axis=-1)
                count += 1
        rms = np.sqrt(spread / count)
        return np.exp(-0.5 * (rms / (0.05 * sizes[:, None])) ** 2)

    def _pose_nms(self, joints_map: np.ndarray, z_root: np.ndarray, sizes: np.ndarray,
                  centers: np.ndarray) -> np.ndarray:
        """Indices of the kept candidates (already sorted by score): NMS over 2D pose and root depth, and
        (nms_torso) over centers that fall inside a stronger candidate's torso box."""
        cfg, J = self.config, self.skeleton.num_joints
        dist = np.linalg.norm(joints_map[:, None] - joints_map[None], axis=-1)  # (N, N, J)
        close_2d = (dist < cfg.nms_distance_fraction * sizes[None, :, None]).sum(-1) >= cfg.nms_joint_fraction * J
        if cfg.nms_torso:
            torso = joints_map[:, self._torso]  # (N, T, 2)
            middle = 0.5 * (torso.min(1) + torso.max(1))
            half = 0.5 * cfg.nms_torso_scale * (torso.max(1) - torso.min(1))
            # inside[i, k]: candidate i's center lies in candidate k's torso box
            inside = (np.abs(centers[:, None].astype(np.float64) - middle[None]) <= half[None]).all(-1)
            close_2d = close_2d | inside
        close_z = np.abs(z_root[:, None] - z_root[None]) < cfg.nms_depth_m
        duplicate = close_2d & close_z
        kept: list[int] = []
        for i in range(len(joints_map)):
            if not any(duplicate[i, k] for k in kept):
                kept.append(i)
        return np.array(kept, dtype=np.int64)

    @property
    def _torso(self) -> list[int]:
        """Joints whose box is the torso: neck, shoulders, hips and the root (MPI15 names)."""
        names = ("neck", "l_shoulder", "r_shoulder", "l_hip", "r_hip", "pelvis")
        return [self.skeleton.joint_names.index(n) for n in names if n in self.skeleton.joint_names]


def _put(target: np.ndarray, mask: np.ndarray, value: np.ndarray | float) -> None:
    """target[:, mask] = value (broadcast over the channel axis), in place on a view of a target map."""
    target[...] = np.where(mask[None], value, target)


def _bilinear(maps: np.ndarray, uv_map: np.ndarray) -> np.ndarray:
    """Sample (C, h, w) maps at (N, 2) continuous map coordinates, clamped to the map: (N, C)."""
    _, h, w = maps.shape
    x = np.clip(uv_map[:, 0], 0, w - 1)
    y = np.clip(uv_map[:, 1], 0, h - 1)
    x0, y0 = np.floor(x).astype(int), np.floor(y).astype(int)
    x1, y1 = np.minimum(x0 + 1, w - 1), np.minimum(y0 + 1, h - 1)
    ax, ay = (x - x0)[None], (y - y0)[None]
    top = maps[:, y0, x0] * (1 - ax) + maps[:, y0, x1] * ax
    bottom = maps[:, y1, x0] * (1 - ax) + maps[:, y1, x1] * ax
    return (top * (1 - ay) + bottom * ay).T
