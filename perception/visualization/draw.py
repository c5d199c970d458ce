"""Drawing on camera images: projected 3D boxes, 2D boxes, panoptic overlays.

All functions take and return ``(H, W, 3)`` uint8 RGB numpy images and never
modify their input (they draw on a copy).
"""
from __future__ import annotations

import colorsys
from typing import Iterable, Optional, Sequence, Union

import numpy as np
import torch

from perception.structures import Boxes2D, Boxes3D, CoordFrame, KittiCalibration, clip_segment_to_near_plane
from perception.utils.images import check_rgb_image

__all__ = ["Color", "CLASS_COLORS", "color_for", "project_boxes3d", "draw_boxes3d_on_image", "draw_boxes2d",
           "panoptic_overlay", "save_image"]

Color = tuple[int, int, int]

#: Default colours of the KITTI classes (RGB).
CLASS_COLORS: dict[str, Color] = {
    "Car": (0, 200, 255), "Van": (0, 140, 255), "Truck": (0, 90, 200), "Pedestrian": (255, 60, 60),
    "Person_sitting": (255, 120, 120), "Cyclist": (255, 200, 0), "Tram": (160, 80, 255), "Misc": (180, 180, 180),
    "DontCare": (128, 128, 128),
}

# The 12 edges of Boxes3D.corners(): bottom face 0-3, top face 4-7; corners 0, 1, 4, 5 form the front face.
_EDGES = ((0, 1), (1, 2), (2, 3), (3, 0), (4, 5), (5, 6), (6, 7), (7, 4), (0, 4), (1, 5), (2, 6), (3, 7))
_FRONT_CROSS = ((0, 5), (1, 4))


def color_for(label: Union[str, int, None], index: int = 0) -> Color:
    """A stable colour for a class name (``CLASS_COLORS``) or an integer label."""
    if isinstance(label, str) and label in CLASS_COLORS:
        return CLASS_COLORS[label]
    if label is None:
        key = index
    elif isinstance(label, str):  # a stable checksum (hash() of str is salted per process)
        key = sum((i + 1) * ord(ch) for i, ch in enumerate(label))
    else:
        key = int(label)
    h = (key * 0.618033988749895) % 1.0
    r, g, b = colorsys.hsv_to_rgb(h, 0.75, 1.0)
    return int(r * 255), int(g * 255), int(b * 255)


def _check_image(image: np.ndarray) -> np.ndarray:
    """A writable copy of a valid image (drawing never changes its input)."""
    return np.ascontiguousarray(check_rgb_image(image, "draw").copy())


def project_boxes3d(boxes3d: Boxes3D, calib: KittiCalibration, camera: int = 2, near: float = 0.1
                    ) -> list[list[tuple[np.ndarray, np.ndarray, bool]]]:
    """Image segments of each box's 12 edges and the 2 diagonals of its front face.

    ``boxes3d`` may be in the LiDAR or the camera frame.  Edges are clipped to
    ``z >= near`` in the camera frame before projection, so boxes reaching
    behind the camera keep only their visible part; boxes entirely behind
    give an empty list.

    Returns:
        per box, a list of ``(p, q, is_front_diagonal)`` with pixel endpoints ``p, q`` (float64 ``(2,)``).
    """
    if len(boxes3d) == 0:
        return []
    cam = boxes3d if boxes3d.frame is CoordFrame.CAMERA else boxes3d.to(torch.float64).convert_to(
        CoordFrame.CAMERA, calib)
    corners = cam.corners().to(torch.float64).cpu().numpy()
    P = calib.P[camera]
    out = []
    for c in corners:
        segs = []
        for k, (a, b) in enumerate(_EDGES + _FRONT_CROSS):
            segment = clip_segment_to_near_plane(c[a], c[b], near)
            if segment is None:
                continue
            p, q = segment
            hp = P[:, :3] @ p + P[:, 3]
            hq = P[:, :3] @ q + P[:, 3]
            segs.append((hp[:2] / hp[2], hq[:2] / hq[2], k >= len(_EDGES)))
        out.append(segs)
    return out


