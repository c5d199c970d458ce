"""JSON Lines files of :class:`~perception.structures.FusedDetections`: everything the stack outputs, one frame a line.

:func:`write_jsonl` writes one JSON object per frame, one frame per line (UTF-8, ``\\n``-terminated, compact);
:func:`read_jsonl` rebuilds the frames.  The file is written atomically (a failed write leaves no file, and an
existing file is left untouched).

Line schema (``null`` stands for a value the sensors did not measure, i.e. a NaN in memory)::

    {"version": 1,
     "frame_id": str,
     "image_size": [H, W],                        # camera-2 image, pixels (ints > 0)
     "calib": {"P": [4 x [3 x [4 numbers]]],      # KittiCalibration's matrices, as nested lists of float64
               "R0_rect": [3 x [3 numbers]],      # (written with full precision: the reader rebuilds the
               "Tr_velo_to_cam": [3 x [4 numbers]],   # calibration bit for bit)
               "Tr_imu_to_velo": [3 x [4 numbers]] | null},
     "panoptic_size": [H, W] | null,              # shape of the panoptic id map; null: no panoptic model ran
     "objects": [                                 # in the order of the FusedDetections
        {"name": str,                             # KITTI type: "Car", "Pedestrian", "Cyclist"
         "score": number,                         # fused confidence
         "sensors": [str, ...],                   # non-empty, from "lidar", "camera", "panoptic"
         "box3d": [x, y, z, l, w, h, yaw] | null, # LiDAR frame, metres / radians; null for camera-only objects
         "box2d": [x1, y1, x2, y2] | null,        # camera-2 pixels; null for objects outside the image
         "lidar_score": number | null,            # the LiDAR detector's score; null where it missed the object
         "camera_score": number | null,           # the 2D detector's score; null where it missed the object
         "depth_range": [near, far] | null,       # camera z (m) of a camera-only object's frustum
         "panoptic_id": int,                      # segment id in the panoptic id map, 0 for none
         "segment": null | {                      # the matched segment; present exactly when panoptic_id > 0
             "category_id": int,                  # COCO category id
             "isthing": bool,
             "score": number,                     # the segment's confidence
             "mask": {"size": [H, W], "counts": str}}},   # COCO compressed RLE (pycocotools), size = panoptic_size
        ...]}

Numbers are finite (``NaN``/``Infinity`` are never written and are rejected on reading); keys not listed are
ignored on reading.  Blank lines are skipped.

**What is not stored:** only the segments matched to an object are kept.  The reader rebuilds
:attr:`FusedDetections.panoptic` as an id map of ``panoptic_size`` holding just those segments' masks (every
other pixel is 0, void) with one :class:`~perception.structures.PanopticSegment` each (``area`` recomputed
from the mask), so ``result.mask(i)`` round-trips exactly, but stuff segments and unmatched things of the
original segmentation are lost.

Reading errors are :class:`~perception.fusion.formats.errors.FusedFormatError` naming the file, the line, the
field and its expected form.
"""
from __future__ import annotations

import json
import math
import os
from typing import Any, Optional, Sequence

import numpy as np
import pycocotools.mask as mask_util
import torch

from perception.structures.calibration import CalibrationError, KittiCalibration
from perception.structures.fused_detections import FusedDetections, Sensor
from perception.structures.panoptic_result import PanopticResult, PanopticSegment
from perception.utils.fileio import atomic_open

from .errors import FusedFormatError

__all__ = ["FORMAT_VERSION", "write_jsonl", "read_jsonl", "frame_to_dict", "frame_from_dict"]

#: The ``version`` written in every line; the reader accepts only this one.
FORMAT_VERSION = 1
_SENSOR_BY_NAME = {s.name.lower(): s for s in Sensor}
_ALL_SENSOR_BITS = sum(int(s) for s in Sensor)


