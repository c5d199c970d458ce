"""The voxel grid shared by voxelization, BEV scatter and the BEV head."""
from __future__ import annotations

import dataclasses
from typing import Sequence

import torch

__all__ = ["VoxelGrid"]


@dataclasses.dataclass(frozen=True)
class VoxelGrid:
    """A regular voxel grid over a LiDAR-frame box.

    Attributes:
        point_range: ``[x0, y0, z0, x1, y1, z1]`` metres, LiDAR frame; half-open ``[min, max)``.
        voxel_size: ``[vx, vy, vz]`` metres.

    Voxel ``(z, y, x)`` indices count from the range minimum.  A BEV map at
    ``stride`` s has shape ``(ny / s, nx / s)`` with row = y index and
    column = x index; cell ``(i, j)`` covers
    ``x in [x0 + j s vx, x0 + (j + 1) s vx)``, likewise for y.
    """

    point_range: tuple[float, float, float, float, float, float]
    voxel_size: tuple[float, float, float]

    def __init__(self, *, point_range: Sequence[float], voxel_size: Sequence[float]):
        point_range = tuple(float(v) for v in point_range)
        voxel_size = tuple(float(v) for v in voxel_size)
        if len(point_range) != 6 or len(voxel_size) != 3:
            raise ValueError(f"point_range needs 6 values and voxel_size 3, got {point_range}, {voxel_size}")
        if any(point_range[i + 3] <= point_range[i] for i in range(3)) or min(voxel_size) <= 0:
            raise ValueError(f"empty point_range {point_range} or non-positive voxel_size {voxel_size}")
        object.__setattr__(self, "point_range", point_range)
        object.__setattr__(self, "voxel_size", voxel_size)
        for axis in range(3):
            n = (point_range[axis + 3] - point_range[axis]) / voxel_size[axis]
            if abs(n - round(n)) > 1e-4:
                raise ValueError(f"point_range extent along axis {axis} ({point_range[axis + 3] - point_range[axis]} m) "
                                 f"is not a multiple of the voxel size {voxel_size[axis]}")

    @property
    def shape_zyx(self) -> tuple[int, int, int]:
        """``(nz, ny, nx)`` voxels per axis."""
        return tuple(int(round((self.point_range[a + 3] - self.point_range[a]) / self.voxel_size[a]))
                     for a in (2, 1, 0))

    def bev_shape(self, stride: int = 1) -> tuple[int, int]:
        """``(rows, cols)`` = ``(ny, nx) / stride`` of a BEV map."""
        _, ny, nx = self.shape_zyx
        if ny % stride or nx % stride:
            raise ValueError(f"BEV grid {ny}x{nx} is not divisible by stride {stride}")
        return ny // stride, nx // stride

    def cell_centers(self, stride: int = 1, device: torch.device | str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
        """``(x (cols,), y (rows,))`` metric centres of the BEV cells at ``stride``."""
        rows, cols = self.bev_shape(stride)
        x = self.point_range[0] + (torch.arange(cols, device=device) + 0.5) * self.voxel_size[0] * stride
        y = self.point_range[1] + (torch.arange(rows, device=device) + 0.5) * self.voxel_size[1] * stride
        return x, y

    def voxel_centers(self, voxels_zyx: torch.Tensor) -> torch.Tensor:
        """``(V, 3)`` metric ``[x, y, z]`` centres of ``(V, 3)`` ``[z, y, x]`` voxel indices."""
        size = torch.tensor(self.voxel_size, dtype=torch.float32, device=voxels_zyx.device)
        lo = torch.tensor(self.point_range[:3], dtype=torch.float32, device=voxels_zyx.device)
        return lo + (voxels_zyx.flip(-1).float() + 0.5) * size
