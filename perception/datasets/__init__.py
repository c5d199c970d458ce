"""Data: KITTI-format and nuScenes readers and datasets, transforms, the driving simulator.

Importing this package registers :class:`KittiDataset`, :class:`NuScenesDataset` and the transforms in
:mod:`perception.registry`.  ``perception.datasets.kitti_io`` and ``perception.datasets.sim`` can be
imported on their own.
"""
from . import transforms  # noqa: F401  (registers the transforms)
from .fusion_pairs import FusionPairsDataset
from .kitti_dataset import KittiDataset
from .nuscenes_dataset import NuScenesDataset

__all__ = ["FusionPairsDataset", "KittiDataset", "NuScenesDataset"]