# ============================================================================================ writing
def _row_or_none(row: np.ndarray, *, frame_id: str, index: int, field: str) -> Optional[list[float]]:
    """A box / score / range row as a list of floats, ``None`` when all of it is NaN; a partly NaN or infinite
    row is an error (FusedDetections' convention is "all or nothing")."""
    values = np.asarray(row, dtype=np.float64).reshape(-1)
    if np.isnan(values).all():
        return None
    if not np.isfinite(values).all():
        raise ValueError(f"FusedDetections {frame_id!r}: object {index} field {field!r} is partly NaN or infinite "
                         f"({values.tolist()}); a value is either all finite or all NaN (not measured)")
    return [float(v) for v in values.tolist()]


def _scalar_or_none(value: np.ndarray, *, frame_id: str, index: int, field: str) -> Optional[float]:
    """A single-sensor score as a float, ``None`` when NaN."""
    row = _row_or_none(value, frame_id=frame_id, index=index, field=field)
    return None if row is None else row[0]


def _rle(mask: np.ndarray) -> dict:
    """COCO compressed RLE of an ``(H, W)`` bool mask, ``counts`` as str."""
    rle = mask_util.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": [int(rle["size"][0]), int(rle["size"][1])], "counts": rle["counts"].decode("ascii")}


def frame_to_dict(result: FusedDetections) -> dict:
    """The JSON object of one frame (the line schema of the module docstring).

    Raises:
        ValueError: a score is not finite, a row is partly NaN, or a sensor flag is unknown (naming the frame,
            object and field).
    """
    if not isinstance(result, FusedDetections):
        raise TypeError(f"expected a FusedDetections, got {type(result).__name__}")
    fid = result.frame_id
    calib = result.calib
    panoptic = result.panoptic
    segments = {s.id: s for s in panoptic.segments} if panoptic is not None else {}
    def host(t: torch.Tensor) -> np.ndarray:   # one conversion per field, not one per object
        return t.detach().cpu().double().numpy()

    boxes3d, boxes2d = host(result.boxes3d.tensor), host(result.boxes2d.tensor)
    lidar_scores, camera_scores, depth_range = host(result.lidar_scores), host(result.camera_scores), host(
        result.depth_range)
    objects = []
    for i, name in enumerate(result.names):
        score = float(result.scores[i])
        if not math.isfinite(score):
            raise ValueError(f"FusedDetections {fid!r}: object {i} field 'score' must be finite, got {score}")
        flags = int(result.sensors[i])
        if flags <= 0 or flags & ~_ALL_SENSOR_BITS:
            raise ValueError(f"FusedDetections {fid!r}: object {i} field 'sensors' = {flags} is not a combination "
                             f"of {[f'{s.name}={int(s)}' for s in Sensor]}")
        pid = int(result.panoptic_ids[i])
        segment = None
        if pid > 0:
            if pid not in segments:
                raise ValueError(f"FusedDetections {fid!r}: object {i} panoptic_id {pid} is not a segment of the "
                                 f"panoptic result (ids {sorted(segments)})")
            seg = segments[pid]
            segment = {"category_id": int(seg.category_id), "isthing": bool(seg.isthing), "score": float(seg.score),
                       "mask": _rle(result.mask(i))}
        objects.append({
            "name": str(name), "score": score, "sensors": result.sensor_names(i),
            "box3d": _row_or_none(boxes3d[i], frame_id=fid, index=i, field="box3d"),
            "box2d": _row_or_none(boxes2d[i], frame_id=fid, index=i, field="box2d"),
            "lidar_score": _scalar_or_none(lidar_scores[i], frame_id=fid, index=i, field="lidar_score"),
            "camera_score": _scalar_or_none(camera_scores[i], frame_id=fid, index=i, field="camera_score"),
            "depth_range": _row_or_none(depth_range[i], frame_id=fid, index=i, field="depth_range"),
            "panoptic_id": pid, "segment": segment,
        })
    return {
        "version": FORMAT_VERSION, "frame_id": str(fid),
        "image_size": [int(result.image_size[0]), int(result.image_size[1])],
        "calib": {"P": calib.P.tolist(), "R0_rect": calib.R0_rect.tolist(),
                  "Tr_velo_to_cam": calib.Tr_velo_to_cam.tolist(),
                  "Tr_imu_to_velo": None if calib.Tr_imu_to_velo is None else calib.Tr_imu_to_velo.tolist()},
        "panoptic_size": None if panoptic is None else [int(panoptic.ids.shape[0]), int(panoptic.ids.shape[1])],
        "objects": objects,
    }


