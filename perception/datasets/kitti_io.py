"""Readers and writers for the KITTI object-detection file formats.

Every reader validates what it reads and raises :class:`KittiFormatError`
naming the file, the line (where there is one) and the expected form; nothing
is silently dropped.  Every writer writes atomically (temporary file, then
rename), so an interrupted run never leaves half a file.

Layout of a KITTI split directory::

    training/velodyne/000000.bin   float32 records [x, y, z, reflectance], LiDAR frame
    training/image_2/000000.png    left colour camera image
    training/calib/000000.txt      see :class:`perception.structures.KittiCalibration`
    training/label_2/000000.txt    one object per line, see :class:`KittiObject`
    ImageSets/train.txt            one sample id per line
"""
from __future__ import annotations

import dataclasses
import math
import os
from typing import Iterable, Optional, Sequence

import numpy as np
import torch

from perception.structures import (Boxes2D, Boxes3D, CoordFrame, Frame, KittiCalibration, ObjectAnnotations,
                                   wrap_angle)
from perception.utils.fileio import atomic_open, atomic_write_bytes

__all__ = [
    "KittiFormatError", "KittiObject", "KITTI_CLASSES", "read_points", "write_points", "read_label", "write_label",
    "read_calib", "read_image", "read_image_size", "read_image_set", "write_image_set", "objects_to_annotations",
    "annotations_to_objects", "read_frame", "has_unknown_3d", "UNKNOWN_DIMENSIONS", "UNKNOWN_LOCATION",
    "UNKNOWN_ROTATION",
]

#: Object types that may appear in KITTI label files.
KITTI_CLASSES = ("Car", "Van", "Truck", "Pedestrian", "Person_sitting", "Cyclist", "Tram", "Misc", "DontCare")


class KittiFormatError(ValueError):
    """A KITTI file is missing or malformed; the message says where and what was expected."""


