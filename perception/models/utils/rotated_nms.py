"""Class-aware rotated NMS on BEV footprints of LiDAR boxes."""
from __future__ import annotations

import torch
from mmcv.ops import nms_rotated

from perception.structures import Boxes3D, CoordFrame, box_iou_bev

__all__ = ["rotated_nms_bev", "rotated_nms_bev_reference"]


def rotated_nms_bev(boxes: Boxes3D, scores: torch.Tensor, labels: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """Greedy NMS per class on rotated BEV boxes (mmcv's compiled ``nms_rotated``).

    Args:
        boxes: ``N`` LiDAR-frame boxes.
        scores: ``(N,)``; labels: ``(N,)`` int (boxes of different labels never suppress each other).
    Returns:
        ``(K,)`` int64 indices of the kept boxes, highest score first.
    """
    if boxes.frame is not CoordFrame.LIDAR:
        raise ValueError("rotated_nms_bev expects LiDAR-frame boxes")
    if len(boxes) == 0:
        return torch.zeros(0, dtype=torch.long, device=scores.device)
    t = boxes.tensor.float()
    # (x, y, l, w, yaw): the footprint.  mmcv rotates corners with the standard matrix
    # [[c, -s], [s, c]] when clockwise=True (its image-frame wording), which in the
    # y-left LiDAR BEV is our counter-clockwise yaw; tests check it against box_iou_bev.
    # Classes are separated by shifting each class's boxes far apart (mmcv 2.1's
    # ``labels=`` path of nms_rotated suppresses isolated boxes on CPU).
    span = float((t[:, :2].abs().max() + t[:, 3:5].max()) * 4 + 1)
    offset = labels.to(t) * span
    dets = torch.stack([t[:, 0] + offset, t[:, 1], t[:, 3], t[:, 4], t[:, 6]], dim=1)
    _, keep = nms_rotated(dets, scores.float().contiguous(), iou_threshold, clockwise=True)
    return keep.long()


def rotated_nms_bev_reference(boxes: Boxes3D, scores: torch.Tensor, labels: torch.Tensor,
                              iou_threshold: float) -> torch.Tensor:
    """Plain greedy loop over :func:`box_iou_bev` (the exact IoU); for tests."""
    order = scores.argsort(descending=True)
    iou = box_iou_bev(boxes, boxes)
    suppressed = torch.zeros(len(boxes), dtype=torch.bool)
    keep = []
    for i in order.tolist():
        if suppressed[i]:
            continue
        keep.append(i)
        suppressed |= (iou[i] > iou_threshold) & (labels == labels[i])
    return torch.tensor(keep, dtype=torch.long)