def write_jsonl(path: str | os.PathLike, results: Sequence[FusedDetections]) -> None:
    """Write ``results`` to ``path``, one frame per line (schema in the module docstring), atomically.

    Args:
        path: the ``.jsonl`` file (its directory is created).
        results: the frames, written in order; an empty sequence writes an empty file.

    Raises:
        TypeError: an item is not a :class:`FusedDetections`.
        ValueError: a frame holds a value the format cannot represent (see :func:`frame_to_dict`); ``path`` is
            then not written.
    """
    if isinstance(results, FusedDetections):
        raise TypeError("write_jsonl expects a sequence of FusedDetections; wrap a single frame in a list")
    with atomic_open(path, "w") as f:
        for result in results:
            f.write(json.dumps(frame_to_dict(result), allow_nan=False, separators=(",", ":")) + "\n")


# ============================================================================================ reading
class _Where:
    """Formats errors as ``<file>:<line>: field '<field>': expected <form>, got <value>``."""

    def __init__(self, path: str, line: int):
        self.path, self.line = path, line

    def error(self, field: str, expected: str, got: Any = None, *, show_got: bool = True) -> FusedFormatError:
        shown = json.dumps(got, allow_nan=True) if show_got else ""
        if len(shown) > 80:
            shown = shown[:77] + "..."
        tail = f", got {shown}" if show_got else ""
        return FusedFormatError(f"{self.path}:{self.line}: field {field!r}: expected {expected}{tail}")

    def field(self, obj: dict, key: str, prefix: str = "") -> Any:
        if key not in obj:
            raise FusedFormatError(f"{self.path}:{self.line}: missing field {prefix + key!r} (expected "
                                   f"{_EXPECTED[key]}; see the line schema of perception.fusion.formats.jsonl)")
        return obj[key]


#: The form of every field, for "missing field" messages.
_EXPECTED = {
    "version": str(FORMAT_VERSION), "frame_id": "a string", "image_size": "[H, W]",
    "calib": "an object {P, R0_rect, Tr_velo_to_cam, Tr_imu_to_velo}", "P": "4 3x4 matrices",
    "R0_rect": "a 3x3 matrix", "Tr_velo_to_cam": "a 3x4 matrix", "panoptic_size": "[H, W] or null",
    "objects": "a list of objects", "name": "a class name", "score": "a finite number",
    "sensors": f"a list of sensor names from {list(_SENSOR_BY_NAME)}",
    "box3d": "[x, y, z, l, w, h, yaw] (LiDAR frame) or null", "box2d": "[x1, y1, x2, y2] (pixels) or null",
    "lidar_score": "a number or null", "camera_score": "a number or null",
    "depth_range": "[near, far] (camera z, m) or null", "panoptic_id": "an integer >= 0",
    "segment": "an object {category_id, isthing, score, mask} or null", "category_id": "an integer",
    "isthing": "true or false", "mask": "a COCO RLE {size, counts}",
}


def _is_number(v: Any) -> bool:
    if not isinstance(v, (int, float)) or isinstance(v, bool):
        return False
    try:
        return math.isfinite(v)
    except OverflowError:  # an int beyond float64
        return False


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _number(value: Any, w: _Where, field: str, expected: str) -> float:
    if not _is_number(value):
        raise w.error(field, expected, value)
    return float(value)


