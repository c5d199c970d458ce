"""Axis-aligned image boxes ``[x1, y1, x2, y2]`` in pixels (see ``frames``)."""
from __future__ import annotations

from typing import Iterable

import numpy as np
import torch

__all__ = ["Boxes2D"]


class Boxes2D:
    """A set of ``N`` image boxes.

    Attributes:
        tensor: ``(N, 4)`` float ``[x1, y1, x2, y2]``, x right, y down, pixels.
    """

    def __init__(self, tensor: torch.Tensor | np.ndarray | Iterable):
        tensor = torch.as_tensor(tensor)
        if not tensor.is_floating_point():
            tensor = tensor.float()
        if tensor.numel() == 0:
            tensor = tensor.reshape(0, 4)
        if tensor.dim() != 2 or tensor.shape[1] != 4:
            raise ValueError(f"Boxes2D expects a (N, 4) tensor [x1, y1, x2, y2], got shape {tuple(tensor.shape)}")
        self.tensor = tensor

    def __len__(self) -> int:
        return self.tensor.shape[0]

    def __repr__(self) -> str:
        return f"Boxes2D(n={len(self)})"

    def __getitem__(self, index) -> "Boxes2D":
        if isinstance(index, int):
            return Boxes2D(self.tensor[index].view(1, 4))
        if isinstance(index, np.ndarray):
            index = torch.from_numpy(index)
        return Boxes2D(self.tensor[index])

    @classmethod
    def cat(cls, boxes: Iterable["Boxes2D"]) -> "Boxes2D":
        return cls(torch.cat([b.tensor for b in boxes], dim=0))

    def clone(self) -> "Boxes2D":
        return Boxes2D(self.tensor.clone())

    def to(self, *args, **kwargs) -> "Boxes2D":
        return Boxes2D(self.tensor.to(*args, **kwargs))

    def numpy(self) -> np.ndarray:
        return self.tensor.detach().cpu().numpy()

    @property
    def width(self) -> torch.Tensor:
        return (self.tensor[:, 2] - self.tensor[:, 0]).clamp_min(0)

    @property
    def height(self) -> torch.Tensor:
        return (self.tensor[:, 3] - self.tensor[:, 1]).clamp_min(0)

    def area(self) -> torch.Tensor:
        return self.width * self.height

    def centers(self) -> torch.Tensor:
        return (self.tensor[:, :2] + self.tensor[:, 2:]) / 2

    def clip(self, image_size: tuple[int, int]) -> "Boxes2D":
        """Clip to an image of ``(height, width)``."""
        h, w = image_size
        t = self.tensor.clone()
        t[:, 0::2] = t[:, 0::2].clamp(0, w)
        t[:, 1::2] = t[:, 1::2].clamp(0, h)
        return Boxes2D(t)

    def nonempty(self, min_size: float = 0.0) -> torch.Tensor:
        """``(N,)`` bool: both sides longer than ``min_size``."""
        return (self.width > min_size) & (self.height > min_size)

    @classmethod
    def from_points(cls, points: torch.Tensor) -> "Boxes2D":
        """Enclosing boxes of ``(N, K, 2)`` image points (e.g. projected corners)."""
        if points.dim() != 3 or points.shape[-1] != 2:
            raise ValueError(f"expected (N, K, 2) points, got {tuple(points.shape)}")
        if points.shape[0] == 0:
            return cls(points.new_zeros(0, 4))
        return cls(torch.cat([points.amin(dim=1), points.amax(dim=1)], dim=1))
