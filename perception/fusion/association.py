"""Association of 3D detections with 2D detections and panoptic segments, in the image of camera 2.

3D boxes are projected with the frame's calibration (the part in front of the
near plane, clipped to the image); each pair then has an affinity from 2D IoU and
the distance of the box centres, and one global assignment (Hungarian, via
``scipy.optimize.linear_sum_assignment``) picks the matches.  A global assignment
matters under occlusion: a far object's projection overlaps the near object's 2D
box, and a greedy loop visiting the far object first would take that box.
"""
from __future__ import annotations

import dataclasses
from typing import Optional, Sequence

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

from perception.structures import Boxes2D, Boxes3D, CoordFrame, KittiCalibration, box_iou_2d

__all__ = ["ProjectedBoxes", "Association", "project_to_image", "pair_affinity", "same_class", "associate",
           "segment_boxes"]


@dataclasses.dataclass(frozen=True)
class ProjectedBoxes:
    """3D boxes seen in the image.

    Attributes:
        boxes: ``(N, 4)`` image extent ``[x1, y1, x2, y2]`` of each projected box, clipped to the image
            (zeros where ``in_image`` is false).
        in_image: ``(N,)`` bool: some of the box is in front of the camera and inside the image.
        depth: ``(N,)`` rectified-camera depth ``z`` (m) of each box centre.
    """

    boxes: torch.Tensor
    in_image: torch.Tensor
    depth: torch.Tensor


@dataclasses.dataclass(frozen=True)
class Association:
    """One-to-one matches between ``A`` (rows) and ``B`` (columns).

    Attributes:
        pairs: ``(K, 2)`` int64 ``[index in A, index in B]``, sorted by A.
        unmatched_a: ``(Na - K,)`` indices of A without a match; ``unmatched_b`` likewise.
        iou: ``(K,)`` 2D IoU of each matched pair.
    """

    pairs: torch.Tensor
    unmatched_a: torch.Tensor
    unmatched_b: torch.Tensor
    iou: torch.Tensor

    def partner_of_a(self, num_a: int) -> torch.Tensor:
        """``(num_a,)`` index in B matched to each A, ``-1`` for none."""
        out = torch.full((num_a,), -1, dtype=torch.int64)
        out[self.pairs[:, 0]] = self.pairs[:, 1]
        return out


def project_to_image(boxes3d: Boxes3D, calib: KittiCalibration, image_size: Sequence[int],
                     min_size: float = 1.0) -> ProjectedBoxes:
    """Project LiDAR-frame boxes into camera 2's image of ``image_size = (height, width)``; a box counts as
    in the image when its clipped extent is at least ``min_size`` pixels on both sides."""
    from perception.evaluation.kitti.convert import projected_boxes2d

    if boxes3d.frame is not CoordFrame.LIDAR:
        raise ValueError("project_to_image expects LiDAR-frame boxes")
    n = len(boxes3d)
    if n == 0:
        return ProjectedBoxes(torch.zeros(0, 4), torch.zeros(0, dtype=torch.bool), torch.zeros(0))
    cam = boxes3d.to(torch.float64).convert_to(CoordFrame.CAMERA, calib)
    boxes, visible = projected_boxes2d(cam.corners(), calib)
    clipped = Boxes2D(boxes).clip((int(image_size[0]), int(image_size[1])))
    in_image = visible & clipped.nonempty(min_size)
    out = torch.where(in_image[:, None], clipped.tensor, torch.zeros_like(clipped.tensor))
    return ProjectedBoxes(boxes=out.float(), in_image=in_image, depth=cam.center[:, 2].float())


