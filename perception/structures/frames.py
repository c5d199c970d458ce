"""Coordinate frames and box conventions, stated once for the whole project.

Every 3D quantity in ``perception`` carries the frame it is expressed in
(:class:`CoordFrame`); conversions go through
:class:`perception.structures.KittiCalibration`.

LiDAR frame (``CoordFrame.LIDAR``), the KITTI Velodyne frame
    x forward, y left, z up (right-handed), metres, origin at the sensor.

Camera frame (``CoordFrame.CAMERA``), the KITTI *rectified* reference camera
    x right, y down, z forward (right-handed), metres, origin at camera 0 after
    ``R0_rect``.  Images of camera 2 are reached with ``P2``.

3D boxes, in either frame: a ``(N, 7)`` tensor ``[x, y, z, l, w, h, yaw]``

    * ``x, y, z``  the *geometric centre* of the box (not the bottom centre),
    * ``l``        length, extent along the heading direction,
    * ``w``        width, extent across the heading, horizontal,
    * ``h``        height, extent along the frame's vertical axis,
    * ``yaw``      heading angle in radians, wrapped to ``[-pi, pi)``:

      - LiDAR: counter-clockwise about +z, 0 along +x (forward); the heading
        vector is ``(cos yaw, sin yaw, 0)``.
      - camera: KITTI ``rotation_y``, about +y (down), 0 along +x (right); the
        heading vector is ``(cos yaw, 0, -sin yaw)``.

    The vertical axis is z (up) in LiDAR and y (down) in camera, so the
    "bird's-eye view" (BEV) plane is x-y in LiDAR and x-z in camera.

KITTI label files store camera boxes by their *bottom* centre and dims in the
order ``h, w, l``; :mod:`perception.datasets.kitti_io` converts to and from
the geometric centre used everywhere else.  For an (almost) axis-aligned
calibration ``yaw_lidar = -rotation_y - pi/2``; the exact conversion turns the
heading vector through the calibration rotation.

2D boxes: ``(N, 4)`` ``[x1, y1, x2, y2]`` in image pixels, x right, y down,
continuous coordinates (pixel ``i`` covers ``[i, i + 1)``).
"""
from __future__ import annotations

import enum
import math

import torch

__all__ = ["CoordFrame", "wrap_angle"]


class CoordFrame(str, enum.Enum):
    """The frame a 3D quantity is expressed in (see the module docstring)."""

    LIDAR = "lidar"
    CAMERA = "camera"

    @property
    def vertical_axis(self) -> int:
        """Index of the vertical axis: 2 (z up) for LiDAR, 1 (y down) for camera."""
        return 2 if self is CoordFrame.LIDAR else 1

    @property
    def bev_axes(self) -> tuple[int, int]:
        """Indices of the two horizontal axes spanning the bird's-eye view."""
        return (0, 1) if self is CoordFrame.LIDAR else (0, 2)


def wrap_angle(angle: torch.Tensor | float) -> torch.Tensor | float:
    """Wrap angles to ``[-pi, pi)``."""
    if isinstance(angle, torch.Tensor):
        return torch.remainder(angle + math.pi, 2 * math.pi) - math.pi
    return (angle + math.pi) % (2 * math.pi) - math.pi
