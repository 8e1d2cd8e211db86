"""Skeletons drawn over images: the one place every overlay, contact sheet and label viewer draws bones and joints.

Colours are triples in the image's own channel order (RGB for RGB images, BGR for OpenCV's BGR ones); the caller
picks them. Points are rounded to the nearest pixel and drawn anti-aliased.
"""
from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

Colour = tuple[int, int, int]
WHITE: Colour = (255, 255, 255)


def _pixel(point: np.ndarray) -> tuple[int, int]:
    return int(round(float(point[0]))), int(round(float(point[1])))


def _dim(colour: Colour) -> Colour:
    return tuple(int(c) // 3 for c in colour)


def _is_colour(value: Colour | Sequence[Colour]) -> bool:
    """One colour (three numbers) rather than a list of colours."""
    return len(value) == 3 and isinstance(value[0], (int, np.integer))


def draw_skeleton(image: np.ndarray, uv_px: np.ndarray, bones: Sequence[tuple[int, int]],
                  colour: Colour | Sequence[Colour], *, thickness: int = 2, joint_radius: int = 0,
                  joint_colour: Colour | Sequence[Colour] | None = None, shown: np.ndarray | None = None,
                  sure: np.ndarray | None = None, hollow: np.ndarray | None = None) -> np.ndarray:
    """Draw one person's bones and joints into `image` (in place; also returned).

    uv_px: (J, 2) pixels of `image`. colour: one colour, or one per bone. joint_radius 0 draws no joints;
    joint_colour is one colour or one per joint (default: `colour` when it is one colour, else white).
    shown: (J,) joints that exist (labelled, confident enough); a bone needs both ends shown; default all.
    sure: (J,) joints drawn in full colour; the others, and bones touching them, in a third of it; default all.
    hollow: (J,) joints drawn as rings instead of discs (occluded labels).
    """
    count = len(uv_px)
    shown = np.ones(count, bool) if shown is None else np.asarray(shown, bool)
    sure = np.ones(count, bool) if sure is None else np.asarray(sure, bool)
    hollow = np.zeros(count, bool) if hollow is None else np.asarray(hollow, bool)
    bone_colours = [colour] * len(bones) if _is_colour(colour) else list(colour)
    if joint_colour is None:
        joint_colour = colour if _is_colour(colour) else WHITE
    joint_colours = [joint_colour] * count if _is_colour(joint_colour) else list(joint_colour)
    points = [_pixel(p) for p in uv_px]
    for (a, b), bone_colour in zip(bones, bone_colours):
        if shown[a] and shown[b]:
            c = bone_colour if sure[a] and sure[b] else _dim(bone_colour)
            cv2.line(image, points[a], points[b], c, thickness, cv2.LINE_AA)
    if joint_radius > 0:
        ring = max(1, thickness // 2)
        for j in np.flatnonzero(shown):
            c = joint_colours[j] if sure[j] else _dim(joint_colours[j])
            cv2.circle(image, points[j], joint_radius, c, ring if hollow[j] else -1, cv2.LINE_AA)
    return image


def draw_people(image: np.ndarray, people_uv_px: np.ndarray, bones: Sequence[tuple[int, int]],
                colours: Sequence[Colour], *, scale: float = 1.0, confidences: np.ndarray | None = None,
                min_confidence: float = 0.1, dim_unsure: bool = False, thickness: int = 2, joint_radius: int = 0,
                ground_truth_uv_px: np.ndarray | None = None, ground_truth_shown: np.ndarray | None = None,
                ground_truth_colour: Colour = WHITE, ground_truth_thickness: int = 1,
                ground_truth_joint_radius: int = 0) -> np.ndarray:
    """Draw predicted people (one colour each) over `image`, ground truth first so predictions stay on top.

    people_uv_px: (P, J, 2) in source pixels, multiplied by `scale` to land on `image` (a resized copy).
    confidences: (P, J); joints under min_confidence are left out (or, with dim_unsure, drawn dim).
    ground_truth_uv_px: (G, J, 2) source pixels; ground_truth_shown: (G, J) labelled joints (default all).
    Returns `image`, drawn in place.
    """
    if ground_truth_uv_px is not None:
        for g, uv in enumerate(np.asarray(ground_truth_uv_px, float)):
            draw_skeleton(image, uv * scale, bones, ground_truth_colour, thickness=ground_truth_thickness,
                          joint_radius=ground_truth_joint_radius,
                          shown=None if ground_truth_shown is None else ground_truth_shown[g])
    for p, (uv, colour) in enumerate(zip(np.asarray(people_uv_px, float), colours)):
        confident = None if confidences is None else np.asarray(confidences[p]) >= min_confidence
        draw_skeleton(image, uv * scale, bones, colour, thickness=thickness, joint_radius=joint_radius,
                      shown=None if dim_unsure else confident, sure=confident if dim_unsure else None)
    return image