def pair_affinity(boxes_a: torch.Tensor, boxes_b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(iou, centre_distance)``, both ``(N, M)``: 2D IoU, and the distance of the box centres divided by
    the mean of the two boxes' diagonals (0 for the same centre, about 0.5 for neighbours touching)."""
    a, b = boxes_a.to(torch.float64), boxes_b.to(torch.float64)
    iou = box_iou_2d(Boxes2D(a), Boxes2D(b)) if len(a) and len(b) else torch.zeros(len(a), len(b), dtype=torch.float64)
    ca, cb = (a[:, :2] + a[:, 2:]) / 2, (b[:, :2] + b[:, 2:]) / 2
    da = (a[:, 2:] - a[:, :2]).norm(dim=1)
    db = (b[:, 2:] - b[:, :2]).norm(dim=1)
    scale = ((da[:, None] + db[None, :]) / 2).clamp_min(1e-6)
    return iou.float(), (torch.cdist(ca, cb) / scale).float()


def same_class(names_a: Sequence[str], names_b: Sequence[str]) -> torch.Tensor:
    """``(N, M)`` bool: ``names_a[i] == names_b[j]``."""
    return torch.tensor([[x == y for y in names_b] for x in names_a], dtype=torch.bool).reshape(len(names_a),
                                                                                               len(names_b))


def associate(boxes_a: torch.Tensor, boxes_b: torch.Tensor, *, names_a: Sequence[str], names_b: Sequence[str],
              valid_a: Optional[torch.Tensor] = None, min_iou: float = 0.3, max_centre_distance: float = 0.5,
              centre_weight: float = 0.5, class_aware: bool = True) -> Association:
    """Match boxes ``A`` and ``B`` (``(N, 4)``, ``(M, 4)`` pixels) one to one.

    A pair may match when its IoU is at least ``min_iou``, its normalised centre distance at most
    ``max_centre_distance``, both are ``valid`` and (``class_aware``) the class names agree.  Among those,
    the assignment minimises the total cost ``(1 - IoU) + centre_weight * distance``.
    """
    n, m = len(boxes_a), len(boxes_b)
    if len(names_a) != n or len(names_b) != m:
        raise ValueError(f"associate: {len(names_a)} names for {n} boxes A, {len(names_b)} for {m} boxes B")
    if n == 0 or m == 0:
        return Association(torch.zeros(0, 2, dtype=torch.int64), torch.arange(n), torch.arange(m), torch.zeros(0))
    iou, dist = pair_affinity(boxes_a, boxes_b)
    allowed = (iou >= min_iou) & (dist <= max_centre_distance)
    if valid_a is not None:
        allowed &= valid_a.bool()[:, None]
    if class_aware:
        allowed &= same_class(names_a, names_b)
    cost = (1.0 - iou) + centre_weight * dist
    big = float(cost.max()) * (n + m) + 1.0       # any allowed matching beats any disallowed pair
    cost = torch.where(allowed, cost, torch.full_like(cost, big)).numpy().astype(np.float64)
    rows, cols = linear_sum_assignment(cost)
    rows, cols = torch.from_numpy(rows).long(), torch.from_numpy(cols).long()
    ok = allowed[rows, cols]
    rows, cols = rows[ok], cols[ok]
    order = rows.argsort()
    rows, cols = rows[order], cols[order]
    un_a = torch.ones(n, dtype=torch.bool)
    un_a[rows] = False
    un_b = torch.ones(m, dtype=torch.bool)
    un_b[cols] = False
    return Association(pairs=torch.stack([rows, cols], dim=1), unmatched_a=un_a.nonzero().flatten(),
                       unmatched_b=un_b.nonzero().flatten(), iou=iou[rows, cols])


def segment_boxes(ids: np.ndarray, segment_ids: Sequence[int]) -> torch.Tensor:
    """``(S, 4)`` pixel extents ``[x1, y1, x2, y2]`` (exclusive right/bottom edge) of the given segments of an
    ``(H, W)`` id map; an id absent from the map gets zeros."""
    out = torch.zeros(len(segment_ids), 4)
    for k, sid in enumerate(segment_ids):
        ys, xs = np.nonzero(ids == sid)
        if len(xs):
            out[k] = torch.tensor([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], dtype=torch.float32)
    return out