def _optional_number(value: Any, w: _Where, field: str, expected: str) -> float:
    return math.nan if value is None else _number(value, w, field, expected + " or null")


def _matrix(value: Any, shape: tuple[int, ...], w: _Where, field: str, expected: str) -> np.ndarray:
    """A nested list of finite numbers of exactly ``shape``, as float64."""
    def ok(v: Any, dims: tuple[int, ...]) -> bool:
        if not dims:
            return _is_number(v)
        return isinstance(v, list) and len(v) == dims[0] and all(ok(x, dims[1:]) for x in v)

    if not ok(value, shape):
        raise w.error(field, expected, value)
    return np.asarray(value, dtype=np.float64).reshape(shape)


def _optional_row(value: Any, n: int, w: _Where, field: str, expected: str) -> np.ndarray:
    if value is None:
        return np.full(n, np.nan)
    return _matrix(value, (n,), w, field, expected + " or null")


def _size(value: Any, w: _Where, field: str) -> tuple[int, int]:
    if not (isinstance(value, list) and len(value) == 2 and all(_is_int(v) and v > 0 for v in value)):
        raise w.error(field, "[H, W], two integers > 0", value)
    return int(value[0]), int(value[1])


def _rle_counts(counts: str) -> list[int]:
    """Run lengths of a COCO compressed RLE string (pycocotools' ``rleFrString``), ``ValueError`` when
    malformed (pycocotools itself does not check, and decodes garbage)."""
    out: list[int] = []
    p = 0
    while p < len(counts):
        x, k, more = 0, 0, True
        while more:
            if p >= len(counts):
                raise ValueError("the string ends inside a run length")
            c = ord(counts[p]) - 48
            if not 0 <= c < 64:
                raise ValueError(f"character {counts[p]!r} at {p} is outside '0'..'o'")
            x |= (c & 0x1F) << (5 * k)
            more = bool(c & 0x20)
            p += 1
            k += 1
            if not more and c & 0x10:
                x |= -1 << (5 * k)
        if len(out) > 2:
            x += out[-2]
        if x < 0:
            raise ValueError(f"run {len(out)} has a negative length")
        out.append(x)
    return out


def _mask(value: Any, size: tuple[int, int], w: _Where, field: str) -> np.ndarray:
    expected = (f"COCO RLE {{\"size\": [{size[0]}, {size[1]}], \"counts\": str}} (pycocotools, compressed; size = "
                f"panoptic_size)")
    if not isinstance(value, dict) or not isinstance(value.get("counts"), str) or value.get("size") != list(size):
        raise w.error(field, expected, value)
    try:
        runs = _rle_counts(value["counts"])
    except ValueError as exc:
        raise w.error(field + ".counts", f"{expected}; the counts are malformed: {exc}", show_got=False) from None
    if sum(runs) != size[0] * size[1]:
        raise w.error(field + ".counts", f"{expected}; the run lengths sum to {sum(runs)} pixels, not "
                      f"{size[0]}x{size[1]} = {size[0] * size[1]}", show_got=False)
    return mask_util.decode({"size": list(size), "counts": value["counts"].encode("ascii")}).astype(bool)


def _calibration(value: Any, w: _Where) -> KittiCalibration:
    if not isinstance(value, dict):
        raise w.error("calib", "an object with 'P', 'R0_rect', 'Tr_velo_to_cam', 'Tr_imu_to_velo'", value)
    p = _matrix(w.field(value, "P", "calib."), (4, 3, 4), w, "calib.P", "4 3x4 matrices (nested lists of numbers)")
    r0 = _matrix(w.field(value, "R0_rect", "calib."), (3, 3), w, "calib.R0_rect", "a 3x3 matrix (nested lists)")
    tr = _matrix(w.field(value, "Tr_velo_to_cam", "calib."), (3, 4), w, "calib.Tr_velo_to_cam",
                 "a 3x4 matrix (nested lists)")
    imu = value.get("Tr_imu_to_velo")
    if imu is not None:
        imu = _matrix(imu, (3, 4), w, "calib.Tr_imu_to_velo", "a 3x4 matrix (nested lists) or null")
    try:
        return KittiCalibration(P=p, R0_rect=r0, Tr_velo_to_cam=tr, Tr_imu_to_velo=imu)
    except CalibrationError as exc:
        raise FusedFormatError(f"{w.path}:{w.line}: field 'calib': {exc}") from None


