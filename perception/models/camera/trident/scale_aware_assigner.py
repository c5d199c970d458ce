"""``ScaleAwareAssigner``: TridentNet's scale-aware training for any mmdet assigner (RPN anchors and RoI proposals).

Branch ``b`` of a TridentNet learns only the ground truth whose scale lies in its valid range (see
:mod:`.scale_range`).  The detector gives every branch its own copy of each image's ``gt_instances`` with a
bool field ``scale_valid`` ``(G,)``; this wrapper runs the inner assigner on *all* ground truth (so an
anchor/proposal covering an out-of-range object is never mistaken for background) and then turns every
prior assigned to an out-of-range object into an **ignored** prior (``gt_inds = -1``, ``labels = -1``):
neither positive nor negative, no loss -- the paper's choice.  ``out_of_range='negative'`` makes them
background instead (for ablations).

The sampler's ``add_gt_as_proposals`` (R-CNN) appends the ground-truth boxes as extra proposals through
``AssignResult.add_gt_``; :class:`ScaleAwareAssignResult` marks the appended copies of out-of-range objects
the same way, so they are never sampled as positives either.
"""
from __future__ import annotations

from typing import Optional

import torch
from mmdet.models.task_modules.assigners import AssignResult, BaseAssigner
from mmengine.structures import InstanceData
from torch import Tensor

from perception.registry import TASK_UTILS

__all__ = ["ScaleAwareAssigner", "ScaleAwareAssignResult", "OUT_OF_RANGE_POLICIES"]

#: What becomes of a prior whose assigned ground truth is outside the branch's range.
OUT_OF_RANGE_POLICIES = ("ignore", "negative")


class ScaleAwareAssignResult(AssignResult):
    """An ``AssignResult`` whose positives all belong to in-range ground truth.

    Attributes (besides ``AssignResult``'s ``num_gts``, ``gt_inds``, ``max_overlaps``, ``labels``):
        gt_valid: ``(num_gts,)`` bool, ground truth inside the branch's range.
        out_of_range: policy for priors assigned to other ground truth (:data:`OUT_OF_RANGE_POLICIES`).
    """

    def __init__(self, num_gts: int, gt_inds: Tensor, max_overlaps: Tensor, labels: Tensor, *,
                 gt_valid: Tensor, out_of_range: str = "ignore"):
        super().__init__(num_gts, gt_inds, max_overlaps, labels)
        if out_of_range not in OUT_OF_RANGE_POLICIES:
            raise ValueError(f"out_of_range must be one of {OUT_OF_RANGE_POLICIES}, got {out_of_range!r}")
        if gt_valid.shape != (num_gts,):
            raise ValueError(f"gt_valid must be ({num_gts},) bool, got {tuple(gt_valid.shape)}")
        self.gt_valid = gt_valid.to(device=gt_inds.device, dtype=torch.bool)
        self.out_of_range = out_of_range
        self._drop_out_of_range(torch.ones_like(self.gt_inds, dtype=torch.bool))

    def _drop_out_of_range(self, rows: Tensor) -> None:
        """Re-label the priors in ``rows`` (bool mask) that are assigned to out-of-range ground truth."""
        pos = rows & (self.gt_inds > 0)
        bad = torch.zeros_like(pos)
        bad[pos] = ~self.gt_valid[self.gt_inds[pos] - 1]
        self.gt_inds[bad] = -1 if self.out_of_range == "ignore" else 0
        if self.labels is not None:
            self.labels[bad] = -1

    def add_gt_(self, gt_labels: Tensor) -> None:
        """``AssignResult.add_gt_``, then the appended copies of out-of-range ground truth are re-labelled."""
        super().add_gt_(gt_labels)
        rows = torch.zeros_like(self.gt_inds, dtype=torch.bool)
        rows[:len(gt_labels)] = True
        self._drop_out_of_range(rows)


@TASK_UTILS.register_module()
class ScaleAwareAssigner(BaseAssigner):
    """Wraps an assigner (e.g. ``MaxIoUAssigner``) for scale-aware training; see the module docstring.

    Args:
        assigner: config of the inner assigner.
        out_of_range: ``'ignore'`` (default, the paper) or ``'negative'``.
        valid_key: the bool field of ``gt_instances`` marking in-range ground truth (set by the detector).
    """

    def __init__(self, assigner: dict, out_of_range: str = "ignore", valid_key: str = "scale_valid"):
        if out_of_range not in OUT_OF_RANGE_POLICIES:
            raise ValueError(f"out_of_range must be one of {OUT_OF_RANGE_POLICIES}, got {out_of_range!r}")
        self.assigner = TASK_UTILS.build(assigner)
        self.out_of_range = out_of_range
        self.valid_key = valid_key

    def assign(self, pred_instances: InstanceData, gt_instances: InstanceData,
               gt_instances_ignore: Optional[InstanceData] = None, **kwargs) -> ScaleAwareAssignResult:
        if self.valid_key not in gt_instances:
            raise KeyError(f"ScaleAwareAssigner: gt_instances has no {self.valid_key!r} field; it is set per branch "
                           f"by TridentRCNN (use this assigner inside that detector)")
        result = self.assigner.assign(pred_instances, gt_instances, gt_instances_ignore, **kwargs)
        out = ScaleAwareAssignResult(result.num_gts, result.gt_inds, result.max_overlaps, result.labels,
                                     gt_valid=gt_instances[self.valid_key], out_of_range=self.out_of_range)
        out._extra_properties = dict(result._extra_properties)
        return out
