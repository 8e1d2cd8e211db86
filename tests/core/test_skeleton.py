"""Joint-set mappings keep labels and build combined joints as SMAP does."""
from __future__ import annotations

import numpy as np
import pytest

from drm_core.skeleton import COCO17, MPI15, MUCO21, to_mpi15


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int64])
def test_mapping_keeps_visibility_of_any_integer_type(dtype):
    joints = np.random.default_rng(0).normal(size=(2, MUCO21.num_joints, 3))
    vis = np.full((2, MUCO21.num_joints), 2, dtype)
    vis[1, MUCO21.index("l_wrist")] = 1
    mapped, mvis = to_mpi15(MUCO21).apply(joints, vis)
    assert mvis.dtype == dtype and set(np.unique(mvis)) == {1, 2}
    assert mvis[1, MPI15.index("l_wrist")] == 1
    np.testing.assert_array_equal(mapped[:, MPI15.index("neck")], joints[:, MUCO21.index("thorax")])


def test_coco_pelvis_and_neck_and_missing_head_top():
    joints = np.random.default_rng(1).normal(size=(1, COCO17.num_joints, 2))
    vis = np.full((1, COCO17.num_joints), 2, np.int8)
    vis[0, COCO17.index("l_hip")] = 0
    mapped, mvis = to_mpi15(COCO17).apply(joints, vis)
    c = COCO17.index
    assert mvis[0, MPI15.index("pelvis")] == 0  # one hip missing: no pelvis
    assert mvis[0, MPI15.index("head_top")] == 0
    vis[0, c("l_hip")] = 2
    mapped, mvis = to_mpi15(COCO17).apply(joints, vis)
    hips = joints[0, [c("l_hip"), c("r_hip")]].mean(0)
    shoulders = joints[0, [c("l_shoulder"), c("r_shoulder")]].mean(0)
    np.testing.assert_allclose(mapped[0, MPI15.index("pelvis")], hips)
    np.testing.assert_allclose(mapped[0, MPI15.index("neck")], shoulders + 0.185 * (shoulders - hips))
