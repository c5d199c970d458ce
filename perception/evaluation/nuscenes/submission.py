"""The nuScenes detection submission: LiDAR-frame detections -> the JSON the devkit evaluates, and its checks.

Format (https://www.nuscenes.org/object-detection, "results format")::

    {"meta": {"use_camera": bool, "use_lidar": bool, "use_radar": bool, "use_map": bool, "use_external": bool},
     "results": {sample_token: [
         {"sample_token": str,
          "translation": [x, y, z],          # box centre, global frame, metres
          "size": [w, l, h],                 # metres, all > 0 (note: width first)
          "rotation": [w, x, y, z],          # unit quaternion of the box frame (x along the length), global frame
          "velocity": [vx, vy],              # global frame, m/s
          "detection_name": str,             # one of the 10 detection classes
          "detection_score": float,
          "attribute_name": str},            # one of the class's attributes, or "" for barrier / traffic_cone
         ...], ...}}

Every sample of the evaluated split must have an entry (possibly an empty list), at most 500 boxes each.
"""
from __future__ import annotations

import json
import math
import os
from typing import Any, Iterable, Mapping, Optional, Sequence

import numpy as np

from perception.datasets.nuscenes_io import (DEFAULT_ATTRIBUTES, NUSCENES_CLASSES, class_attributes,
                                             lidar_to_global_boxes, rotate_velocities)
from perception.utils.fileio import atomic_write_text, read_json

__all__ = ["SubmissionError", "META_KEYS", "MAX_BOXES_PER_SAMPLE", "default_attribute", "detections_to_results",
           "build_submission", "validate_submission", "write_submission", "load_submission"]

#: Keys of the submission's ``meta`` (which inputs the method used).
META_KEYS = ("use_camera", "use_lidar", "use_radar", "use_map", "use_external")
#: The devkit's limit (``detection_cvpr_2019``: ``max_boxes_per_sample``).
MAX_BOXES_PER_SAMPLE = 500
_BOX_KEYS = ("sample_token", "translation", "size", "rotation", "velocity", "detection_name", "detection_score",
             "attribute_name")
_VEHICLES = ("car", "construction_vehicle", "bus", "truck", "trailer")
_CYCLES = ("bicycle", "motorcycle")


class SubmissionError(ValueError):
    """A submission is malformed; the message names the sample token, box index and field at fault."""


def default_attribute(name: str, velocity: Optional[Sequence[float]] = None) -> str:
    """The attribute of a detection of class ``name`` whose model predicts none (mmdet3d's rule).

    Faster than 0.2 m/s: vehicles are ``vehicle.moving``, bicycles and motorcycles ``cycle.with_rider``;
    slower: pedestrians are ``pedestrian.standing`` and buses ``vehicle.stopped``; otherwise the class default
    (:data:`~perception.datasets.nuscenes_io.DEFAULT_ATTRIBUTES`).  Without a velocity: the class default.
    """
    if name not in DEFAULT_ATTRIBUTES:
        raise SubmissionError(f"unknown detection class {name!r}; expected one of {NUSCENES_CLASSES}")
    if velocity is not None and np.all(np.isfinite(velocity)):
        if math.hypot(float(velocity[0]), float(velocity[1])) > 0.2:
            if name in _VEHICLES:
                return "vehicle.moving"
            if name in _CYCLES:
                return "cycle.with_rider"
        elif name == "pedestrian":
            return "pedestrian.standing"
        elif name == "bus":
            return "vehicle.stopped"
    return DEFAULT_ATTRIBUTES[name]


