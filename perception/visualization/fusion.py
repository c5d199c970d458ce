"""Pictures of the unified output: the camera overlay and the bird's-eye view of one frame's FusedDetections."""
from __future__ import annotations

from typing import Optional

import numpy as np
import torch

from perception.structures import FusedDetections, ObjectAnnotations

from .bev import bev_plot
from .draw import draw_boxes2d, draw_boxes3d_on_image, panoptic_overlay

__all__ = ["SENSOR_COLORS", "sensor_tag", "draw_fused_on_image", "fused_bev_plot"]

#: 2D box colour by which sensors support the object.
SENSOR_COLORS = {"lidar+camera": (40, 220, 40), "lidar": (255, 150, 0), "camera": (0, 220, 255)}


def sensor_tag(result: FusedDetections, i: int) -> str:
    """``"lidar+camera"``, ``"lidar"`` or ``"camera"`` (the panoptic flag is shown by the mask colour)."""
    names = [n for n in result.sensor_names(i) if n != "panoptic"]
    return "+".join(names)


def draw_fused_on_image(image: np.ndarray, result: FusedDetections, *, score_thr: float = 0.3,
                        ground_truth: Optional[ObjectAnnotations] = None) -> np.ndarray:
    """Camera overlay: matched panoptic instances in their colours, projected 3D boxes (thin, by class), 2D boxes
    coloured by supporting sensors (:data:`SENSOR_COLORS`), labelled ``class score sensors``; ground truth in white."""
    shown = result.select(result.scores >= score_thr)
    img = image
    if shown.panoptic is not None and (shown.panoptic_ids > 0).any():
        keep = np.isin(shown.panoptic.ids, shown.panoptic_ids[shown.panoptic_ids > 0].numpy())
        img = panoptic_overlay(img, np.where(keep, shown.panoptic.ids, 0),
                               segments_info=shown.panoptic.segments_info(), boundaries=True)
    if ground_truth is not None and len(ground_truth):
        img = draw_boxes3d_on_image(img, ground_truth.boxes3d, shown.calib, colors=(255, 255, 255), thickness=1,
                                    front_cross=False)
    has3d = shown.has_box3d
    if has3d.any():
        img = draw_boxes3d_on_image(img, shown.boxes3d[has3d], shown.calib, thickness=1,
                                    labels=None, front_cross=True)
    has2d = shown.has_box2d.nonzero().flatten().tolist()
    if has2d:
        tags = [sensor_tag(shown, i) for i in has2d]
        img = draw_boxes2d(img, shown.boxes2d.tensor[has2d],
                           labels=[f"{shown.names[i]} {t}" for i, t in zip(has2d, tags)],
                           scores=shown.scores[has2d].tolist(), colors=[SENSOR_COLORS[t] for t in tags], thickness=2)
    return img


def fused_bev_plot(points: np.ndarray, result: FusedDetections, *, score_thr: float = 0.3,
                   ground_truth: Optional[ObjectAnnotations] = None, title: Optional[str] = None,
                   path: Optional[str] = None) -> np.ndarray:
    """Bird's-eye view: points, ground truth (white), fused 3D boxes (red) and camera-only frustums (cyan)."""
    shown = result.select(result.scores >= score_thr)
    has3d = shown.has_box3d
    boxes = shown.boxes3d[has3d]
    frustum_rows = (~has3d & shown.has_box2d & torch.isfinite(shown.depth_range).all(dim=1)).nonzero().flatten()
    # near-left, near-right, far-right, far-left corners at the box's top edge: the frustum's footprint
    frustums = np.stack([shown.frustum_corners(int(i))[[0, 1, 5, 4]][:, :2].numpy() for i in frustum_rows]) \
        if len(frustum_rows) else None
    return bev_plot(points, ground_truth.boxes3d if ground_truth is not None else None, boxes,
                    pred_scores=shown.scores[has3d].tolist(), gt_labels=ground_truth.names if ground_truth is not None else None,
                    pred_label="fused 3D", frustums=frustums, title=title, path=path)