def _as_colors(n: int, colors, labels) -> list[Color]:
    if colors is None:
        return [color_for(labels[i] if labels is not None else None, i) for i in range(n)]
    if isinstance(colors, tuple) and len(colors) == 3 and all(isinstance(v, (int, np.integer)) for v in colors):
        return [tuple(int(v) for v in colors)] * n
    colors = list(colors)
    if len(colors) != n:
        raise ValueError(f"got {len(colors)} colours for {n} boxes")
    return [tuple(int(v) for v in c) for c in colors]


def _put_label(img: np.ndarray, text: str, x: float, y: float, color: Color, scale: float) -> None:
    import cv2

    h, w = img.shape[:2]
    (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    x = int(np.clip(x, 0, max(0, w - tw - 2)))
    y = int(np.clip(y, th + 2, h - 1))
    cv2.rectangle(img, (x, y - th - 3), (x + tw + 2, y + base - 1), color, -1)
    lum = 0.299 * color[0] + 0.587 * color[1] + 0.114 * color[2]
    cv2.putText(img, text, (x + 1, y - 2), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0) if lum > 140 else (255, 255, 255),
                1, cv2.LINE_AA)


def _labels_text(n: int, labels, scores) -> list[Optional[str]]:
    texts = []
    for i in range(n):
        parts = []
        if labels is not None:
            parts.append(str(labels[i]))
        if scores is not None:
            parts.append(f"{float(scores[i]):.2f}")
        texts.append(" ".join(parts) if parts else None)
    return texts


def draw_boxes3d_on_image(image: np.ndarray, boxes3d: Boxes3D, calib: KittiCalibration, *,
                          labels: Optional[Sequence] = None, scores: Optional[Sequence[float]] = None,
                          colors=None, thickness: int = 2, camera: int = 2, front_cross: bool = True) -> np.ndarray:
    """Draw 3D box wireframes projected with ``P<camera>``.

    Args:
        image: ``(H, W, 3)`` uint8 RGB.
        boxes3d: boxes in the LiDAR frame (camera-frame boxes are accepted too).
        calib: the frame's calibration.
        labels, scores: optional per-box class names / confidences, written above each box.
        colors: one RGB tuple for all boxes, or one per box (default: by class name).
        front_cross: mark the front face with its diagonals (shows the heading).
    Returns:
        a new image.  Parts behind the camera are clipped; lines leaving the image are cut by OpenCV.
    """
    import cv2

    img = _check_image(image)
    n = len(boxes3d)
    cols = _as_colors(n, colors, labels)
    texts = _labels_text(n, labels, scores)
    for i, segs in enumerate(project_boxes3d(boxes3d, calib, camera)):
        if not segs:
            continue
        for p, q, diagonal in segs:
            if diagonal and not front_cross:
                continue
            if not (np.isfinite(p).all() and np.isfinite(q).all()):
                continue
            pa = tuple(int(round(v)) for v in np.clip(p, -1e5, 1e5))
            pb = tuple(int(round(v)) for v in np.clip(q, -1e5, 1e5))
            cv2.line(img, pa, pb, cols[i], max(1, thickness - 1) if diagonal else thickness, cv2.LINE_AA)
        if texts[i]:
            pts = np.array([pt for seg in segs for pt in seg[:2]])
            _put_label(img, texts[i], pts[:, 0].min(), pts[:, 1].min() - 2, cols[i], 0.4)
    return img


def draw_boxes2d(image: np.ndarray, boxes2d: Union[Boxes2D, np.ndarray, torch.Tensor, Iterable],
                 labels: Optional[Sequence] = None, scores: Optional[Sequence[float]] = None, *, colors=None,
                 thickness: int = 2) -> np.ndarray:
    """Draw ``[x1, y1, x2, y2]`` image boxes with optional class names and scores."""
    import cv2

    img = _check_image(image)
    if isinstance(boxes2d, Boxes2D):
        arr = boxes2d.numpy()
    else:
        arr = np.asarray(boxes2d.detach().cpu() if isinstance(boxes2d, torch.Tensor) else boxes2d, np.float64)
    arr = arr.reshape(-1, 4)
    cols = _as_colors(len(arr), colors, labels)
    texts = _labels_text(len(arr), labels, scores)
    for i, (x1, y1, x2, y2) in enumerate(arr):
        cv2.rectangle(img, (int(round(x1)), int(round(y1))), (int(round(x2)) - 1, int(round(y2)) - 1), cols[i],
                      thickness, cv2.LINE_AA)
        if texts[i]:
            _put_label(img, texts[i], x1, y1 - 1, cols[i], 0.4)
    return img


