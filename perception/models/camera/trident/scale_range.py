"""Scale ranges of TridentNet branches: which ground truth (and which detections) a branch is responsible for.

The *scale* of an image box is ``sqrt(w * h)`` in **input pixels**, i.e. after the pipeline's resize (the
coordinates the model sees; ``gt_instances.bboxes`` and the detections before rescaling to the original
image).  Branch ``i`` is valid for boxes with ``low_i <= scale <= high_i`` (both ends inclusive, as in the
paper); ``high = None`` means unbounded.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Optional, Sequence, Union

import torch
from mmdet.structures.bbox import get_box_tensor
from torch import Tensor

__all__ = ["ScaleRange", "box_scale", "parse_scale_ranges"]

RangeLike = Union["ScaleRange", Sequence[Optional[float]]]


def box_scale(boxes) -> Tensor:
    """``(N,)`` scale ``sqrt(w * h)`` of ``(N, 4)`` ``[x1, y1, x2, y2]`` boxes (tensor or mmdet box type).

    Degenerate boxes (``x2 < x1`` or ``y2 < y1``) have scale 0.
    """
    t = get_box_tensor(boxes)
    if t.dim() != 2 or t.shape[-1] != 4:
        raise ValueError(f"box_scale expects (N, 4) [x1, y1, x2, y2] boxes, got shape {tuple(t.shape)}")
    w = (t[:, 2] - t[:, 0]).clamp_min(0)
    h = (t[:, 3] - t[:, 1]).clamp_min(0)
    return torch.sqrt(w * h)


@dataclasses.dataclass(frozen=True)
class ScaleRange:
    """A closed interval ``[low, high]`` of box scales ``sqrt(w * h)`` in input pixels (``high=None``: no bound)."""

    low: float = 0.0
    high: Optional[float] = None

    def __post_init__(self):
        if not math.isfinite(self.low) or self.low < 0:
            raise ValueError(f"ScaleRange.low must be a finite number >= 0, got {self.low}")
        if self.high is not None and not (self.high >= self.low):
            raise ValueError(f"ScaleRange.high must be None (unbounded) or >= low={self.low}, got {self.high}")

    @property
    def unbounded(self) -> bool:
        """True when the range accepts every box (``[0, None]``)."""
        return self.low == 0 and self.high is None

    def contains(self, boxes) -> Tensor:
        """``(N,)`` bool: which of the ``(N, 4)`` boxes have a scale inside the range."""
        s = box_scale(boxes)
        keep = s >= self.low
        if self.high is not None:
            keep &= s <= self.high
        return keep

    def __str__(self) -> str:
        return f"[{self.low:g}, {'inf' if self.high is None else f'{self.high:g}'}]"


def parse_scale_ranges(ranges: Sequence[RangeLike], num_branch: int) -> tuple[ScaleRange, ...]:
    """Config form ``((0, 40), (13, 70), (40, None))`` -> one :class:`ScaleRange` per branch.

    Raises ``ValueError`` naming the entry when it is not a ``(low, high)`` pair or when the number of
    ranges differs from ``num_branch``.
    """
    out = []
    for i, r in enumerate(ranges):
        if isinstance(r, ScaleRange):
            out.append(r)
            continue
        if isinstance(r, (str, bytes)) or len(r) != 2:
            raise ValueError(f"branch_ranges[{i}] must be a (low, high) pair with high=None for no upper bound, "
                             f"got {r!r}")
        low, high = r
        out.append(ScaleRange(low=float(low), high=None if high is None else float(high)))
    if len(out) != num_branch:
        raise ValueError(f"branch_ranges has {len(out)} entries but the backbone has {num_branch} branch(es)")
    return tuple(out)
