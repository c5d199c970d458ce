"""Oriented 3D boxes with an explicit coordinate frame.

See :mod:`perception.structures.frames` for the axes, the box layout
``[x, y, z, l, w, h, yaw]`` (geometric centre) and the yaw origin.
"""
from __future__ import annotations

from typing import Iterable, Sequence, Union

import numpy as np
import torch

from .frames import CoordFrame, wrap_angle

__all__ = ["Boxes3D"]

# Corner order, in units of half-extents along (forward, left, up):
# bottom face front-left, front-right, rear-right, rear-left, then the top face
# in the same order.  ``corners()[:, :4]`` is the bottom face.
_CORNER_SIGNS = torch.tensor(
    [[1, 1, -1], [1, -1, -1], [-1, -1, -1], [-1, 1, -1],
     [1, 1, 1], [1, -1, 1], [-1, -1, 1], [-1, 1, 1]], dtype=torch.float64)

IndexLike = Union[int, slice, torch.Tensor, Sequence[int], np.ndarray]


class Boxes3D:
    """A set of ``N`` oriented 3D boxes in one coordinate frame.

    Attributes:
        tensor: ``(N, 7)`` float ``[x, y, z, l, w, h, yaw]``; centre is the
            geometric centre, yaw follows the frame's convention.
        frame: the :class:`CoordFrame` the numbers are expressed in.
    """

    def __init__(self, tensor: torch.Tensor | np.ndarray | Sequence, *, frame: CoordFrame):
        tensor = torch.as_tensor(tensor)
        if not tensor.is_floating_point():
            tensor = tensor.float()
        if tensor.numel() == 0:
            tensor = tensor.reshape(0, 7)
        if tensor.dim() != 2 or tensor.shape[1] != 7:
            raise ValueError(
                f"Boxes3D expects a (N, 7) tensor [x, y, z, l, w, h, yaw], got shape {tuple(tensor.shape)}")
        self.tensor = tensor
        self.frame = CoordFrame(frame)

    # ------------------------------------------------------------------ basics
    def __len__(self) -> int:
        return self.tensor.shape[0]

    def __repr__(self) -> str:
        return f"Boxes3D(n={len(self)}, frame={self.frame.value}, dtype={self.tensor.dtype})"

    def __getitem__(self, index: IndexLike) -> "Boxes3D":
        if isinstance(index, int):
            return Boxes3D(self.tensor[index].view(1, 7), frame=self.frame)
        if isinstance(index, np.ndarray):
            index = torch.from_numpy(index)
        return Boxes3D(self.tensor[index], frame=self.frame)

    @classmethod
    def cat(cls, boxes: Iterable["Boxes3D"]) -> "Boxes3D":
        boxes = list(boxes)
        if not boxes:
            raise ValueError("Boxes3D.cat needs at least one Boxes3D")
        frames = {b.frame for b in boxes}
        if len(frames) != 1:
            raise ValueError(f"cannot concatenate boxes of different frames: {sorted(f.value for f in frames)}")
        return cls(torch.cat([b.tensor for b in boxes], dim=0), frame=boxes[0].frame)

    @classmethod
    def empty(cls, *, frame: CoordFrame, dtype: torch.dtype = torch.float32) -> "Boxes3D":
        return cls(torch.zeros(0, 7, dtype=dtype), frame=frame)

    def clone(self) -> "Boxes3D":
        return Boxes3D(self.tensor.clone(), frame=self.frame)

    def to(self, *args, **kwargs) -> "Boxes3D":
        return Boxes3D(self.tensor.to(*args, **kwargs), frame=self.frame)

    def numpy(self) -> np.ndarray:
        return self.tensor.detach().cpu().numpy()

    @property
    def device(self) -> torch.device:
        return self.tensor.device

    # -------------------------------------------------------------- components
    @property
    def center(self) -> torch.Tensor:
        """``(N, 3)`` geometric centres."""
        return self.tensor[:, 0:3]

    @property
    def dims(self) -> torch.Tensor:
        """``(N, 3)`` ``[l, w, h]``."""
        return self.tensor[:, 3:6]

    @property
    def yaw(self) -> torch.Tensor:
        """``(N,)`` heading angles (frame convention, see module docstring)."""
        return self.tensor[:, 6]

    @property
    def volume(self) -> torch.Tensor:
        return self.dims.prod(dim=1)

    @property
    def bottom_center(self) -> torch.Tensor:
        """``(N, 3)`` centre of the bottom face (KITTI's label origin in camera frame)."""
        out = self.center.clone()
        h = self.dims[:, 2]
        if self.frame is CoordFrame.LIDAR:
            out[:, 2] -= h / 2
        else:  # camera: y points down, so the bottom is at larger y
            out[:, 1] += h / 2
        return out

    def local_axes(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Unit ``forward``, ``left`` and ``up`` vectors of each box, each ``(N, 3)``."""
        c, s = torch.cos(self.yaw), torch.sin(self.yaw)
        z = torch.zeros_like(c)
        o = torch.ones_like(c)
        if self.frame is CoordFrame.LIDAR:
            forward = torch.stack([c, s, z], dim=1)
            left = torch.stack([-s, c, z], dim=1)
            up = torch.stack([z, z, o], dim=1)
        else:
            forward = torch.stack([c, z, -s], dim=1)
            left = torch.stack([s, z, c], dim=1)
            up = torch.stack([z, -o, z], dim=1)
        return forward, left, up

    def corners(self) -> torch.Tensor:
        """``(N, 8, 3)`` corners; order documented at ``_CORNER_SIGNS``."""
        forward, left, up = self.local_axes()
        half = self.dims / 2
        signs = _CORNER_SIGNS.to(self.tensor)
        axes = torch.stack([forward * half[:, 0:1], left * half[:, 1:2], up * half[:, 2:3]], dim=1)  # (N,3,3)
        return self.center[:, None, :] + signs[None] @ axes

    def bev_corners(self) -> torch.Tensor:
        """``(N, 4, 2)`` BEV footprint corners in the frame's BEV axes (the bottom
        face of :meth:`corners`: front-left, front-right, rear-right, rear-left)."""
        a0, a1 = self.frame.bev_axes
        return self.corners()[:, :4][:, :, [a0, a1]]

    # ------------------------------------------------------------ conversions
    def convert_to(self, frame: CoordFrame, calib: "KittiCalibration") -> "Boxes3D":  # noqa: F821
        """Express the same physical boxes in ``frame`` using ``calib``.

        Centres go through the rigid transform; the heading is the transformed
        forward vector's horizontal direction.  Dims are unchanged.
        """
        frame = CoordFrame(frame)
        if frame is self.frame:
            return self.clone()
        forward, _, _ = self.local_axes()
        if frame is CoordFrame.CAMERA:
            center = calib.lidar_to_camera(self.center)
            fwd = calib.lidar_to_camera(self.center + forward) - center
            yaw = torch.atan2(-fwd[:, 2], fwd[:, 0])
        else:
            center = calib.camera_to_lidar(self.center)
            fwd = calib.camera_to_lidar(self.center + forward) - center
            yaw = torch.atan2(fwd[:, 1], fwd[:, 0])
        tensor = torch.cat([center, self.dims, wrap_angle(yaw)[:, None]], dim=1).to(self.tensor.dtype)
        return Boxes3D(tensor, frame=frame)

    # ---------------------------------------------------------- augmentations
    def rotate_vertical(self, angle: float) -> "Boxes3D":
        """Rotate boxes about the frame's vertical axis through the origin.

        ``angle`` is counter-clockwise seen from above in LiDAR (about +z) and
        about +y (down) in camera, matching each frame's yaw sign.
        """
        t = self.tensor.clone()
        c, s = float(np.cos(angle)), float(np.sin(angle))
        if self.frame is CoordFrame.LIDAR:
            x, y = t[:, 0].clone(), t[:, 1].clone()
            t[:, 0], t[:, 1] = c * x - s * y, s * x + c * y
        else:  # rotation about +y: x' = c x + s z, z' = -s x + c z
            x, z = t[:, 0].clone(), t[:, 2].clone()
            t[:, 0], t[:, 2] = c * x + s * z, -s * x + c * z
        t[:, 6] = wrap_angle(t[:, 6] + angle)
        return Boxes3D(t, frame=self.frame)

    def flip_bev(self, axis: str) -> "Boxes3D":
        """Mirror LiDAR boxes: ``axis='y'`` negates y (left-right flip),
        ``axis='x'`` negates x (front-back flip)."""
        if self.frame is not CoordFrame.LIDAR:
            raise NotImplementedError("flip_bev is defined for LiDAR-frame boxes")
        t = self.tensor.clone()
        if axis == "y":
            t[:, 1] = -t[:, 1]
            t[:, 6] = wrap_angle(-t[:, 6])
        elif axis == "x":
            t[:, 0] = -t[:, 0]
            t[:, 6] = wrap_angle(np.pi - t[:, 6])
        else:
            raise ValueError(f"flip_bev axis must be 'x' or 'y', got {axis!r}")
        return Boxes3D(t, frame=self.frame)

    def scale(self, factor: float) -> "Boxes3D":
        t = self.tensor.clone()
        t[:, :6] *= factor
        return Boxes3D(t, frame=self.frame)

    def translate(self, offset: torch.Tensor | Sequence[float]) -> "Boxes3D":
        t = self.tensor.clone()
        t[:, :3] += torch.as_tensor(offset, dtype=t.dtype, device=t.device)
        return Boxes3D(t, frame=self.frame)

    # ------------------------------------------------------------- geometry
    def points_inside(self, points: torch.Tensor) -> torch.Tensor:
        """``(P, N)`` bool: point ``p`` lies inside box ``n`` (boundary included).

        ``points`` is ``(P, >=3)`` in this frame.  Uses the compiled
        ``points_in_boxes`` op when built, its PyTorch reference otherwise.
        """
        from perception.ops import points_in_boxes  # local: ops import structures lazily

        if self.frame is not CoordFrame.LIDAR:
            raise NotImplementedError("points_inside expects LiDAR-frame boxes; convert first")
        return points_in_boxes(points[:, :3].to(self.tensor.dtype), self.tensor)
