"""``FusedDetections``: the stack's one output per frame (late fusion of LiDAR, camera and panoptic results).

Every object has a class, a fused score and the sensors that support it.  What a
sensor could not measure is ``NaN`` (never a made-up number):

* a camera-only object has no 3D box (``boxes3d`` row NaN); it keeps its 2D box and
  a viewing frustum: the 2D box swept between ``depth_range`` (camera z, metres);
* an object outside the image has no 2D box (``boxes2d`` row NaN);
* ``lidar_scores`` / ``camera_scores`` are the single-sensor scores, NaN where
  that sensor did not detect the object.
"""
from __future__ import annotations

import dataclasses
import enum
from typing import Optional, Sequence

import numpy as np
import torch

from .boxes2d import Boxes2D
from .boxes3d import Boxes3D
from .calibration import KittiCalibration
from .frame import selection_index
from .frames import CoordFrame
from .panoptic_result import PanopticResult

__all__ = ["Sensor", "FusedDetections"]


class Sensor(enum.IntFlag):
    """Bit flags of the sources supporting an object."""

    LIDAR = 1
    CAMERA = 2
    PANOPTIC = 4


@dataclasses.dataclass(frozen=True)
class FusedDetections:
    """Unified detections of one frame.

    Attributes:
        frame_id: sample name.
        names: ``N`` class names (KITTI types: ``Car``, ``Pedestrian``, ``Cyclist``).
        scores: ``(N,)`` fused confidence in ``[0, 1]``.
        boxes3d: ``N`` boxes in the LiDAR frame ``[x, y, z, l, w, h, yaw]``; NaN rows for camera-only objects.
        boxes2d: ``(N, 4)`` ``[x1, y1, x2, y2]`` camera-2 pixels, inside the image; NaN rows for objects outside it.
        sensors: ``(N,)`` int64 :class:`Sensor` flags.
        lidar_scores: ``(N,)`` the LiDAR detector's score, NaN where it did not detect the object.
        camera_scores: ``(N,)`` the 2D detector's score, NaN where it did not detect the object.
        panoptic_ids: ``(N,)`` int64 id of the matched segment in ``panoptic.ids``, 0 for none.
        depth_range: ``(N, 2)`` near/far camera depth (m) of a camera-only object's frustum, NaN otherwise.
        calib: the frame's calibration (camera-frame boxes, projections, frustums).
        image_size: ``(height, width)`` of camera 2.
        panoptic: the frame's panoptic segmentation, when a panoptic model ran.
    """

    frame_id: str
    names: list[str]
    scores: torch.Tensor
    boxes3d: Boxes3D
    boxes2d: Boxes2D
    sensors: torch.Tensor
    lidar_scores: torch.Tensor
    camera_scores: torch.Tensor
    panoptic_ids: torch.Tensor
    depth_range: torch.Tensor
    calib: KittiCalibration
    image_size: tuple[int, int]
    panoptic: Optional[PanopticResult] = None

    def __post_init__(self):
        n = len(self.names)
        if self.boxes3d.frame is not CoordFrame.LIDAR:
            raise ValueError(f"FusedDetections {self.frame_id}: boxes3d must be in the LiDAR frame")
        shapes = {"scores": (n,), "sensors": (n,), "lidar_scores": (n,), "camera_scores": (n,),
                  "panoptic_ids": (n,), "depth_range": (n, 2), "boxes3d": (n, 7), "boxes2d": (n, 4)}
        for field, shape in shapes.items():
            value = getattr(self, field)
            got = tuple((value.tensor if hasattr(value, "tensor") else value).shape)
            if got != shape:
                raise ValueError(f"FusedDetections {self.frame_id}: {field} must have shape {shape}, got {got}")
        if n and (self.sensors <= 0).any():
            raise ValueError(f"FusedDetections {self.frame_id}: every object needs at least one sensor flag")
        if (self.panoptic_ids > 0).any() and self.panoptic is None:
            raise ValueError(f"FusedDetections {self.frame_id}: panoptic_ids set but no panoptic result given")

    def __len__(self) -> int:
        return len(self.names)

    # ---------------------------------------------------------------- queries
    @property
    def has_box3d(self) -> torch.Tensor:
        """``(N,)`` bool: the object has a 3D box (LiDAR supports it)."""
        return ~torch.isnan(self.boxes3d.tensor).any(dim=1)

    @property
    def has_box2d(self) -> torch.Tensor:
        """``(N,)`` bool: the object has a 2D box (it is in the image)."""
        return ~torch.isnan(self.boxes2d.tensor).any(dim=1)

    def seen_by(self, sensor: Sensor) -> torch.Tensor:
        """``(N,)`` bool: ``sensor`` supports the object."""
        return (self.sensors & int(sensor)) != 0

    def sensor_names(self, i: int) -> list[str]:
        """Lower-case names of the sensors supporting object ``i`` (``["lidar", "camera"]``)."""
        return [s.name.lower() for s in Sensor if int(self.sensors[i]) & int(s)]

    def boxes3d_camera(self) -> Boxes3D:
        """The 3D boxes in the rectified camera frame (NaN rows stay NaN)."""
        return self.boxes3d.to(torch.float64).convert_to(CoordFrame.CAMERA, self.calib)

    def mask(self, i: int) -> Optional[np.ndarray]:
        """``(H, W)`` bool panoptic mask of object ``i``, ``None`` when it matched no segment."""
        sid = int(self.panoptic_ids[i])
        return None if sid == 0 else self.panoptic.ids == sid

    def frustum_corners(self, i: int) -> torch.Tensor:
        """``(8, 3)`` LiDAR-frame corners of camera-only object ``i``'s frustum: the 2D box's corners
        (x1y1, x2y1, x2y2, x1y2) at the near depth, then at the far depth."""
        if not torch.isfinite(self.depth_range[i]).all() or not bool(self.has_box2d[i]):
            raise ValueError(f"object {i} of frame {self.frame_id} has no frustum (it has a 3D box or no 2D box)")
        x1, y1, x2, y2 = self.boxes2d.tensor[i].to(torch.float64).tolist()
        uv = torch.tensor([[x1, y1], [x2, y1], [x2, y2], [x1, y2]], dtype=torch.float64).repeat(2, 1)
        depth = self.depth_range[i].to(torch.float64).repeat_interleave(4)
        return self.calib.image_to_lidar(uv, depth)

    # ----------------------------------------------------------- containers
    def select(self, keep: torch.Tensor | np.ndarray | Sequence[bool] | Sequence[int]) -> "FusedDetections":
        """The subset selected by a boolean mask or an index list."""
        idx = selection_index(keep)
        return dataclasses.replace(
            self, names=[self.names[i] for i in idx.tolist()], scores=self.scores[idx], boxes3d=self.boxes3d[idx],
            boxes2d=self.boxes2d[idx], sensors=self.sensors[idx], lidar_scores=self.lidar_scores[idx],
            camera_scores=self.camera_scores[idx], panoptic_ids=self.panoptic_ids[idx],
            depth_range=self.depth_range[idx])

    @classmethod
    def build(cls, *, frame_id: str, calib: KittiCalibration, image_size: Sequence[int], names: Sequence[str],
              scores: torch.Tensor, sensors: torch.Tensor, boxes3d: Optional[torch.Tensor] = None,
              boxes2d: Optional[torch.Tensor] = None, lidar_scores: Optional[torch.Tensor] = None,
              camera_scores: Optional[torch.Tensor] = None, panoptic_ids: Optional[torch.Tensor] = None,
              depth_range: Optional[torch.Tensor] = None,
              panoptic: Optional[PanopticResult] = None) -> "FusedDetections":
        """Construct with NaN (or 0 for ``panoptic_ids``) for every field not given."""
        n = len(names)

        def nan(*shape):
            return torch.full(shape, float("nan"))

        return cls(
            frame_id=frame_id, names=list(names), scores=torch.as_tensor(scores, dtype=torch.float32).reshape(n),
            boxes3d=Boxes3D(nan(n, 7) if boxes3d is None else torch.as_tensor(boxes3d, dtype=torch.float32),
                            frame=CoordFrame.LIDAR),
            boxes2d=Boxes2D(nan(n, 4) if boxes2d is None else torch.as_tensor(boxes2d, dtype=torch.float32)),
            sensors=torch.as_tensor(sensors, dtype=torch.int64).reshape(n),
            lidar_scores=nan(n) if lidar_scores is None else torch.as_tensor(lidar_scores, dtype=torch.float32),
            camera_scores=nan(n) if camera_scores is None else torch.as_tensor(camera_scores, dtype=torch.float32),
            panoptic_ids=torch.zeros(n, dtype=torch.int64) if panoptic_ids is None
            else torch.as_tensor(panoptic_ids, dtype=torch.int64),
            depth_range=nan(n, 2) if depth_range is None else torch.as_tensor(depth_range, dtype=torch.float32),
            calib=calib, image_size=(int(image_size[0]), int(image_size[1])), panoptic=panoptic)

    @classmethod
    def cat(cls, parts: Sequence["FusedDetections"]) -> "FusedDetections":
        """Objects of several results of the same frame, in order."""
        if not parts:
            raise ValueError("FusedDetections.cat needs at least one part")
        first = parts[0]
        return dataclasses.replace(
            first, names=[n for p in parts for n in p.names], scores=torch.cat([p.scores for p in parts]),
            boxes3d=Boxes3D.cat([p.boxes3d for p in parts]),
            boxes2d=Boxes2D(torch.cat([p.boxes2d.tensor for p in parts])),
            sensors=torch.cat([p.sensors for p in parts]), lidar_scores=torch.cat([p.lidar_scores for p in parts]),
            camera_scores=torch.cat([p.camera_scores for p in parts]),
            panoptic_ids=torch.cat([p.panoptic_ids for p in parts]),
            depth_range=torch.cat([p.depth_range for p in parts]))
