"""The shipped model carries MoveNet MultiPose's backbone and center head unchanged (they were frozen in
training), so its 2D is MoveNet's: checked against TensorFlow's own outputs of the original graph, without the
npm package (the checkpoint carries every weight)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from drm_core.assets import DEFAULT_MODEL_PATH
from drm_core.checkpoint import load_model
from tests.movenet_cache import TF_REFERENCE


@pytest.fixture(scope="module")
def shipped():
    model, codec = load_model(DEFAULT_MODEL_PATH, "cpu")
    return model.eval(), codec


@pytest.mark.parametrize("name", ["messi5_256", "rand_256x256"])
def test_the_shipped_backbone_and_center_head_are_movenets(shipped, name):
    model, _ = shipped
    ref = np.load(TF_REFERENCE)
    image = torch.from_numpy(ref[f"{name}/input"].astype(np.float32)).permute(0, 3, 1, 2) / 255.0
    with torch.no_grad():
        p4 = model.backbone((image - model.mean) / model.std)
        center = model.center_head(p4)
    want_p4 = torch.from_numpy(ref[f"{name}/p4"]).permute(0, 3, 1, 2)
    torch.testing.assert_close(p4, want_p4, atol=1e-4, rtol=1e-4)
    want_center = torch.sigmoid(torch.from_numpy(ref[f"{name}/center"]).permute(0, 3, 1, 2))
    torch.testing.assert_close(center, want_center, atol=1e-4, rtol=1e-4)


def test_the_shipped_model_stores_its_input_size_and_threshold(shipped):
    _, codec = shipped
    assert codec.input_width % 32 == 0 and codec.input_height % 32 == 0
    assert 0.1 <= codec.center_threshold < 0.5
