"""One sensor frame: LiDAR points, camera image, calibration and annotations."""
from __future__ import annotations

import dataclasses
from typing import Optional, Sequence

import numpy as np
import torch

from perception.utils.images import check_rgb_image

from .boxes2d import Boxes2D
from .boxes3d import Boxes3D
from .calibration import KittiCalibration
from .frames import CoordFrame

__all__ = ["ObjectAnnotations", "Frame", "selection_index"]


def selection_index(keep: torch.Tensor | np.ndarray | Sequence[bool] | Sequence[int]) -> torch.Tensor:
    """``(K,)`` int64 row indices from a boolean mask or an index list (the ``select`` of every container)."""
    keep = torch.as_tensor(keep)
    return keep.nonzero(as_tuple=True)[0] if keep.dtype == torch.bool else keep.long()


@dataclasses.dataclass
class ObjectAnnotations:
    """Annotated objects of one frame (KITTI label semantics).

    Attributes:
        names: ``N`` class names as written in the label file (``Car``, ``Pedestrian``, ...).
        boxes3d: ``N`` boxes in the LiDAR frame.
        boxes2d: ``(N, 4)`` image boxes in camera-2 pixels.
        truncated: ``(N,)`` float in ``[0, 1]``, fraction leaving the image.
        occluded: ``(N,)`` int: 0 fully visible, 1 partly, 2 largely occluded, 3 unknown.
        alpha: ``(N,)`` observation angle in ``[-pi, pi)``.
        dontcare: image regions labelled ``DontCare`` (no objects expected or penalised).
        scores: ``(N,)`` confidence, only for detections (``None`` for ground truth).
    """

    names: list[str]
    boxes3d: Boxes3D
    boxes2d: Boxes2D
    truncated: torch.Tensor
    occluded: torch.Tensor
    alpha: torch.Tensor
    dontcare: Boxes2D = dataclasses.field(default_factory=lambda: Boxes2D(torch.zeros(0, 4)))
    scores: Optional[torch.Tensor] = None

    def __post_init__(self):
        n = len(self.names)
        if self.boxes3d.frame is not CoordFrame.LIDAR:
            raise ValueError("ObjectAnnotations.boxes3d must be in the LiDAR frame")
        for field in ("boxes3d", "boxes2d", "truncated", "occluded", "alpha"):
            if len(getattr(self, field)) != n:
                raise ValueError(f"ObjectAnnotations.{field} has {len(getattr(self, field))} entries, names has {n}")
        if self.scores is not None and len(self.scores) != n:
            raise ValueError(f"ObjectAnnotations.scores has {len(self.scores)} entries, names has {n}")

    def __len__(self) -> int:
        return len(self.names)

    def select(self, keep: torch.Tensor | np.ndarray | Sequence[bool]) -> "ObjectAnnotations":
        """The subset selected by a boolean mask or index list."""
        idx = selection_index(keep)
        return ObjectAnnotations(
            names=[self.names[i] for i in idx.tolist()], boxes3d=self.boxes3d[idx], boxes2d=self.boxes2d[idx],
            truncated=self.truncated[idx], occluded=self.occluded[idx], alpha=self.alpha[idx],
            dontcare=self.dontcare, scores=None if self.scores is None else self.scores[idx])

    @classmethod
    def empty(cls) -> "ObjectAnnotations":
        return cls(names=[], boxes3d=Boxes3D.empty(frame=CoordFrame.LIDAR), boxes2d=Boxes2D(torch.zeros(0, 4)),
                   truncated=torch.zeros(0), occluded=torch.zeros(0, dtype=torch.long), alpha=torch.zeros(0))


@dataclasses.dataclass
class Frame:
    """Everything the stack knows about one moment.

    Attributes:
        frame_id: sample name, e.g. ``"000042"``.
        points: ``(P, 4)`` float32 ``[x, y, z, intensity]`` in the LiDAR frame.
        image: ``(H, W, 3)`` uint8 RGB image of camera 2, or ``None``.
        calib: the frame's calibration.
        annotations: ground truth, or ``None`` for unlabelled frames.
    """

    frame_id: str
    points: torch.Tensor
    calib: KittiCalibration
    image: Optional[np.ndarray] = None
    annotations: Optional[ObjectAnnotations] = None

    def __post_init__(self):
        if self.points.dim() != 2 or self.points.shape[1] < 3:
            raise ValueError(f"Frame {self.frame_id}: points must be (P, >=3), got {tuple(self.points.shape)}")
        if self.image is not None:
            check_rgb_image(self.image, f"Frame {self.frame_id}: image")

    @property
    def image_size(self) -> Optional[tuple[int, int]]:
        """``(height, width)`` of the image, or ``None``."""
        return None if self.image is None else (self.image.shape[0], self.image.shape[1])
