"""Low-level image cues of the pseudo-label parser: CIE Lab colour and a colour-boundary map.

All functions take batched ``(B, 3, H, W)`` float RGB images with values in ``[0, 1]`` (not normalised by the
data preprocessor's mean/std; see :func:`denormalize_images`).
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["denormalize_images", "images_from_preprocessor", "rgb_to_lab", "boundary_map"]

# sRGB (D65) -> XYZ
_RGB_TO_XYZ = ((0.412453, 0.357580, 0.180423), (0.212671, 0.715160, 0.072169), (0.019334, 0.119193, 0.950227))
_WHITE_D65 = (0.950456, 1.0, 1.088754)


def denormalize_images(images: Tensor, mean: Sequence[float], std: Sequence[float]) -> Tensor:
    """Undo the data preprocessor's ``(x - mean) / std``: ``(B, 3, H, W)`` -> RGB in ``[0, 1]``
    (``mean``/``std`` in 0-255 units, RGB order)."""
    m = images.new_tensor(mean).view(1, -1, 1, 1)
    s = images.new_tensor(std).view(1, -1, 1, 1)
    return ((images * s + m) / 255.0).clamp(0.0, 1.0)


def images_from_preprocessor(inputs: Tensor, data_preprocessor) -> Tensor:
    """The batch a data preprocessor (mmengine ``ImgDataPreprocessor`` family) made, back to RGB in ``[0, 1]``:
    undoes its mean/std normalisation when it has one (the inputs must be RGB, i.e. no BGR swap)."""
    if not getattr(data_preprocessor, "_enable_normalize", False):
        return (inputs / 255.0).clamp(0.0, 1.0)
    return denormalize_images(inputs, data_preprocessor.mean.view(-1).tolist(),
                              data_preprocessor.std.view(-1).tolist())


def rgb_to_lab(rgb: Tensor) -> Tensor:
    """sRGB ``(B, 3, H, W)`` in ``[0, 1]`` -> CIE Lab ``(B, 3, H, W)`` (L in [0, 100], a/b roughly [-128, 127]),
    D65 white point."""
    if rgb.dim() != 4 or rgb.shape[1] != 3:
        raise ValueError(f"rgb_to_lab expects (B, 3, H, W) images, got {tuple(rgb.shape)}")
    rgb = rgb.clamp(0.0, 1.0)
    linear = torch.where(rgb > 0.04045, ((rgb + 0.055) / 1.055) ** 2.4, rgb / 12.92)
    xyz = torch.einsum("mc,bchw->bmhw", rgb.new_tensor(_RGB_TO_XYZ), linear)
    xyz = xyz / rgb.new_tensor(_WHITE_D65).view(1, 3, 1, 1)
    eps = 216.0 / 24389.0
    f = torch.where(xyz > eps, xyz.clamp(min=eps) ** (1.0 / 3.0), (24389.0 / 27.0 * xyz + 16.0) / 116.0)
    lab_l = 116.0 * f[:, 1] - 16.0
    lab_a = 500.0 * (f[:, 0] - f[:, 1])
    lab_b = 200.0 * (f[:, 1] - f[:, 2])
    return torch.stack([lab_l, lab_a, lab_b], dim=1)


def boundary_map(lab: Tensor, quantile: float = 0.98) -> Tensor:
    """Colour-edge strength in ``[0, 1]``: Sobel gradient magnitude of the Lab channels, ``(B, 3, H, W)`` ->
    ``(B, H, W)``, divided per image by its ``quantile`` (robust to a few very strong edges) and clipped."""
    if lab.dim() != 4 or lab.shape[1] != 3:
        raise ValueError(f"boundary_map expects (B, 3, H, W) Lab images, got {tuple(lab.shape)}")
    kx = lab.new_tensor([[1.0, 0.0, -1.0], [2.0, 0.0, -2.0], [1.0, 0.0, -1.0]]) / 8.0
    kernel = torch.stack([kx, kx.t()]).unsqueeze(1).repeat(3, 1, 1, 1)  # (6, 1, 3, 3): x and y per channel
    grad = F.conv2d(F.pad(lab, (1, 1, 1, 1), mode="replicate"), kernel, groups=3)  # (B, 6, H, W)
    mag = grad.pow(2).sum(1).sqrt()
    b = mag.shape[0]
    scale = torch.quantile(mag.reshape(b, -1).float(), quantile, dim=1).clamp(min=1e-3).to(mag.dtype)
    return (mag / scale.view(b, 1, 1)).clamp(0.0, 1.0)