def detections_to_results(sample_token: str, boxes: np.ndarray, scores: np.ndarray, names: Sequence[str],
                          lidar2global: np.ndarray, *, velocities: Optional[np.ndarray] = None,
                          attributes: Optional[Sequence[str]] = None) -> list[dict]:
    """One sample's detections as submission boxes (global frame).

    Args:
        sample_token: the sample.
        boxes: ``(N, 7)`` ``[x, y, z, l, w, h, yaw]`` in the sample's LiDAR frame (geometric centre).
        scores: ``(N,)`` confidences; names: ``N`` detection class names.
        lidar2global: ``(4, 4)`` the sample's LiDAR -> global transform (``ego2global @ lidar2ego``).
        velocities: ``(N, 2)`` LiDAR-frame ``[vx, vy]`` (m/s), or ``None``: reported as 0 (static).
        attributes: ``N`` attribute names, or ``None``: :func:`default_attribute` of class and velocity.
    """
    boxes = np.asarray(boxes, np.float64).reshape(-1, 7)
    n = len(boxes)
    scores = np.asarray(scores, np.float64).reshape(-1)
    names = list(names)
    if len(scores) != n or len(names) != n:
        raise SubmissionError(f"sample {sample_token}: {n} boxes, {len(scores)} scores, {len(names)} names; they "
                              f"must match")
    translation, size, rotation = lidar_to_global_boxes(boxes, lidar2global)
    if velocities is None:
        vel = np.zeros((n, 2))
    else:
        vel = rotate_velocities(np.asarray(velocities, np.float64).reshape(n, 2), lidar2global)
    out = []
    for i in range(n):
        attribute = attributes[i] if attributes is not None else default_attribute(
            names[i], vel[i] if velocities is not None else None)
        out.append({"sample_token": sample_token, "translation": translation[i].tolist(), "size": size[i].tolist(),
                    "rotation": rotation[i].tolist(), "velocity": vel[i].tolist(), "detection_name": names[i],
                    "detection_score": float(scores[i]), "attribute_name": attribute})
    return out


def build_submission(results: Mapping[str, list[dict]], *, use_camera: bool = False, use_lidar: bool = True,
                     use_radar: bool = False, use_map: bool = False, use_external: bool = False) -> dict:
    """``{'meta': {...}, 'results': {token: boxes}}`` (see the module docstring)."""
    meta = {"use_camera": use_camera, "use_lidar": use_lidar, "use_radar": use_radar, "use_map": use_map,
            "use_external": use_external}
    return {"meta": meta, "results": {str(k): list(v) for k, v in results.items()}}


def _numbers(value: Any, n: int) -> Optional[np.ndarray]:
    if not isinstance(value, (list, tuple)) or len(value) != n:
        return None
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
        return None
    return np.asarray(value, np.float64)


def _check_box(box: Any, where: str, token: str) -> None:
    if not isinstance(box, dict):
        raise SubmissionError(f"{where}: a box must be an object with fields {list(_BOX_KEYS)}, got "
                              f"{type(box).__name__}")
    missing = [k for k in _BOX_KEYS if k not in box]
    if missing:
        raise SubmissionError(f"{where}: missing field(s) {', '.join(missing)}")
    if box["sample_token"] != token:
        raise SubmissionError(f"{where}['sample_token']: {box['sample_token']!r} differs from the results key "
                              f"{token!r}")
    t = _numbers(box["translation"], 3)
    if t is None or not np.isfinite(t).all():
        raise SubmissionError(f"{where}['translation']: expected 3 finite numbers [x, y, z] (global frame, m), got "
                              f"{box['translation']!r}")
    s = _numbers(box["size"], 3)
    if s is None or not np.isfinite(s).all() or (s <= 0).any():
        raise SubmissionError(f"{where}['size']: expected 3 positive finite numbers [w, l, h] (m), got "
                              f"{box['size']!r}")
    q = _numbers(box["rotation"], 4)
    if q is None or not np.isfinite(q).all() or abs(np.linalg.norm(q) - 1.0) > 1e-3:
        raise SubmissionError(f"{where}['rotation']: expected a unit quaternion [w, x, y, z] (4 finite numbers, "
                              f"norm 1), got {box['rotation']!r}")
    v = _numbers(box["velocity"], 2)
    if v is None or np.isinf(v).any():
        raise SubmissionError(f"{where}['velocity']: expected 2 numbers [vx, vy] (global frame, m/s; NaN for "
                              f"unknown), got {box['velocity']!r}")
    name = box["detection_name"]
    if name not in NUSCENES_CLASSES:
        raise SubmissionError(f"{where}['detection_name']: unknown class {name!r}; expected one of "
                              f"{NUSCENES_CLASSES}")
    score = box["detection_score"]
    if not isinstance(score, (int, float)) or isinstance(score, bool) or not math.isfinite(score):
        raise SubmissionError(f"{where}['detection_score']: expected a finite number, got {score!r}")
    attribute = box["attribute_name"]
    allowed = class_attributes(name)
    if not (attribute == "" or attribute in allowed):
        raise SubmissionError(f"{where}['attribute_name']: {attribute!r} is not an attribute of {name!r} "
                              f"(expected one of {list(allowed)} or '')")


