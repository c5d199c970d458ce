"""Data: KITTI-format readers, the KITTI dataset and transforms, the driving simulator.

Importing this package registers :class:`KittiDataset` and the transforms in
:mod:`perception.registry`.  ``perception.datasets.kitti_io`` and
``perception.datasets.sim`` can be imported on their own.
"""
from . import transforms  # noqa: F401  (registers the transforms)
from .kitti_dataset import KittiDataset

__all__ = ["KittiDataset"]
