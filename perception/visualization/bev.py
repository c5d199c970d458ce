"""Bird's-eye-view plots of LiDAR points and 3D boxes (matplotlib, Agg backend)."""
from __future__ import annotations

import os
from typing import Optional, Sequence

import numpy as np
import torch

from perception.structures import Boxes3D, CoordFrame

__all__ = ["bev_plot", "figure_to_array"]


def figure_to_array(fig) -> np.ndarray:
    """Render a matplotlib figure (Agg canvas) to an ``(H, W, 3)`` uint8 RGB array."""
    fig.canvas.draw()
    rgba = np.asarray(fig.canvas.buffer_rgba())
    return np.ascontiguousarray(rgba[..., :3])


def _as_lidar_boxes(boxes, calib) -> Optional[np.ndarray]:
    if boxes is None:
        return None
    if not isinstance(boxes, Boxes3D):
        boxes = Boxes3D(torch.as_tensor(np.asarray(boxes, np.float64)).reshape(-1, 7), frame=CoordFrame.LIDAR)
    if boxes.frame is not CoordFrame.LIDAR:
        if calib is None:
            raise ValueError("camera-frame boxes need calib= to be drawn in the LiDAR BEV")
        boxes = boxes.to(torch.float64).convert_to(CoordFrame.LIDAR, calib)
    return boxes.to(torch.float64).numpy() if len(boxes) else np.zeros((0, 7))


def _footprints(boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(N, 4, 2)`` BEV corners and ``(N, 2, 2)`` heading ticks (centre -> front) of LiDAR boxes."""
    b = Boxes3D(torch.from_numpy(boxes), frame=CoordFrame.LIDAR)
    corners = b.bev_corners().numpy()
    front = (corners[:, 0] + corners[:, 1]) / 2
    ticks = np.stack([boxes[:, :2], front], axis=1)
    return corners, ticks


def bev_plot(points: Optional[np.ndarray], boxes3d_gt=None, boxes3d_pred=None, *,
             pred_scores: Optional[Sequence[float]] = None, gt_labels: Optional[Sequence[str]] = None,
             calib=None, xlim: tuple[float, float] = (-10.0, 75.0), ylim: tuple[float, float] = (-40.0, 40.0),
             zlim: tuple[float, float] = (-2.0, 1.0), point_size: float = 1.0, title: Optional[str] = None,
             size: tuple[float, float] = (9.0, 8.0), dpi: int = 100, path: Optional[str | os.PathLike] = None,
             show_fov: bool = True, pred_label: str = "prediction",
             frustums: Optional[np.ndarray] = None) -> np.ndarray:
    """Top view of a LiDAR sweep with ground-truth and predicted boxes.

    Args:
        points: ``(P, >=3)`` LiDAR-frame points (x forward, y left), coloured by height z.
        boxes3d_gt: ground-truth boxes (``Boxes3D`` in either frame, with ``calib`` for camera
            boxes, or an ``(N, 7)`` LiDAR array), drawn as white rotated footprints with a
            heading tick from the centre to the front face.
        boxes3d_pred: predicted boxes, drawn the same way in red (with ``pred_scores`` if given).
        gt_labels: class names written beside the ground-truth boxes.
        xlim, ylim: the plotted area (m); x runs to the right, y (left of the car) upward.
        show_fov: outline camera 2's horizontal field of view (about +-40 deg).
        pred_label: legend entry of the predicted boxes.
        frustums: ``(F, 4, 2)`` LiDAR-frame BEV polygons (x, y) of camera-only objects' viewing frustums,
            drawn dashed in cyan.
        path: also save the PNG there (atomic write).
    Returns:
        the plot as an ``(H, W, 3)`` uint8 RGB array.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.collections import LineCollection, PolyCollection
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, dpi=dpi)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    ax.set_facecolor((0.0, 0.0, 0.0))
    if points is not None and len(points):
        pts = np.asarray(points)
        sel = (pts[:, 0] >= xlim[0]) & (pts[:, 0] <= xlim[1]) & (pts[:, 1] >= ylim[0]) & (pts[:, 1] <= ylim[1])
        pts = pts[sel]
        sc = ax.scatter(pts[:, 0], pts[:, 1], c=np.clip(pts[:, 2], *zlim), s=point_size, cmap="turbo",
                        vmin=zlim[0], vmax=zlim[1], linewidths=0, rasterized=True)
        cb = fig.colorbar(sc, ax=ax, fraction=0.03, pad=0.01)
        cb.set_label("z (m)")
    if show_fov:
        r = max(abs(xlim[1]), 1.0) * 1.5
        for a in (np.radians(41), -np.radians(41)):
            ax.plot([0, r * np.cos(a)], [0, r * np.sin(a)], color=(0.6, 0.6, 0.6), lw=0.6, ls="--")
    handles = []
    for boxes, color, name in ((_as_lidar_boxes(boxes3d_gt, calib), (1.0, 1.0, 1.0), "ground truth"),
                               (_as_lidar_boxes(boxes3d_pred, calib), (1.0, 0.25, 0.2), pred_label)):
        if boxes is None or not len(boxes):
            continue
        corners, ticks = _footprints(boxes)
        ax.add_collection(PolyCollection(corners, facecolors="none", edgecolors=[color], linewidths=1.3))
        ax.add_collection(LineCollection(ticks, colors=[color], linewidths=1.3))
        handles.append(ax.plot([], [], color=color, lw=1.5, label=name)[0])
    if frustums is not None and len(frustums):
        cyan = (0.2, 0.9, 1.0)
        ax.add_collection(PolyCollection(np.asarray(frustums), facecolors="none", edgecolors=[cyan],
                                         linewidths=1.0, linestyles="--"))
        handles.append(ax.plot([], [], color=cyan, lw=1.0, ls="--", label="camera-only frustum")[0])
    if pred_scores is not None and boxes3d_pred is not None:
        pb = _as_lidar_boxes(boxes3d_pred, calib)
        for b, s in zip(pb, pred_scores):
            if xlim[0] <= b[0] <= xlim[1] and ylim[0] <= b[1] <= ylim[1]:
                ax.text(b[0], b[1] - 2.0, f"{float(s):.2f}", color=(1.0, 0.5, 0.4), fontsize=6, ha="center")
    if gt_labels is not None and boxes3d_gt is not None:
        gb = _as_lidar_boxes(boxes3d_gt, calib)
        for b, name in zip(gb, gt_labels):
            if xlim[0] <= b[0] <= xlim[1] and ylim[0] <= b[1] <= ylim[1]:
                ax.text(b[0], b[1] + 1.6, str(name), color=(1.0, 1.0, 1.0), fontsize=6, ha="center")
    ax.plot([0], [0], marker=(3, 0, -90), color="white", markersize=8)  # the LiDAR, pointing forward
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_aspect("equal")
    ax.set_xlabel("x forward (m)")
    ax.set_ylabel("y left (m)")
    if handles:
        ax.legend(handles=handles, loc="upper right", fontsize=8, facecolor=(0.2, 0.2, 0.2), labelcolor="white")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    out = figure_to_array(fig)
    if path is not None:
        from .draw import save_image

        save_image(path, out)
    return out
