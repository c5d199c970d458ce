"""Point-cloud (and camera) transforms of the 3D data pipeline, registered in
:data:`perception.registry.TRANSFORMS` (one concept per module).

Result-dict keys and frames are described in :mod:`._common`; each transform's docstring lists what it
reads and writes.  A typical LiDAR training pipeline::

    LoadPointsFromFile -> LoadAnnotations3D -> PointsInImageFilter -> ObjectSample -> RandomFlip3D
    -> GlobalRotScaleTrans -> PointsRangeFilter -> ObjectRangeFilter -> ObjectNameFilter -> PointShuffle
    -> Pack3DDetInputs
"""
from .global_rot_scale_trans import GlobalRotScaleTrans, rotate_points_z
from .load_annotations import LoadAnnotations3D
from .load_image import LoadImageFromFileRGB
from .load_multi_sweeps import LoadPointsFromMultiSweeps
from .load_points import LoadPointsFromFile
from .object_name_filter import ObjectNameFilter
from .object_range_filter import ObjectRangeFilter
from .object_sample import ObjectSample
from .pack import Pack3DDetInputs
from .point_shuffle import PointShuffle
from .points_in_image_filter import PointsInImageFilter
from .points_range_filter import PointsRangeFilter
from .random_flip_3d import RandomFlip3D

__all__ = [
    "GlobalRotScaleTrans", "LoadAnnotations3D", "LoadImageFromFileRGB", "LoadPointsFromFile",
    "LoadPointsFromMultiSweeps", "ObjectNameFilter",
    "ObjectRangeFilter", "ObjectSample", "Pack3DDetInputs", "PointShuffle", "PointsInImageFilter",
    "PointsRangeFilter", "RandomFlip3D", "rotate_points_z",
]
