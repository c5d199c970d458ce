"""Ground truth of a rendered frame: KITTI labels, panoptic segments and point labels.

KITTI semantics, computed from the render:

* an object is *in the camera's view* when its amodal silhouette (the object
  rendered alone, one ray per pixel inside its projected 3D box) covers at
  least one image pixel;
* ``truncated``: fraction of the amodal silhouette outside the image (pixels
  outside are sampled on a coarser grid over an extended image plane);
* ``occluded``: from the visible fraction ``f = visible / amodal-in-image``:
  0 if ``f > a``, 1 if ``f > b``, else 2 (``SimConfig.occlusion_thresholds``);
  level 3 (unknown) is not used;
* ``bbox``: the tight box of the amodal silhouette inside the image,
  intersected with the projected 3D box's span (so, as in KITTI, it lies in
  that span);
* objects in view with fewer than ``min_lidar_points`` LiDAR returns, fewer
  than ``min_visible_pixels`` visible pixels or a box lower than
  ``min_box_height`` become ``DontCare`` regions (their 2D box), so every
  labelled box holds LiDAR points.

Panoptic: every visible thing instance is a segment, every stuff class one
segment per image.  Point labels: one pixel per segment, drawn (seeded) among
the segment's most interior pixels.
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np
import torch

from perception.datasets.kitti_io import KittiObject, annotations_to_objects
from perception.structures import (Boxes2D, Boxes3D, CoordFrame, KittiCalibration, ObjectAnnotations,
                                   clip_segment_to_near_plane, wrap_angle)

from . import categories as C
from .calib import camera_rays
from .config import SimConfig
from .lidar import LidarScan
from .raycast import Raycaster
from .render import CameraRender
from .scene import Scene

__all__ = ["ObjectStatus", "FrameLabels", "box_edges_span", "points_in_box", "make_labels"]

# The 12 edges of Boxes3D.corners() (bottom face 0-3, top face 4-7).
BOX_EDGES = ((0, 1), (1, 2), (2, 3), (3, 0), (4, 5), (5, 6), (6, 7), (7, 4), (0, 4), (1, 5), (2, 6), (3, 7))
_OUTSIDE_STRIDE = 4


@dataclasses.dataclass
class ObjectStatus:
    """What became of one thing instance (``status``: ``label``, ``dontcare``, ``out_of_view``, ``hidden``)."""

    instance: int
    name: str
    status: str
    lidar_points: int
    visible_pixels: int
    amodal_pixels: int
    truncated: float
    occluded: int
    bbox: tuple[float, float, float, float] | None


@dataclasses.dataclass
class FrameLabels:
    objects: list[KittiObject]
    annotations: ObjectAnnotations
    panoptic: np.ndarray  # (H, W) int64 segment ids
    segments_info: list[dict]
    point_labels: list[dict]
    status: list[ObjectStatus]


def box_edges_span(corners_cam: np.ndarray, P: np.ndarray, near: float = 0.05) -> np.ndarray | None:
    """``[u1, v1, u2, v2]`` span of a camera-frame box's edges projected with ``P``.

    Edges are clipped to ``z >= near`` first, so boxes reaching behind the
    camera get the span of their visible part; ``None`` if nothing is in front.
    """
    pts = []
    for a, b in BOX_EDGES:
        segment = clip_segment_to_near_plane(corners_cam[a], corners_cam[b], near)
        if segment is not None:
            pts += list(segment)
    if not pts:
        return None
    x = np.asarray(pts)
    h = x @ P[:, :3].T + P[:, 3]
    uv = h[:, :2] / h[:, 2:3]
    return np.array([uv[:, 0].min(), uv[:, 1].min(), uv[:, 0].max(), uv[:, 1].max()])


def points_in_box(points: np.ndarray, box: np.ndarray, eps: float = 0.0) -> np.ndarray:
    """``(P,)`` bool: LiDAR points inside one ``[x, y, z, l, w, h, yaw]`` box (boundary included)."""
    d = points[:, :3].astype(np.float64) - box[:3]
    c, s = math.cos(box[6]), math.sin(box[6])
    lx = d[:, 0] * c + d[:, 1] * s
    ly = -d[:, 0] * s + d[:, 1] * c
    return (np.abs(lx) <= box[3] / 2 + eps) & (np.abs(ly) <= box[4] / 2 + eps) & (np.abs(d[:, 2]) <= box[5] / 2 + eps)


def _amodal(scene: Scene, thing, calib: KittiCalibration, span: np.ndarray, width: int, height: int
            ) -> tuple[np.ndarray, np.ndarray, float]:
    """Silhouette of ``thing`` alone: in-image pixel rows/cols and the (weighted) pixel count outside."""
    x1 = max(math.floor(span[0]), -width)
    y1 = max(math.floor(span[1]), -height)
    x2 = min(math.ceil(span[2]), 2 * width)
    y2 = min(math.ceil(span[3]), 2 * height)
    if x2 <= x1 or y2 <= y1:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), 0.0
    verts, tris = scene.thing_mesh(thing)
    caster = Raycaster(verts, tris, nthreads=1)
    rows, cols = [], []
    out_count = 0.0
    # inside the image: every pixel
    ix1, iy1, ix2, iy2 = max(x1, 0), max(y1, 0), min(x2, width), min(y2, height)
    if ix2 > ix1 and iy2 > iy1:
        vv, uu = np.meshgrid(np.arange(iy1, iy2), np.arange(ix1, ix2), indexing="ij")
        uu, vv = uu.ravel(), vv.ravel()
        origin, dirs = camera_rays(calib, uu + 0.5, vv + 0.5)
        hit = caster.cast(origin, dirs).hit
        rows, cols = vv[hit], uu[hit]
    else:
        rows, cols = np.zeros(0, np.int64), np.zeros(0, np.int64)
    # outside: a coarser grid, each sample standing for stride^2 pixels
    if x1 < 0 or y1 < 0 or x2 > width or y2 > height:
        st = _OUTSIDE_STRIDE
        gx = np.arange(x1 - (x1 % st), x2, st)
        gy = np.arange(y1 - (y1 % st), y2, st)
        vv, uu = np.meshgrid(gy, gx, indexing="ij")
        uu, vv = uu.ravel(), vv.ravel()
        outside = (uu < 0) | (uu >= width) | (vv < 0) | (vv >= height)
        uu, vv = uu[outside], vv[outside]
        if len(uu):
            origin, dirs = camera_rays(calib, uu + st / 2, vv + st / 2)
            out_count = float(caster.cast(origin, dirs).hit.sum()) * st * st
    return rows, cols, out_count


def make_labels(scene: Scene, render: CameraRender, scan: LidarScan, calib: KittiCalibration, config: SimConfig,
                rng: np.random.Generator) -> FrameLabels:
    width, height = config.image_width, config.image_height
    things = scene.things
    statuses: list[ObjectStatus] = []
    keep_idx, boxes2d, trunc, occ, dontcare = [], [], [], [], []
    if things:
        boxes = Boxes3D(torch.from_numpy(np.stack([t.box for t in things])), frame=CoordFrame.LIDAR)
        cam = boxes.convert_to(CoordFrame.CAMERA, calib)
        corners = cam.corners().numpy()
        visible_counts = np.bincount(render.instance.ravel(), minlength=len(things) + 1)
        a_hi, a_lo = config.occlusion_thresholds
        for k, thing in enumerate(things):
            span = box_edges_span(corners[k], calib.P[2])
            n_pts = int(points_in_box(scan.points[scan.instance == thing.instance], thing.box).sum())
            visible = int(visible_counts[thing.instance])

            def status(s, amodal=0, tr=0.0, oc=0, bb=None):
                statuses.append(ObjectStatus(thing.instance, thing.name, s, n_pts, visible, amodal, tr, oc, bb))

            if span is None or span[2] <= 0 or span[0] >= width or span[3] <= 0 or span[1] >= height:
                status("out_of_view")
                continue
            rows, cols, out_count = _amodal(scene, thing, calib, span, width, height)
            a_in = len(rows)
            if a_in == 0:
                status("out_of_view")
                continue
            truncated = float(np.clip(out_count / (a_in + out_count), 0.0, 1.0))
            frac = min(1.0, visible / a_in)
            level = 0 if frac > a_hi else (1 if frac > a_lo else 2)
            bbox = (float(max(cols.min(), span[0], 0.0)), float(max(rows.min(), span[1], 0.0)),
                    float(min(cols.max() + 1, span[2], width)), float(min(rows.max() + 1, span[3], height)))
            if visible == 0 and n_pts == 0:
                status("hidden", a_in, truncated, level, bbox)
                continue
            small = (bbox[3] - bbox[1]) < config.min_box_height
            if n_pts < config.min_lidar_points or visible < config.min_visible_pixels or small:
                dontcare.append(bbox)
                status("dontcare", a_in, truncated, level, bbox)
                continue
            keep_idx.append(k)
            boxes2d.append(bbox)
            trunc.append(truncated)
            occ.append(level)
            status("label", a_in, truncated, level, bbox)
        if keep_idx:
            sel = torch.as_tensor(keep_idx)
            kept_cam = cam[sel]
            ry = kept_cam.yaw
            alpha = wrap_angle(ry - torch.atan2(kept_cam.center[:, 0], kept_cam.center[:, 2]))
            ann = ObjectAnnotations(
                names=[things[k].name for k in keep_idx], boxes3d=boxes[sel].to(torch.float32),
                boxes2d=Boxes2D(torch.tensor(boxes2d, dtype=torch.float32)),
                truncated=torch.tensor(trunc, dtype=torch.float32), occluded=torch.tensor(occ, dtype=torch.long),
                alpha=alpha.to(torch.float32), dontcare=Boxes2D(torch.tensor(dontcare, dtype=torch.float32)))
        else:
            ann = ObjectAnnotations.empty()
            ann.dontcare = Boxes2D(torch.tensor(dontcare, dtype=torch.float32))
    else:
        ann = ObjectAnnotations.empty()
    objects = annotations_to_objects(ann, calib)

    panoptic = np.where(render.instance > 0, render.category.astype(np.int64) * C.SEGMENT_ID_STRIDE + render.instance,
                        render.category.astype(np.int64) * C.SEGMENT_ID_STRIDE)
    segments_info, point_labels = _segments_and_points(panoptic, rng)
    return FrameLabels(objects=objects, annotations=ann, panoptic=panoptic, segments_info=segments_info,
                       point_labels=point_labels, status=statuses)


def _segments_and_points(panoptic: np.ndarray, rng: np.random.Generator) -> tuple[list[dict], list[dict]]:
    """COCO ``segments_info`` and one interior point label per segment (ordered by segment id)."""
    from scipy import ndimage

    h, w = panoptic.shape
    ids, inverse, areas = np.unique(panoptic.ravel(), return_inverse=True, return_counts=True)
    labels = inverse.reshape(h, w) + 1
    slices = ndimage.find_objects(labels)
    # distance of every pixel to the nearest pixel of another segment (or the image border)
    pad = np.pad(labels, 1, mode="constant", constant_values=0)
    core = pad[1:-1, 1:-1]
    inner = (core == pad[:-2, 1:-1]) & (core == pad[2:, 1:-1]) & (core == pad[1:-1, :-2]) & (core == pad[1:-1, 2:])
    dist = ndimage.distance_transform_edt(inner)
    order = np.argsort(inverse, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(areas)])
    flat_dist = dist.ravel()
    segments, points = [], []
    for j, seg in enumerate(ids.tolist()):
        cat = int(C.segment_category(seg))
        sl = slices[j]
        y0, y1, x0, x1 = sl[0].start, sl[0].stop, sl[1].start, sl[1].stop
        isthing = C.CATEGORY_BY_ID[cat].isthing
        segments.append({"id": int(seg), "category_id": cat, "iscrowd": 0, "bbox": [x0, y0, x1 - x0, y1 - y0],
                         "area": int(areas[j])})
        pix = order[bounds[j]:bounds[j + 1]]
        d = flat_dist[pix]
        cand = pix[d >= 0.5 * d.max()]
        p = int(cand[int(rng.integers(len(cand)))])
        points.append({"x": p % w, "y": p // w, "category_id": cat, "segment_id": int(seg), "isthing": bool(isthing)})
    return segments, points
