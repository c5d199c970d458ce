"""``Detections2D``: one image's 2D detections (boxes, scores, class names)."""
from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np
import torch

from .boxes2d import Boxes2D
from .frame import selection_index

__all__ = ["Detections2D"]


@dataclasses.dataclass(frozen=True)
class Detections2D:
    """Detections of one camera image.

    Attributes:
        boxes: ``N`` boxes ``[x1, y1, x2, y2]`` in pixels of the original image (x right, y down).
        scores: ``(N,)`` float confidence in ``[0, 1]``.
        names: ``N`` class names.
    """

    boxes: Boxes2D
    scores: torch.Tensor
    names: list[str]

    def __post_init__(self):
        n = len(self.boxes)
        if self.scores.dim() != 1 or len(self.scores) != n:
            raise ValueError(f"Detections2D.scores must be ({n},), got shape {tuple(self.scores.shape)}")
        if len(self.names) != n:
            raise ValueError(f"Detections2D.names has {len(self.names)} entries, boxes has {n}")

    def __len__(self) -> int:
        return len(self.names)

    def select(self, keep: torch.Tensor | np.ndarray | Sequence[bool]) -> "Detections2D":
        """The subset selected by a boolean mask or an index list."""
        idx = selection_index(keep)
        return Detections2D(boxes=self.boxes[idx], scores=self.scores[idx], names=[self.names[i] for i in idx.tolist()])

    @classmethod
    def empty(cls) -> "Detections2D":
        return cls(boxes=Boxes2D(torch.zeros(0, 4)), scores=torch.zeros(0), names=[])