def panoptic_overlay(image: np.ndarray, panoptic_ids: np.ndarray, categories=None, *,
                     segments_info: Optional[Sequence[dict]] = None, alpha: float = 0.55,
                     boundaries: bool = True) -> np.ndarray:
    """Blend a panoptic segmentation over an image.

    Args:
        image: ``(H, W, 3)`` uint8 RGB.
        panoptic_ids: ``(H, W)`` integer segment ids (0 = void, left uncoloured), or the
            ``(H, W, 3)`` RGB panoptic PNG (``id = R + 256 G + 256^2 B``).
        categories: objects or dicts with ``id``, ``color``, ``isthing`` (default: the
            simulator's :data:`perception.datasets.sim.categories.CATEGORIES`).
        segments_info: COCO ``segments_info`` mapping segment ids to ``category_id``; without
            it the simulator's numbering (``id // 1000``) is used.
    Returns:
        a new image: stuff in its category colour, each thing instance in a shade of its
        category colour, segment boundaries in white.
    """
    img = _check_image(image)
    ids = np.asarray(panoptic_ids)
    if ids.ndim == 3:
        ids = ids[..., 0].astype(np.int64) + 256 * ids[..., 1].astype(np.int64) + 65536 * ids[..., 2].astype(np.int64)
    if ids.shape != img.shape[:2]:
        raise ValueError(f"panoptic ids {ids.shape} do not match the image {img.shape[:2]}")
    if categories is None:
        from perception.datasets.sim.categories import CATEGORIES as categories
    cats = {}
    for c in categories:
        get = (lambda k: c[k]) if isinstance(c, dict) else (lambda k: getattr(c, k))
        cats[int(get("id"))] = (tuple(int(v) for v in get("color")), bool(get("isthing")))
    seg_cat = {int(s["id"]): int(s["category_id"]) for s in segments_info} if segments_info is not None else None
    uniq, inverse = np.unique(ids.ravel(), return_inverse=True)
    palette = np.zeros((len(uniq), 3), np.float32)
    valid = np.zeros(len(uniq), bool)
    for j, seg in enumerate(uniq.tolist()):
        if seg == 0:
            continue
        cat = seg_cat.get(seg) if seg_cat is not None else seg // 1000
        if cat not in cats:
            continue
        color, isthing = cats[cat]
        col = np.asarray(color, np.float32)
        if isthing:  # vary the shade per instance, deterministically
            f = 0.6 + 0.8 * ((seg * 0.6180339887) % 1.0)
            col = np.clip(col * f + 40 * (f - 1.0), 0, 255)
        palette[j] = col
        valid[j] = True
    color_img = palette[inverse].reshape(img.shape)
    mask = valid[inverse].reshape(img.shape[:2])
    out = img.astype(np.float32)
    out[mask] = out[mask] * (1 - alpha) + color_img[mask] * alpha
    if boundaries:
        edge = np.zeros(ids.shape, bool)
        edge[:, 1:] |= ids[:, 1:] != ids[:, :-1]
        edge[1:, :] |= ids[1:, :] != ids[:-1, :]
        out[edge] = 255
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def save_image(path, image: np.ndarray) -> None:
    """Save an RGB uint8 image as PNG (atomic write)."""
    import io

    from PIL import Image

    from perception.utils.fileio import atomic_write_bytes

    buf = io.BytesIO()
    Image.fromarray(_check_image(image)).save(buf, format="PNG")
    atomic_write_bytes(path, buf.getvalue())