def _sensors(value: Any, w: _Where, field: str) -> int:
    expected = f"a non-empty list of distinct sensor names from {list(_SENSOR_BY_NAME)}"
    if not (isinstance(value, list) and value and all(isinstance(v, str) and v in _SENSOR_BY_NAME for v in value)
            and len(set(value)) == len(value)):
        raise w.error(field, expected, value)
    flags = 0
    for v in value:
        flags |= int(_SENSOR_BY_NAME[v])
    return flags


def frame_from_dict(line: Any, *, path: str = "<frame>", lineno: int = 0) -> FusedDetections:
    """Rebuild a frame from its JSON object (the line schema of the module docstring).

    Raises:
        FusedFormatError: naming ``path``, ``lineno``, the field and the expected form.
    """
    w = _Where(path, lineno)
    if not isinstance(line, dict):
        raise FusedFormatError(f"{path}:{lineno}: expected a JSON object (one frame), got {type(line).__name__}")
    version = w.field(line, "version")
    if version != FORMAT_VERSION:
        raise w.error("version", f"{FORMAT_VERSION} (the only version this reader knows)", version)
    frame_id = w.field(line, "frame_id")
    if not isinstance(frame_id, str):
        raise w.error("frame_id", "a string", frame_id)
    image_size = _size(w.field(line, "image_size"), w, "image_size")
    calib = _calibration(w.field(line, "calib"), w)
    pan_size = w.field(line, "panoptic_size")
    pan_size = None if pan_size is None else _size(pan_size, w, "panoptic_size")
    objects = w.field(line, "objects")
    if not isinstance(objects, list):
        raise w.error("objects", "a list of objects", objects)

    n = len(objects)
    names: list[str] = []
    scores, lidar_scores, camera_scores = np.zeros(n), np.zeros(n), np.zeros(n)
    sensors, panoptic_ids = np.zeros(n, np.int64), np.zeros(n, np.int64)
    boxes3d, boxes2d, depth_range = np.zeros((n, 7)), np.zeros((n, 4)), np.zeros((n, 2))
    ids = None if pan_size is None else np.zeros(pan_size, np.int64)
    segments: dict[int, tuple[PanopticSegment, np.ndarray]] = {}
    for i, obj in enumerate(objects):
        pre = f"objects[{i}]."
        if not isinstance(obj, dict):
            raise w.error(f"objects[{i}]", "an object (one detection)", obj)
        name = w.field(obj, "name", pre)
        if not isinstance(name, str) or not name:
            raise w.error(pre + "name", "a non-empty string (class name)", name)
        names.append(name)
        scores[i] = _number(w.field(obj, "score", pre), w, pre + "score", "a finite number (fused score)")
        sensors[i] = _sensors(w.field(obj, "sensors", pre), w, pre + "sensors")
        boxes3d[i] = _optional_row(w.field(obj, "box3d", pre), 7, w, pre + "box3d",
                                   "7 finite numbers [x, y, z, l, w, h, yaw] (LiDAR frame, m, rad)")
        boxes2d[i] = _optional_row(w.field(obj, "box2d", pre), 4, w, pre + "box2d",
                                   "4 finite numbers [x1, y1, x2, y2] (camera-2 pixels)")
        lidar_scores[i] = _optional_number(w.field(obj, "lidar_score", pre), w, pre + "lidar_score",
                                           "a finite number")
        camera_scores[i] = _optional_number(w.field(obj, "camera_score", pre), w, pre + "camera_score",
                                            "a finite number")
        depth_range[i] = _optional_row(w.field(obj, "depth_range", pre), 2, w, pre + "depth_range",
                                       "2 finite numbers [near, far] (camera z, m)")
        pid = w.field(obj, "panoptic_id", pre)
        if not (_is_int(pid) and pid >= 0):
            raise w.error(pre + "panoptic_id", "an integer >= 0 (0: no segment)", pid)
        segment = w.field(obj, "segment", pre)
        if pid == 0:
            if segment is not None:
                raise w.error(pre + "segment", "null (panoptic_id is 0)", segment)
            continue
        if ids is None:
            raise w.error(pre + "panoptic_id", "0 (panoptic_size is null: the frame has no panoptic result)", pid)
        if not isinstance(segment, dict):
            raise w.error(pre + "segment", "an object {category_id, isthing, score, mask} (panoptic_id > 0)",
                          segment)
        seg_pre = pre + "segment."
        category = w.field(segment, "category_id", seg_pre)
        if not _is_int(category):
            raise w.error(seg_pre + "category_id", "an integer (COCO category id)", category)
        isthing = w.field(segment, "isthing", seg_pre)
        if not isinstance(isthing, bool):
            raise w.error(seg_pre + "isthing", "true or false", isthing)
        seg_score = _number(w.field(segment, "score", seg_pre), w, seg_pre + "score", "a finite number")
        mask = _mask(w.field(segment, "mask", seg_pre), pan_size, w, seg_pre + "mask")
        record = PanopticSegment(id=int(pid), category_id=int(category), isthing=isthing, area=int(mask.sum()),
                                 score=seg_score)
        if pid in segments:  # several objects matched to one segment: the copies must agree
            if segments[pid][0] != record or not np.array_equal(segments[pid][1], mask):
                raise w.error(pre + "segment", f"the same segment as the other objects with panoptic_id {pid}",
                              show_got=False)
            panoptic_ids[i] = pid
            continue
        if (ids[mask] != 0).any():
            raise w.error(seg_pre + "mask", "a mask disjoint from the other segments' masks (one segment per pixel)",
                          show_got=False)
        ids[mask] = pid
        segments[pid] = (record, mask)
        panoptic_ids[i] = pid

    panoptic = None
    if ids is not None:
        panoptic = PanopticResult(ids=ids, segments=[segments[k][0] for k in sorted(segments)])
    return FusedDetections.build(
        frame_id=frame_id, calib=calib, image_size=image_size, names=names,
        scores=torch.from_numpy(scores), sensors=torch.from_numpy(sensors), boxes3d=torch.from_numpy(boxes3d),
        boxes2d=torch.from_numpy(boxes2d), lidar_scores=torch.from_numpy(lidar_scores),
        camera_scores=torch.from_numpy(camera_scores), panoptic_ids=torch.from_numpy(panoptic_ids),
        depth_range=torch.from_numpy(depth_range), panoptic=panoptic)


def read_jsonl(path: str | os.PathLike) -> list[FusedDetections]:
    """Read a file written by :func:`write_jsonl`: one :class:`FusedDetections` per (non-blank) line, in order.

    The panoptic result of a frame holds only the objects' segments (see the module docstring).

    Raises:
        FileNotFoundError: ``path`` does not exist.
        FusedFormatError: a line is not valid JSON (e.g. a truncated file) or a field is missing or malformed;
            the message names the file, the line, the field and its expected form.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: fused detections file not found")
    frames = []
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, start=1):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise FusedFormatError(f"{path}:{lineno}: not UTF-8 text ({exc})") from None
            if not text.strip():
                continue
            try:
                line = json.loads(text)
            except json.JSONDecodeError as exc:
                raise FusedFormatError(
                    f"{path}:{lineno}: not valid JSON ({exc.msg} at column {exc.colno}); every line must be one "
                    f"complete JSON object (is the file truncated?)") from None
            frames.append(frame_from_dict(line, path=path, lineno=lineno))
    return frames
