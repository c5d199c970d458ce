"""Compiled sparse LiDAR ops, each with a pure-PyTorch reference beside it.

Ops (one module each; every public op takes ``impl="auto" | "ext" | "reference"``):

* :func:`points_in_boxes`, :func:`points_in_boxes_index` -- points inside oriented 3D boxes;
* :func:`voxel_coords`, :func:`unique_voxels`, :func:`dynamic_voxelize` -- dynamic voxelization;
* :func:`scatter_reduce` -- point features reduced into voxels (sum / mean / max), with autograd;
* :func:`window_partition` -- (shifted) windows of sparse regional attention (SST);
* :func:`region_batching`, :func:`gather_regions`, :func:`scatter_regions` -- SST's bucketed
  regions and the gather / scatter between voxels and regions, with autograd.

The kernels live in ``ops/csrc`` and build into ``perception._ops_ext`` (C++ with
``at::parallel_for`` on CPU, CUDA when built with it).  ``impl="auto"`` uses the
extension when it is built and takes the tensors' device, the reference
otherwise (warning once when the extension is missing); see
:mod:`perception.ops._extension`.  This package imports torch only.
"""
from ._extension import IMPLS, backend_summary, extension_available
from .points_in_boxes import (POINTS_IN_BOXES_EPS, points_in_boxes, points_in_boxes_index,
                              points_in_boxes_index_reference, points_in_boxes_reference)
from .region_batching import (RegionBatches, RegionBucket, gather_regions, gather_regions_reference, region_batching,
                              region_batching_reference, scatter_regions, scatter_regions_reference)
from .scatter_reduce import REDUCTIONS, scatter_reduce, scatter_reduce_reference
from .voxelize import (VoxelizationResult, dynamic_voxelize, grid_shape, unique_voxels, unique_voxels_reference,
                       voxel_coords, voxel_coords_reference)
from .window_partition import WindowPartition, window_partition, window_partition_reference

__all__ = [
    "IMPLS", "POINTS_IN_BOXES_EPS", "backend_summary", "REDUCTIONS", "RegionBatches", "RegionBucket", "VoxelizationResult",
    "WindowPartition", "dynamic_voxelize", "extension_available", "gather_regions", "gather_regions_reference",
    "grid_shape", "points_in_boxes", "points_in_boxes_index", "points_in_boxes_index_reference",
    "points_in_boxes_reference", "region_batching", "region_batching_reference", "scatter_reduce",
    "scatter_reduce_reference", "scatter_regions", "scatter_regions_reference", "unique_voxels",
    "unique_voxels_reference", "voxel_coords", "voxel_coords_reference", "window_partition",
    "window_partition_reference",
]
