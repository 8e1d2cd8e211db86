"""Letterbox and normalise on the engine's device: the uint8 camera image crosses the bus once (2.8 MB at 1280x720,
against 5.1 MB for the float input at 832x512) and the float network input is made where the network runs.

The geometry is exactly camera.Letterbox's (the same affine map as Letterbox.warp, OpenCV's warpAffine with
bilinear taps and a grey border, and its Gaussian pre-blur when shrinking). OpenCV quantises
sub-pixel positions to 1/32 px and rounds the blur to uint8, this does neither: the two differ by a few grey
levels at sharp edges (tests/core/test_cuda_parity.py states the bound).
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from drm_core.camera import Letterbox

PAD_VALUE = 128.0  # Letterbox.warp's default border, grey


def upload_image(image_rgb: np.ndarray, device: str | torch.device) -> torch.Tensor:
    """An HxWx3 uint8 image as a (1, 3, H, W) float32 tensor on `device`, still in 0..255.

    Only the uint8 bytes are copied to the device; the conversion to float happens there.
    """
    image = torch.from_numpy(np.ascontiguousarray(image_rgb)).to(device)
    return image.permute(2, 0, 1).unsqueeze(0).float()


def gaussian_blur(image: torch.Tensor, sigma: float) -> torch.Tensor:
    """cv2.GaussianBlur(image, (0, 0), sigma) for a (1, C, H, W) float tensor: OpenCV's kernel size for uint8
    images and its default border (BORDER_REFLECT_101, torch's 'reflect'), one separable pass per axis."""
    size = int(round(sigma * 3 * 2 + 1)) | 1
    half = size // 2
    taps = torch.arange(size, dtype=torch.float32, device=image.device) - half
    kernel = torch.exp(-taps ** 2 / (2 * sigma ** 2))
    kernel = (kernel / kernel.sum()).to(image.dtype)
    channels = image.shape[1]
    x = F.pad(image, (half, half, 0, 0), mode="reflect")
    x = F.conv2d(x, kernel.view(1, 1, 1, size).expand(channels, 1, 1, size), groups=channels)
    x = F.pad(x, (0, 0, half, half), mode="reflect")
    return F.conv2d(x, kernel.view(1, 1, size, 1).expand(channels, 1, size, 1), groups=channels)


def sampling_grid(letterbox: Letterbox, src_width: int, src_height: int,
                  device: str | torch.device) -> torch.Tensor:
    """grid_sample's (1, H_in, W_in, 2) grid: for every network-input pixel, its source position (the inverse of
    Letterbox.matrix) in grid_sample's normalised coordinates (align_corners=False)."""
    xs = torch.arange(letterbox.input_width, dtype=torch.float32, device=device)
    ys = torch.arange(letterbox.input_height, dtype=torch.float32, device=device)
    u = (xs - letterbox.pad_x) / letterbox.scale  # source pixel coordinates, 0 at the first pixel's centre
    v = (ys - letterbox.pad_y) / letterbox.scale
    gx = (2 * u + 1) / src_width - 1
    gy = (2 * v + 1) / src_height - 1
    return torch.stack(torch.meshgrid(gx, gy, indexing="xy"), dim=-1).unsqueeze(0)


def letterbox_on_device(image_rgb: np.ndarray, letterbox: Letterbox, device: str | torch.device) -> torch.Tensor:
    """The (1, 3, H_in, W_in) float32 network input in [0, 1] on `device`: Predictor.preprocess's result, made
    on the device from one upload of the uint8 image."""
    image = upload_image(image_rgb, device)
    height, width = image.shape[-2:]
    if letterbox.blur_sigma > 0:  # as Letterbox.warp: bilinear taps do not anti-alias a shrink
        image = gaussian_blur(image, letterbox.blur_sigma)
    grid = sampling_grid(letterbox, width, height, image.device)
    # Taps outside the image read the grey border: sample (image - grey) with zero padding, then add grey back.
    warped = F.grid_sample(image - PAD_VALUE, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return (warped + PAD_VALUE) / 255.0
