"""From the stack's structures to KITTI label/result objects.

:func:`predictions_to_kitti` turns LiDAR-frame detections into KITTI result
lines the way mmdet3d / OpenPCDet do for LiDAR detectors: the 2D box is the
image extent of the projected 3D box, clipped to the image; ``alpha`` comes
from the camera-frame box; boxes behind the camera or outside the image are
dropped.  The one difference is the near plane: a box crossing the plane
``z = NEAR_PLANE`` in front of the camera is clipped there before projecting
(mmdet3d projects corners behind the camera too, which flips them).
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import torch

from perception.datasets.kitti_io import KittiObject, annotations_to_objects
from perception.structures import CoordFrame, KittiCalibration, ObjectAnnotations

__all__ = ["predictions_to_kitti", "projected_boxes2d", "ground_truth_to_kitti", "NEAR_PLANE"]

#: Depth (m, rectified camera z) at which boxes reaching behind the camera are cut before projection.
NEAR_PLANE = 0.1
_EDGES = torch.tensor([[0, 1], [1, 2], [2, 3], [3, 0], [4, 5], [5, 6], [6, 7], [7, 4],
                       [0, 4], [1, 5], [2, 6], [3, 7]])


def projected_boxes2d(corners_cam: torch.Tensor, calib: KittiCalibration, camera: int = 2) -> tuple[torch.Tensor,
                                                                                                      torch.Tensor]:
    """Image extent of boxes given by ``(N, 8, 3)`` rectified-camera corners.

    The part of each box in front of :data:`NEAR_PLANE` is projected (its corners there and the
    crossings of its edges with the plane).  Returns ``(boxes (N, 4) x1 y1 x2 y2, visible (N,) bool)``;
    ``visible`` is False for boxes entirely behind the plane (their box is 0).
    """
    n = corners_cam.shape[0]
    c = corners_cam.to(torch.float64)
    a, b = c[:, _EDGES[:, 0]], c[:, _EDGES[:, 1]]
    za, zb = a[..., 2], b[..., 2]
    crosses = (za - NEAR_PLANE) * (zb - NEAR_PLANE) < 0
    t = (NEAR_PLANE - za) / torch.where(crosses, zb - za, torch.ones_like(za))
    cut = a + t[..., None] * (b - a)
    pts = torch.cat([c, cut], dim=1)                                      # (N, 20, 3)
    valid = torch.cat([c[..., 2] >= NEAR_PLANE, crosses], dim=1)
    uv, _ = calib.camera_to_image(pts.reshape(-1, 3), camera)
    uv = uv.reshape(n, 20, 2)
    inf = torch.tensor(float("inf"), dtype=uv.dtype)
    lo = torch.where(valid[..., None], uv, inf).amin(dim=1)
    hi = torch.where(valid[..., None], uv, -inf).amax(dim=1)
    visible = valid.any(dim=1)
    boxes = torch.where(visible[:, None], torch.cat([lo, hi], dim=1), torch.zeros(n, 4, dtype=uv.dtype))
    return boxes, visible


def predictions_to_kitti(pred: ObjectAnnotations, calib: KittiCalibration, image_shape: Sequence[int], *,
                         boxes2d: str = "auto") -> list[KittiObject]:
    """KITTI result objects (with scores) of one frame's LiDAR-frame predictions.

    Args:
        pred: predictions; ``scores`` must be set.
        calib: the frame's calibration.
        image_shape: ``(height, width)`` of camera 2's image.
        boxes2d: ``"projected"`` always uses the projected 3D box; ``"given"`` uses ``pred.boxes2d``;
            ``"auto"`` uses ``pred.boxes2d`` where it has positive width and height (camera detectors)
            and the projection elsewhere (LiDAR-only detectors leave it empty).
    Boxes whose centre is behind the camera, that lie entirely behind the near plane or whose 2D box
    misses the image are dropped; kept 2D boxes are clipped to ``[0, width] x [0, height]``.
    """
    if pred.scores is None:
        raise ValueError("predictions need scores to become KITTI results")
    if boxes2d not in ("auto", "projected", "given"):
        raise ValueError(f"boxes2d must be 'auto', 'projected' or 'given', got {boxes2d!r}")
    if len(pred) == 0:
        return []
    h_img, w_img = int(image_shape[0]), int(image_shape[1])
    cam = pred.boxes3d.to(torch.float64).convert_to(CoordFrame.CAMERA, calib)
    proj, visible = projected_boxes2d(cam.corners(), calib)
    given = pred.boxes2d.tensor.to(torch.float64)
    use_given = torch.zeros(len(pred), dtype=torch.bool)
    if boxes2d == "given":
        use_given[:] = True
    elif boxes2d == "auto":
        use_given = (given[:, 2] > given[:, 0]) & (given[:, 3] > given[:, 1])
    box = torch.where(use_given[:, None], given, proj)
    keep = ((cam.center[:, 2] > 0) & (visible | use_given)
            & (box[:, 0] < w_img) & (box[:, 1] < h_img) & (box[:, 2] > 0) & (box[:, 3] > 0))
    box[:, 0::2] = box[:, 0::2].clamp(0, w_img)
    box[:, 1::2] = box[:, 1::2].clamp(0, h_img)
    alpha = cam.yaw - torch.atan2(cam.center[:, 0], cam.center[:, 2])
    bottom = cam.bottom_center
    out = []
    for i in torch.nonzero(keep).flatten().tolist():
        l, w, h = cam.dims[i].tolist()
        a = (float(alpha[i]) + math.pi) % (2 * math.pi) - math.pi
        out.append(KittiObject(type=pred.names[i], truncated=0.0, occluded=0, alpha=a, bbox=tuple(box[i].tolist()),
                               dimensions=(h, w, l), location=tuple(bottom[i].tolist()), rotation_y=float(cam.yaw[i]),
                               score=float(pred.scores[i])))
    return out


def _as_decimal(value: float) -> float:
    """The double a KITTI file would give for a float32 value read from it (shortest round-trip decimal)."""
    return float(str(np.float32(value)))


def ground_truth_to_kitti(gt: ObjectAnnotations, calib: KittiCalibration) -> list[KittiObject]:
    """KITTI label objects (DontCare regions included) of one frame's ground truth.

    Image boxes, truncation and alpha are stored as float32 in :class:`ObjectAnnotations`; they are
    turned back into the decimals a label file holds (``0.15`` stays ``0.15``, not ``0.1500000059``), so
    the difficulty cuts (truncation <= 0.15, height > 40 px ...) fall exactly where the devkit puts them.
    """
    objects = annotations_to_objects(gt, calib)
    for o in objects:
        o.bbox = tuple(_as_decimal(v) for v in o.bbox)
        if o.type != "DontCare":
            o.truncated = _as_decimal(o.truncated)
            o.alpha = _as_decimal(o.alpha)
    return objects

