"""``PanopticResult``: a predicted panoptic segmentation (segment-id map + one record per segment)."""
from __future__ import annotations

import dataclasses

import numpy as np

__all__ = ["PanopticSegment", "PanopticResult"]


@dataclasses.dataclass(frozen=True)
class PanopticSegment:
    """One predicted segment.

    Attributes:
        id: segment id in :attr:`PanopticResult.ids` (``>= 1``; 0 is void).
        category_id: COCO category id.
        isthing: the category is a thing.
        area: pixels in the id map.
        score: confidence (centre heatmap x mean class probability for things, mean class probability for stuff).
    """

    id: int
    category_id: int
    isthing: bool
    area: int
    score: float


@dataclasses.dataclass
class PanopticResult:
    """A panoptic prediction of one image.

    Attributes:
        ids: ``(H, W)`` int64 segment ids (0 = void), original image pixels.
        segments: one :class:`PanopticSegment` per id present in ``ids`` (other than 0).
    """

    ids: np.ndarray
    segments: list[PanopticSegment]

    def __post_init__(self):
        self.ids = np.asarray(self.ids, dtype=np.int64)
        if self.ids.ndim != 2:
            raise ValueError(f"PanopticResult.ids must be (H, W), got {self.ids.shape}")

    def segments_info(self) -> list[dict]:
        """COCO panoptic ``segments_info`` (``id``, ``category_id``, ``iscrowd`` 0, ``area``, ``isthing``,
        ``score``)."""
        return [{"id": s.id, "category_id": s.category_id, "iscrowd": 0, "area": s.area, "isthing": s.isthing,
                 "score": s.score} for s in self.segments]

    def semantic(self) -> np.ndarray:
        """``(H, W)`` int64 category id per pixel (0 = void)."""
        lut = {0: 0, **{s.id: s.category_id for s in self.segments}}
        keys = np.array(sorted(lut), dtype=np.int64)
        vals = np.array([lut[k] for k in keys], dtype=np.int64)
        return vals[np.searchsorted(keys, self.ids)]
