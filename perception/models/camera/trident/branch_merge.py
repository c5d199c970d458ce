"""Merging the detections of TridentNet's branches into one set per image (test time)."""
from __future__ import annotations

from typing import Optional, Sequence

import torch
from mmcv.ops import batched_nms
from mmdet.structures.bbox import get_box_tensor
from mmengine.structures import InstanceData

from .scale_range import ScaleRange

__all__ = ["merge_branch_detections"]


def merge_branch_detections(branch_results: Sequence[InstanceData], nms_cfg: dict, max_per_img: int,
                            ranges: Optional[Sequence[ScaleRange]] = None) -> InstanceData:
    """One image's detections from several branches -> one set.

    Args:
        branch_results: per branch, ``InstanceData`` with ``bboxes (N_b, 4)`` ``[x1, y1, x2, y2]`` in input
            pixels, ``scores (N_b,)``, ``labels (N_b,)``.
        nms_cfg: mmcv NMS config, e.g. ``dict(type='nms', iou_threshold=0.5)``: applied per class over the
            union of the branches, so a box found by two branches is kept once (the higher score), while
            different boxes, and overlapping boxes of different classes, stay.
        max_per_img: keep at most this many (highest scores); ``<= 0`` keeps all.
        ranges: if given (full TridentNet inference), a branch's boxes whose scale lies outside its
            valid range are dropped before the merge (the paper); ``None`` keeps everything.

    Returns:
        ``InstanceData`` with ``bboxes (M, 4)``, ``scores (M,)``, ``labels (M,)`` sorted by descending score.
    """
    if ranges is not None and len(ranges) != len(branch_results):
        raise ValueError(f"{len(ranges)} ranges for {len(branch_results)} branches")
    boxes, scores, labels = [], [], []
    for b, res in enumerate(branch_results):
        t = get_box_tensor(res.bboxes)
        keep = ranges[b].contains(t) if ranges is not None else torch.ones(len(t), dtype=torch.bool, device=t.device)
        boxes.append(t[keep])
        scores.append(res.scores[keep])
        labels.append(res.labels[keep])
    boxes, scores, labels = torch.cat(boxes), torch.cat(scores), torch.cat(labels)
    if len(boxes) and (len(branch_results) > 1 or ranges is not None):
        dets, keep = batched_nms(boxes, scores, labels, dict(nms_cfg))
        boxes, scores, labels = dets[:, :4], dets[:, 4], labels[keep]
    else:  # a single branch's results were already NMSed by the RoI head: only sort
        order = scores.argsort(descending=True)
        boxes, scores, labels = boxes[order], scores[order], labels[order]
    if max_per_img > 0:
        boxes, scores, labels = boxes[:max_per_img], scores[:max_per_img], labels[:max_per_img]
    return InstanceData(bboxes=boxes, scores=scores, labels=labels)
