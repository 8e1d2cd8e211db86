"""drm_core.drawing: bones between shown joints, dim where unsure, rings for hollow joints, ground truth under."""
import numpy as np

from drm_core.drawing import draw_people, draw_skeleton

BONES = [(0, 1), (1, 2)]
UV = np.array([[10.0, 10.0], [50.0, 10.0], [50.0, 50.0]])
RED = (255, 0, 0)


def _blank() -> np.ndarray:
    return np.zeros((64, 64, 3), np.uint8)


def test_bones_need_both_ends_shown():
    img = draw_skeleton(_blank(), UV, BONES, RED, shown=np.array([True, True, False]))
    assert img[10, 30, 0] == 255  # bone 0-1 drawn
    assert img[30, 50].max() == 0  # bone 1-2 left out: joint 2 not shown


def test_unsure_joints_are_drawn_dim():
    img = draw_skeleton(_blank(), UV, BONES, RED, sure=np.array([True, True, False]))
    assert img[10, 30, 0] == 255
    assert img[30, 50, 0] == 255 // 3


def test_hollow_joint_is_a_ring_and_colours_go_per_bone_and_joint():
    img = draw_skeleton(_blank(), UV, BONES, [RED, (0, 255, 0)], thickness=1, joint_radius=5,
                        joint_colour=[(0, 0, 255)] * 3, hollow=np.array([True, False, False]))
    assert img[7, 10].max() == 0 and img[5, 10, 2] > 0  # a ring around joint 0, empty inside
    assert img[50, 50, 2] == 255  # joint 2 a filled disc
    assert img[30, 50, 1] > 200  # the second bone in the second colour


def test_people_hide_low_confidence_and_draw_ground_truth_under_them():
    conf = np.array([[0.9, 0.9, 0.01]])
    img = draw_people(_blank(), UV[None] / 2, BONES, [RED], scale=2.0, confidences=conf, min_confidence=0.1,
                      ground_truth_uv_px=UV[None] / 2 + [0, 1], ground_truth_colour=(0, 0, 255))
    assert img[10, 30, 0] == 255  # the prediction, scaled back to this image
    assert img[30, 50, 0] == 0 and img[30, 50, 2] > 0  # low-confidence bone left out; ground truth still there
