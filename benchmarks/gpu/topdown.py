"""A top-down baseline of comparable backbone size, timing only, random weights: a person detector
(torchvision's Faster R-CNN with a MobileNetV3-Large FPN, 19 M parameters, at the DRM paper input's scale)
then an HRNet-W32 crop network (the top-down HRNet/SimpleBaseline recipe: 256x192 crops, heatmaps from the
stride-4 branch), with every person's crop in one batch (the favourable case for a GPU), and one crop at a
time (as the paper's top-down methods run).

The crops come from the scene's ground-truth boxes, so the crop network sees exactly N people whatever the
random detector finds; the detector's own cost (proposals, NMS) does not depend on the people in a picture
of random weights, which favours the baseline, not DRM. BatchNorm statistics are calibrated on the scene, as
for DRM (common.calibrate_batchnorm).
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn
from torchvision.models.detection import fasterrcnn_mobilenet_v3_large_fpn
from torchvision.ops import roi_align

from benchmarks.gpu.common import Scene, Settings, calibrate_batchnorm, make_scenes, time_stages
from benchmarks.gpu.latency import AUTOCAST
from drm_core.gpu_preprocess import upload_image
from drm_core.model.backbone import create_hrnet

BOX_MARGIN = 1.25  # the top-down recipe's box enlargement before the crop
IMAGENET_MEAN = (0.485, 0.456, 0.406)  # the crop network's input normalisation
IMAGENET_STD = (0.229, 0.224, 0.225)


class CropPoseNet(nn.Module):
    """HRNet-W32 on (N, 3, 256, 192) crops -> (N, J, 64, 48) heatmaps from its stride-4 branch."""

    def __init__(self, joints: int = 17, backbone: str = "hrnet_w32"):
        super().__init__()
        self.body = create_hrnet(backbone, pretrained=False)
        self.head = nn.Conv2d(self.body.feature_info.channels()[0], joints, 1)

    def forward(self, crops: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(crops)[0])


def person_boxes(scene: Scene, crop_size: tuple[int, int]) -> np.ndarray:
    """(N, 4) x1 y1 x2 y2 boxes around each person's joints, enlarged by BOX_MARGIN to the crop's aspect."""
    low, high = scene.joints_2d_px.min(1), scene.joints_2d_px.max(1)
    centre, size = (low + high) / 2, (high - low) * BOX_MARGIN
    aspect = crop_size[0] / crop_size[1]  # w / h
    w = np.maximum(size[:, 0], size[:, 1] * aspect)
    h = w / aspect
    return np.stack([centre[:, 0] - w / 2, centre[:, 1] - h / 2, centre[:, 0] + w / 2, centre[:, 1] + h / 2], 1)


def heatmap_peaks(heatmaps: torch.Tensor) -> np.ndarray:
    """(N, J, 2) argmax positions (x, y) of each heatmap, on the host."""
    n, j, h, w = heatmaps.shape
    flat = heatmaps.reshape(n, j, h * w).argmax(-1)
    return torch.stack([flat % w, flat // w], -1).cpu().numpy()


def run_topdown(settings: Settings) -> dict[str, Any]:
    """Per people count: detector, crops, crop network, heatmap decoding; p50/p95 per stage and in total."""
    device, precision = settings.device, settings.topdown_precision
    dtype = AUTOCAST[precision]
    width, height = settings.paper_input
    detector = fasterrcnn_mobilenet_v3_large_fpn(weights=None, weights_backbone=None, num_classes=2,
                                                 min_size=height, max_size=width).to(device).eval()
    torch.manual_seed(0)
    backbone = settings.backbone_override or "hrnet_w32"
    pose_net = CropPoseNet(backbone=backbone).to(device).eval()
    mean = torch.tensor(IMAGENET_MEAN, device=device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=device).view(1, 3, 1, 1)
    crop_w, crop_h = settings.crop_size

    def autocast():
        return torch.autocast(device, dtype=dtype or torch.float32, enabled=dtype is not None)

    def detect(image: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode(), autocast():
            detector([image[0] / 255.0])
        return image

    def crop(image: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
        crops = roi_align(image, [boxes], (crop_h, crop_w), spatial_scale=1.0, sampling_ratio=2, aligned=True)
        return (crops / 255.0 - mean) / std

    def pose(crops: torch.Tensor, one_by_one: bool) -> torch.Tensor:
        with torch.inference_mode(), autocast():
            if one_by_one:
                return torch.cat([pose_net(c[None]) for c in crops])
            return pose_net(crops)

    scenes = make_scenes(settings)
    image = upload_image(scenes[-1].image, device)
    calibrate_batchnorm(detector.backbone, detector.transform([image[0] / 255.0])[0].tensors)
    detector.eval()
    boxes = torch.as_tensor(person_boxes(scenes[-1], settings.crop_size), dtype=torch.float32, device=device)
    calibrate_batchnorm(pose_net, crop(image, boxes))
    rows = []
    models = {"crop_backbone": backbone, "detector_parameters_m": sum(p.numel() for p in detector.parameters()) / 1e6,
              "crop_net_parameters_m": sum(p.numel() for p in pose_net.parameters()) / 1e6}
    for one_by_one in (False, True) if settings.topdown_sequential else (False,):
        for scene in scenes:
            boxes = torch.as_tensor(person_boxes(scene, settings.crop_size), dtype=torch.float32, device=device)
            stages = [("preprocess", lambda s: upload_image(s.image, device)),
                      ("detector", detect),
                      ("crop", lambda image: crop(image, boxes)),
                      ("crop_network", lambda crops: pose(crops, one_by_one)),
                      ("decode", heatmap_peaks)]
            # One crop at a time costs N network passes: a third of the repeats keeps the phase short.
            repeats = max(1, settings.repeats // 3) if one_by_one else settings.repeats
            timing = time_stages(stages, scene, repeats, min(settings.warmup, 2), device)
            rows.append({"method": "top-down", "crops": "one by one" if one_by_one else "batched",
                         "precision": precision, "people": scene.people, "crop": f"{crop_w}x{crop_h}",
                         "detector_input": f"{width}x{height}", **timing})
        torch.cuda.empty_cache()
    return {"rows": rows, **models}
