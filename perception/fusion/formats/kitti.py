"""KITTI result files (one ``<frame_id>.txt`` per frame) of the unified output.

A KITTI line carries class, 2D box, 3D box (rectified camera frame, bottom
centre) and score; it has no field for sensors, single-sensor scores, panoptic
ids or frustums, so those are not written.  What is missing is written with the
KITTI conventions, and read back as NaN:

* camera-only objects (no 3D box): ``dimensions -1 -1 -1``, ``location -1000 -1000 -1000``, ``rotation_y -10``
  (the devkit's marker for 2D-only results), ``alpha -10``;
* objects outside the image (no 2D box): ``bbox -1 -1 -1 -1`` (height 0: the devkit ignores them).

The reader marks an object with a 3D box as LiDAR-supported and one without as camera-only.
Evaluate 3D AP only on objects with a 3D box (:func:`fused_to_kitti` ``with_box3d_only``): a 2D-only line would
count as a 3D false positive.  The devkit also reads the 2D box in its 3D evaluation (detections lower than the
difficulty's minimum height, or over DontCare regions, are ignored), so a 3D comparison with a LiDAR-only
detector should write the projected 3D boxes as LiDAR detectors do (``boxes2d="projected"``).
"""
from __future__ import annotations

import dataclasses
import math
import os
from typing import Sequence

import torch

from perception.datasets.kitti_io import (UNKNOWN_DIMENSIONS, UNKNOWN_LOCATION, UNKNOWN_ROTATION, KittiObject,
                                          has_unknown_3d, read_label, write_label)
from perception.structures import Boxes2D, Boxes3D, CoordFrame, FusedDetections, KittiCalibration, Sensor, wrap_angle

__all__ = ["fused_to_kitti", "kitti_to_fused", "write_kitti", "read_kitti", "NO_BOX2D"]

#: The 2D box of an object outside the image.
NO_BOX2D = (-1.0, -1.0, -1.0, -1.0)


def fused_to_kitti(result: FusedDetections, *, with_box3d_only: bool = False,
                   boxes2d: str = "fused") -> list[KittiObject]:
    """KITTI result objects of one frame, in the result's order (optionally only the objects with a 3D box).

    ``boxes2d``: ``"fused"`` writes the objects' 2D boxes (the camera's where it saw the object);
    ``"projected"`` writes, for objects with a 3D box, the image extent of the projected box instead.
    """
    if boxes2d not in ("fused", "projected"):
        raise ValueError(f"boxes2d must be 'fused' or 'projected', got {boxes2d!r}")
    keep = result.has_box3d if with_box3d_only else torch.ones(len(result), dtype=torch.bool)
    result = result.select(keep)
    has3d = result.has_box3d
    if boxes2d == "projected" and has3d.any():
        from perception.fusion.association import project_to_image

        proj = project_to_image(result.boxes3d[has3d], result.calib, result.image_size)
        box = result.boxes2d.tensor.clone()
        box[has3d] = torch.where(proj.in_image[:, None], proj.boxes, torch.full_like(proj.boxes, float("nan")))
        result = dataclasses.replace(result, boxes2d=Boxes2D(box))
    has2d = result.has_box2d
    cam = Boxes3D(torch.nan_to_num(result.boxes3d.tensor.to(torch.float64)), frame=CoordFrame.LIDAR).convert_to(
        CoordFrame.CAMERA, result.calib)
    bottom = cam.bottom_center
    out = []
    for i, name in enumerate(result.names):
        bbox = tuple(result.boxes2d.tensor[i].tolist()) if has2d[i] else NO_BOX2D
        if has3d[i]:
            l, w, h = cam.dims[i].tolist()
            alpha = float(wrap_angle(cam.yaw[i] - math.atan2(float(cam.center[i, 0]), float(cam.center[i, 2]))))
            dims, loc, ry = (h, w, l), tuple(bottom[i].tolist()), float(cam.yaw[i])
        else:
            alpha, dims, loc, ry = UNKNOWN_ROTATION, UNKNOWN_DIMENSIONS, UNKNOWN_LOCATION, UNKNOWN_ROTATION
        out.append(KittiObject(type=name, truncated=0.0, occluded=0, alpha=alpha, bbox=bbox, dimensions=dims,
                               location=loc, rotation_y=ry, score=float(result.scores[i])))
    return out


def kitti_to_fused(objects: Sequence[KittiObject], *, frame_id: str, calib: KittiCalibration,
                   image_size: Sequence[int]) -> FusedDetections:
    """The inverse of :func:`fused_to_kitti` for what the format carries (see the module docstring)."""
    n = len(objects)
    boxes3d = torch.full((n, 7), float("nan"), dtype=torch.float64)
    boxes2d = torch.full((n, 4), float("nan"))
    for i, o in enumerate(objects):
        if o.score is None:
            raise ValueError(f"frame {frame_id}: KITTI object {i} ({o.type}) has no score; results need one")
        if not has_unknown_3d(o):
            h, w, l = o.dimensions
            x, y, z = o.location
            boxes3d[i] = torch.tensor([x, y - h / 2, z, l, w, h, o.rotation_y], dtype=torch.float64)
        if tuple(o.bbox) != NO_BOX2D:
            boxes2d[i] = torch.tensor(o.bbox, dtype=torch.float32)
    has3d = ~torch.isnan(boxes3d).any(dim=1)
    lidar = torch.full((n, 7), float("nan"), dtype=torch.float64)
    if has3d.any():
        lidar[has3d] = Boxes3D(boxes3d[has3d], frame=CoordFrame.CAMERA).convert_to(CoordFrame.LIDAR, calib).tensor
    sensors = torch.where(has3d, torch.full((n,), int(Sensor.LIDAR)), torch.full((n,), int(Sensor.CAMERA)))
    return FusedDetections.build(frame_id=frame_id, calib=calib, image_size=image_size, names=[o.type for o in objects],
                                 scores=torch.tensor([o.score for o in objects], dtype=torch.float32), sensors=sensors,
                                 boxes3d=lidar.float(), boxes2d=boxes2d)


def write_kitti(result_dir: str | os.PathLike, results: Sequence[FusedDetections], *,
                with_box3d_only: bool = False) -> list[str]:
    """Write ``<result_dir>/<frame_id>.txt`` per frame (each file atomically); returns the paths."""
    paths = []
    for result in results:
        path = os.path.join(os.fspath(result_dir), f"{result.frame_id}.txt")
        write_label(path, fused_to_kitti(result, with_box3d_only=with_box3d_only))
        paths.append(path)
    return paths


def read_kitti(result_dir: str | os.PathLike, *, frame_ids: Sequence[str], calibs: Sequence[KittiCalibration],
               image_sizes: Sequence[Sequence[int]]) -> list[FusedDetections]:
    """Read the frames' result files back (errors name the file and line, see ``kitti_io.read_label``)."""
    if not len(frame_ids) == len(calibs) == len(image_sizes):
        raise ValueError(f"read_kitti: {len(frame_ids)} frame ids, {len(calibs)} calibrations and "
                         f"{len(image_sizes)} image sizes; they must match")
    return [kitti_to_fused(read_label(os.path.join(os.fspath(result_dir), f"{fid}.txt"), allow_score=True),
                           frame_id=fid, calib=calib, image_size=size)
            for fid, calib, size in zip(frame_ids, calibs, image_sizes)]