def validate_submission(submission: Any, *, sample_tokens: Optional[Iterable[str]] = None,
                        max_boxes_per_sample: int = MAX_BOXES_PER_SAMPLE, source: str = "submission") -> None:
    """Check a submission completely (format in the module docstring).

    Args:
        sample_tokens: when given, ``results`` must hold exactly these samples (every one, no other).
        source: how messages name the submission (e.g. its file).

    Raises:
        SubmissionError: naming the field (``results[token][i]['size']``), the missing or extra sample tokens.
    """
    if not isinstance(submission, dict):
        raise SubmissionError(f"{source}: expected an object with 'meta' and 'results', got "
                              f"{type(submission).__name__}")
    for key in ("meta", "results"):
        if key not in submission:
            raise SubmissionError(f"{source}: missing top-level field {key!r} (expected 'meta' and 'results')")
    meta = submission["meta"]
    if not isinstance(meta, dict) or [k for k in META_KEYS if not isinstance(meta.get(k), bool)]:
        raise SubmissionError(f"{source}['meta']: expected booleans {list(META_KEYS)}, got {meta!r}")
    results = submission["results"]
    if not isinstance(results, dict):
        raise SubmissionError(f"{source}['results']: expected an object {{sample_token: [boxes]}}, got "
                              f"{type(results).__name__}")
    for token, boxes in results.items():
        where = f"{source}['results'][{token!r}]"
        if not isinstance(boxes, list):
            raise SubmissionError(f"{where}: expected a list of boxes, got {type(boxes).__name__}")
        if len(boxes) > max_boxes_per_sample:
            raise SubmissionError(f"{where}: {len(boxes)} boxes, at most {max_boxes_per_sample} are allowed per "
                                  f"sample (keep the highest-scoring ones)")
        for i, box in enumerate(boxes):
            _check_box(box, f"{where}[{i}]", token)
    if sample_tokens is not None:
        wanted = list(dict.fromkeys(sample_tokens))
        missing = [t for t in wanted if t not in results]
        if missing:
            raise SubmissionError(f"{source}['results']: {len(missing)} of the {len(wanted)} evaluated samples "
                                  f"have no entry (e.g. sample_token {missing[0]!r}); give every sample an entry, "
                                  f"an empty list when nothing was detected")
        extra = sorted(set(results) - set(wanted))
        if extra:
            raise SubmissionError(f"{source}['results']: {len(extra)} sample token(s) are not among the "
                                  f"{len(wanted)} evaluated samples (e.g. {extra[0]!r})")


def write_submission(path: str | os.PathLike, submission: dict) -> None:
    """Validate, then write the submission JSON atomically."""
    validate_submission(submission, source=os.fspath(path))
    atomic_write_text(path, json.dumps(submission, allow_nan=True) + "\n")


def load_submission(path: str | os.PathLike) -> dict:
    """Read a submission JSON (not yet validated); unreadable JSON raises :class:`SubmissionError` naming the
    file, line and column."""
    return read_json(path, "submission file", SubmissionError, missing=FileNotFoundError)
