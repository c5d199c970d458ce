"""Dynamic voxelization: per-point voxel coordinates, unique voxels, the point-to-voxel map.

Conventions
    ``point_range = [x0, y0, z0, x1, y1, z1]`` (LiDAR frame, metres) and
    ``voxel_size = [vx, vy, vz]``; the grid has ``grid_shape = (nz, ny, nx)``
    with ``n = round((max - min) / size)`` per axis (Python's ``round``).
    Voxel coordinates are ``[z, y, x]`` (with a leading batch index:
    ``[b, z, y, x]``), as in spconv / mmdet3d.

``voxel_coords``
    A point's voxel on each axis is ``floor((p - min) / size)``, computed in the
    points' dtype.  It gets a voxel when ``min <= p < max`` on every axis (the
    range is half-open) and the index is below the grid size there (it can fall
    past the last cell when the range is not a multiple of the voxel size);
    otherwise its row is ``(-1, -1, -1)``.

``unique_voxels``
    Rows with a negative entry are ignored.  The voxels come out in ascending
    lexicographic ``(b, z, y, x)`` order -- ascending linear index
    ``((b * nz + z) * ny + y) * nx + x``, batch-major -- in every
    implementation, so results are identical across them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch

from ._extension import extension, use_extension

__all__ = ["VoxelizationResult", "dynamic_voxelize", "grid_shape", "unique_voxels", "unique_voxels_reference",
           "voxel_coords", "voxel_coords_reference"]


@dataclass(frozen=True)
class VoxelizationResult:
    """The voxels of a (batched) point cloud.

    Attributes:
        voxels: ``(V, 4)`` int32 ``[b, z, y, x]``, ascending linear index (batch-major).
        point_to_voxel: ``(P,)`` int64 row of each point in ``voxels``, ``-1`` for points outside the range.
        counts: ``(V,)`` int32 number of points per voxel.
    """

    voxels: torch.Tensor
    point_to_voxel: torch.Tensor
    counts: torch.Tensor

    @property
    def num_voxels(self) -> int:
        return int(self.voxels.shape[0])


def _grid(voxel_size: Sequence[float], point_range: Sequence[float]) -> tuple[list[float], list[float], list[int]]:
    """Validated ``voxel_size``, ``point_range`` as float lists and the grid size ``[nx, ny, nz]``."""
    voxel_size = [float(v) for v in voxel_size]
    point_range = [float(v) for v in point_range]
    if len(voxel_size) != 3:
        raise ValueError(f"voxel_size must be [vx, vy, vz], got {voxel_size}")
    if len(point_range) != 6:
        raise ValueError(f"point_range must be [x0, y0, z0, x1, y1, z1], got {point_range}")
    for axis in range(3):
        if not voxel_size[axis] > 0:
            raise ValueError(f"voxel_size must be positive, got {voxel_size}")
        if not point_range[axis + 3] > point_range[axis]:
            raise ValueError(f"point_range max must exceed min on every axis, got {point_range}")
    size = [round((point_range[a + 3] - point_range[a]) / voxel_size[a]) for a in range(3)]
    if min(size) < 1:
        raise ValueError(f"point_range {point_range} holds no whole voxel of size {voxel_size}")
    return voxel_size, point_range, size


def grid_shape(voxel_size: Sequence[float], point_range: Sequence[float]) -> tuple[int, int, int]:
    """``(nz, ny, nx)``: the voxel grid of ``point_range`` at ``voxel_size``."""
    nx, ny, nz = _grid(voxel_size, point_range)[2]
    return nz, ny, nx


def _float_points(points: torch.Tensor, op: str) -> torch.Tensor:
    if points.dim() != 2 or points.shape[1] < 3:
        raise ValueError(f"{op}: points must be (P, >=3) with x, y, z first, got shape {tuple(points.shape)}")
    if points.dtype not in (torch.float32, torch.float64):
        points = points.float()
    return points


def voxel_coords_reference(points: torch.Tensor, *, voxel_size: Sequence[float],
                           point_range: Sequence[float]) -> torch.Tensor:
    """PyTorch reference of :func:`voxel_coords`."""
    points = _float_points(points, "voxel_coords")
    voxel_size, point_range, size = _grid(voxel_size, point_range)
    xyz = points[:, :3]
    as_tensor = lambda v: torch.tensor(v, dtype=points.dtype, device=points.device)  # noqa: E731
    lo, hi = as_tensor(point_range[:3]), as_tensor(point_range[3:])
    index = torch.floor((xyz - lo) / as_tensor(voxel_size))
    valid = ((xyz >= lo) & (xyz < hi) & (index < as_tensor([float(n) for n in size]))).all(dim=1)
    coords = torch.where(valid[:, None], index, torch.full_like(index, -1)).to(torch.int32)
    return coords.flip(1).contiguous()  # [x, y, z] -> [z, y, x]


def voxel_coords(points: torch.Tensor, *, voxel_size: Sequence[float], point_range: Sequence[float],
                 impl: str = "auto") -> torch.Tensor:
    """``(P, 3)`` int32 ``[z, y, x]`` voxel of each point, ``-1`` rows for points outside the range.

    Args:
        points: ``(P, >=3)`` float, x, y, z first.
        voxel_size: ``[vx, vy, vz]``.
        point_range: ``[x0, y0, z0, x1, y1, z1]``, half-open ``[min, max)``.
    """
    points = _float_points(points, "voxel_coords")
    if use_extension("voxel_coords", impl, points):
        voxel_size, point_range, size = _grid(voxel_size, point_range)
        return extension().voxel_coords(points.contiguous(), voxel_size, point_range, size)
    return voxel_coords_reference(points, voxel_size=voxel_size, point_range=point_range)


def _check_coords(coords: torch.Tensor, op: str) -> None:
    if coords.dim() != 2 or coords.shape[1] != 4:
        raise ValueError(f"{op}: coords must be (P, 4) [batch, z, y, x], got shape {tuple(coords.shape)}")
    if coords.dtype not in (torch.int32, torch.int64):
        raise TypeError(f"{op}: coords must be int32 or int64, got {coords.dtype}")


def unique_voxels_reference(coords: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """PyTorch reference of :func:`unique_voxels` (``torch.unique`` sorts rows lexicographically)."""
    _check_coords(coords, "unique_voxels")
    valid = (coords >= 0).all(dim=1)
    point_to_voxel = torch.full((coords.shape[0],), -1, dtype=torch.long, device=coords.device)
    if not bool(valid.any()):
        return (torch.zeros(0, 4, dtype=torch.int32, device=coords.device), point_to_voxel,
                torch.zeros(0, dtype=torch.int32, device=coords.device))
    voxels, inverse, counts = torch.unique(coords[valid].long(), dim=0, return_inverse=True, return_counts=True)
    point_to_voxel[valid] = inverse
    return voxels.to(torch.int32), point_to_voxel, counts.to(torch.int32)


def unique_voxels(coords: torch.Tensor, *, impl: str = "auto") -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The occupied voxels of ``coords`` and the voxel of every point.

    Args:
        coords: ``(P, 4)`` int32/int64 ``[batch, z, y, x]``; rows with a negative entry are ignored.

    Returns:
        ``voxels (V, 4)`` int32 in ascending lexicographic ``(b, z, y, x)`` order,
        ``point_to_voxel (P,)`` int64 (``-1`` for ignored rows), ``counts (V,)`` int32.
    """
    _check_coords(coords, "unique_voxels")
    if use_extension("unique_voxels", impl, coords):
        return tuple(extension().unique_voxels(coords.contiguous()))
    return unique_voxels_reference(coords)


def dynamic_voxelize(points: torch.Tensor, batch_idx: torch.Tensor | None = None, *,
                     voxel_size: Sequence[float], point_range: Sequence[float],
                     impl: str = "auto") -> VoxelizationResult:
    """Voxelize a batch of point clouds: :func:`voxel_coords` then :func:`unique_voxels`.

    Args:
        points: ``(P, >=3)`` float, x, y, z first, all samples concatenated.
        batch_idx: ``(P,)`` int sample of each point (``None``: one sample, index 0).
    """
    coords = voxel_coords(points, voxel_size=voxel_size, point_range=point_range, impl=impl)
    if batch_idx is None:
        batch = coords.new_zeros(coords.shape[0], 1)
    else:
        if batch_idx.shape != (coords.shape[0],):
            raise ValueError(f"dynamic_voxelize: batch_idx must be (P,) = ({coords.shape[0]},), "
                             f"got shape {tuple(batch_idx.shape)}")
        batch = batch_idx.to(device=coords.device, dtype=coords.dtype)[:, None]
    voxels, point_to_voxel, counts = unique_voxels(torch.cat([batch, coords], dim=1), impl=impl)
    return VoxelizationResult(voxels=voxels, point_to_voxel=point_to_voxel, counts=counts)