# ----------------------------------------------------------------------------- points
def read_points(path: str | os.PathLike, num_features: int = 4) -> np.ndarray:
    """Read a ``velodyne/*.bin`` file.

    Returns:
        ``(P, num_features)`` float32, ``[x, y, z, reflectance]`` in the LiDAR frame.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise KittiFormatError(f"{path}: point cloud file not found")
    record = 4 * num_features
    size = os.path.getsize(path)
    if size % record:
        raise KittiFormatError(
            f"{path}: size {size} bytes is not a multiple of {record} "
            f"(expected float32 records of {num_features} values [x, y, z, reflectance])")
    points = np.fromfile(path, dtype=np.float32).reshape(-1, num_features)
    bad = ~np.isfinite(points).all(axis=1)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise KittiFormatError(f"{path}: {int(bad.sum())} point(s) with NaN/inf values (first at record {first})")
    return points


def write_points(path: str | os.PathLike, points: np.ndarray) -> None:
    """Write ``(P, C)`` points as float32 records (atomic)."""
    points = np.asarray(points)
    if points.ndim != 2:
        raise ValueError(f"points must be (P, C), got shape {points.shape}")
    atomic_write_bytes(path, np.ascontiguousarray(points, dtype=np.float32).tobytes())


# ----------------------------------------------------------------------------- labels
@dataclasses.dataclass
class KittiObject:
    """One line of a KITTI label (or result) file, in the file's own units.

    Attributes:
        type: class name, one of :data:`KITTI_CLASSES` (results may use others).
        truncated: float in [0, 1], fraction of the object leaving the image.
        occluded: 0 fully visible, 1 partly, 2 largely occluded, 3 unknown.
        alpha: observation angle in [-pi, pi].
        bbox: ``(x1, y1, x2, y2)`` 2D box in camera-2 pixels.
        dimensions: ``(h, w, l)`` in metres.
        location: ``(x, y, z)`` *bottom centre* in the rectified camera frame.
        rotation_y: yaw about camera +y in [-pi, pi].
        score: detection confidence (result files only).
    """

    type: str
    truncated: float
    occluded: int
    alpha: float
    bbox: tuple[float, float, float, float]
    dimensions: tuple[float, float, float]
    location: tuple[float, float, float]
    rotation_y: float
    score: Optional[float] = None

    def to_line(self) -> str:
        values = [self.type, f"{self.truncated:.2f}", str(int(self.occluded)), f"{self.alpha:.4f}",
                  *(f"{v:.2f}" for v in self.bbox), *(f"{v:.4f}" for v in self.dimensions),
                  *(f"{v:.4f}" for v in self.location), f"{self.rotation_y:.4f}"]
        if self.score is not None:
            values.append(f"{self.score:.6f}")
        return " ".join(values)


#: What a 2D-only result line writes for the unknown 3D fields (dimensions, location, rotation_y).
UNKNOWN_DIMENSIONS, UNKNOWN_LOCATION, UNKNOWN_ROTATION = (-1.0, -1.0, -1.0), (-1000.0, -1000.0, -1000.0), -10.0


def has_unknown_3d(obj: KittiObject) -> bool:
    """The line carries no 3D box (KITTI's ``-1 -1 -1 -1000 -1000 -1000 -10`` convention of 2D-only results)."""
    return tuple(obj.dimensions) == UNKNOWN_DIMENSIONS and tuple(obj.location) == UNKNOWN_LOCATION


def _parse_label_line(path: str, lineno: int, line: str, allow_score: bool) -> KittiObject:
    fields = line.split()
    expected = "15 fields (type truncated occluded alpha x1 y1 x2 y2 h w l x y z rotation_y)"
    if allow_score:
        expected += " or 16 with a trailing score"
    if len(fields) != 15 and not (allow_score and len(fields) == 16):
        raise KittiFormatError(f"{path}:{lineno}: expected {expected}, got {len(fields)} fields")
    try:
        nums = [float(v) for v in fields[1:]]
    except ValueError as exc:
        raise KittiFormatError(f"{path}:{lineno}: non-numeric field ({exc}); expected {expected}") from None
    if not all(math.isfinite(v) for v in nums):
        raise KittiFormatError(f"{path}:{lineno}: NaN or infinite value in {line.strip()!r}")
    occluded = nums[1]
    if occluded != int(occluded) or int(occluded) not in (-1, 0, 1, 2, 3):
        raise KittiFormatError(f"{path}:{lineno}: field 'occluded' must be an integer in 0..3 (or -1), got {fields[2]}")
    obj = KittiObject(type=fields[0], truncated=nums[0], occluded=int(occluded), alpha=nums[2],
                      bbox=tuple(nums[3:7]), dimensions=tuple(nums[7:10]), location=tuple(nums[10:13]),
                      rotation_y=nums[13], score=nums[14] if len(nums) == 15 else None)
    if obj.type != "DontCare":
        if min(obj.dimensions) < 0 and not has_unknown_3d(obj):
            raise KittiFormatError(f"{path}:{lineno}: negative dimension in h w l = {obj.dimensions}")
        if obj.bbox[2] < obj.bbox[0] or obj.bbox[3] < obj.bbox[1]:
            raise KittiFormatError(f"{path}:{lineno}: 2D box must have x1 <= x2 and y1 <= y2, got {obj.bbox}")
    return obj


def read_label(path: str | os.PathLike, *, allow_score: bool = False) -> list[KittiObject]:
    """Read a ``label_2/*.txt`` file (or, with ``allow_score``, a result file)."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise KittiFormatError(f"{path}: label file not found")
    objects = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            if line.strip():
                objects.append(_parse_label_line(path, lineno, line, allow_score))
    return objects


def write_label(path: str | os.PathLike, objects: Iterable[KittiObject]) -> None:
    """Write objects as a KITTI label/result file (atomic)."""
    with atomic_open(path, "w") as f:
        for obj in objects:
            f.write(obj.to_line() + "\n")


# ----------------------------------------------------------------------- other files
def read_calib(path: str | os.PathLike) -> KittiCalibration:
    """Read a ``calib/*.txt`` file (errors name the file, line and field)."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise KittiFormatError(f"{path}: calibration file not found")
    return KittiCalibration.from_file(path)


def read_image_size(path: str | os.PathLike) -> tuple[int, int]:
    """``(height, width)`` of an image file, from its header only."""
    from PIL import Image, UnidentifiedImageError

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise KittiFormatError(f"{path}: image file not found")
    try:
        with Image.open(path) as im:
            return im.height, im.width
    except UnidentifiedImageError:
        raise KittiFormatError(f"{path}: not an image PIL can read") from None


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read an image as ``(H, W, 3)`` uint8 RGB."""
    from PIL import Image, UnidentifiedImageError

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise KittiFormatError(f"{path}: image file not found")
    try:
        with Image.open(path) as img:
            return np.asarray(img.convert("RGB"))
    except (UnidentifiedImageError, OSError) as exc:
        raise KittiFormatError(f"{path}: not a readable image ({exc})") from None


def read_image_set(path: str | os.PathLike) -> list[str]:
    """Read an ``ImageSets/*.txt`` file: one sample id per line."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise KittiFormatError(f"{path}: image set file not found")
    ids = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            token = line.strip()
            if not token:
                continue
            if len(token.split()) != 1:
                raise KittiFormatError(f"{path}:{lineno}: expected one sample id per line, got {token!r}")
            ids.append(token)
    return ids


def write_image_set(path: str | os.PathLike, ids: Sequence[str]) -> None:
    with atomic_open(path, "w") as f:
        f.write("".join(f"{i}\n" for i in ids))


# --------------------------------------------------------------- label <-> structures
def objects_to_annotations(objects: Sequence[KittiObject], calib: KittiCalibration) -> ObjectAnnotations:
    """Convert label lines to :class:`ObjectAnnotations` (boxes in the LiDAR frame).

    ``DontCare`` lines become ``annotations.dontcare`` regions.
    """
    real = [o for o in objects if o.type != "DontCare"]
    dontcare = Boxes2D(torch.tensor([o.bbox for o in objects if o.type == "DontCare"], dtype=torch.float32))
    if not real:
        ann = ObjectAnnotations.empty()
        ann.dontcare = dontcare
        return ann
    cam = []
    for o in real:
        h, w, l = o.dimensions
        x, y, z = o.location
        cam.append([x, y - h / 2, z, l, w, h, o.rotation_y])  # bottom centre -> geometric centre
    boxes_cam = Boxes3D(torch.tensor(cam, dtype=torch.float64), frame=CoordFrame.CAMERA)
    boxes = boxes_cam.convert_to(CoordFrame.LIDAR, calib).to(torch.float32)
    scores = None
    if all(o.score is not None for o in real):
        scores = torch.tensor([o.score for o in real], dtype=torch.float32)
    return ObjectAnnotations(
        names=[o.type for o in real], boxes3d=boxes,
        boxes2d=Boxes2D(torch.tensor([o.bbox for o in real], dtype=torch.float32)),
        truncated=torch.tensor([o.truncated for o in real], dtype=torch.float32),
        occluded=torch.tensor([o.occluded for o in real], dtype=torch.long),
        alpha=torch.tensor([o.alpha for o in real], dtype=torch.float32), dontcare=dontcare, scores=scores)


def annotations_to_objects(ann: ObjectAnnotations, calib: KittiCalibration) -> list[KittiObject]:
    """Convert :class:`ObjectAnnotations` back to label lines (DontCare regions last)."""
    objects = []
    if len(ann):
        cam = ann.boxes3d.to(torch.float64).convert_to(CoordFrame.CAMERA, calib)
        bottom = cam.bottom_center
        for i, name in enumerate(ann.names):
            l, w, h = cam.dims[i].tolist()
            objects.append(KittiObject(
                type=name, truncated=float(ann.truncated[i]), occluded=int(ann.occluded[i]),
                alpha=float(wrap_angle(float(ann.alpha[i]))), bbox=tuple(ann.boxes2d.tensor[i].tolist()),
                dimensions=(h, w, l), location=tuple(bottom[i].tolist()), rotation_y=float(cam.yaw[i]),
                score=None if ann.scores is None else float(ann.scores[i])))
    for box in ann.dontcare.tensor.tolist():
        objects.append(KittiObject(type="DontCare", truncated=-1, occluded=-1, alpha=-10, bbox=tuple(box),
                                   dimensions=(-1, -1, -1), location=(-1000, -1000, -1000), rotation_y=-10))
    return objects


def read_frame(root: str | os.PathLike, sample_idx: str, *, split: str = "training",
               with_image: bool = True, with_labels: bool = True) -> Frame:
    """Read one frame of a KITTI-layout root into a :class:`Frame`.

    ``<root>/<split>/{velodyne,image_2,calib,label_2}/<sample_idx>.*``; labels are
    skipped (``annotations=None``) when ``with_labels`` is false or the split has
    no ``label_2`` directory (e.g. ``testing``).
    """
    base = os.path.join(os.fspath(root), split)
    points = torch.from_numpy(read_points(os.path.join(base, "velodyne", f"{sample_idx}.bin")))
    calib = read_calib(os.path.join(base, "calib", f"{sample_idx}.txt"))
    image = read_image(os.path.join(base, "image_2", f"{sample_idx}.png")) if with_image else None
    annotations = None
    label_dir = os.path.join(base, "label_2")
    if with_labels and os.path.isdir(label_dir):
        annotations = objects_to_annotations(read_label(os.path.join(label_dir, f"{sample_idx}.txt")), calib)
    return Frame(frame_id=sample_idx, points=points, calib=calib, image=image, annotations=annotations)
