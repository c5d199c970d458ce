"""nuScenes detection submissions of :class:`~perception.structures.FusedDetections`.

The submission format (see :mod:`perception.evaluation.nuscenes.submission`) carries only 3D boxes in the
global frame, a class, a score, a velocity and an attribute per detection.  Hence:

* **writing** keeps only the objects with a 3D box: camera-only objects (NaN ``boxes3d`` rows) are left out,
  and :func:`write_nuscenes` returns (and logs) how many were.  Names go through a class map (KITTI type ->
  nuScenes class, :data:`SIM_TO_NUSCENES` by default); the velocity is reported as 0 and the attribute is the
  class default (:func:`~perception.evaluation.nuscenes.default_attribute`), as FusedDetections has neither;
* **reading** turns the boxes back to each sample's LiDAR frame (``[x, y, z, l, w, h, yaw]``, yaw in
  ``(-pi, pi]``) and maps class names back; every object gets ``sensors = LIDAR`` and its ``detection_score``
  as fused score; 2D boxes, single-sensor scores and depth ranges are NaN and there is no panoptic result.
"""
from __future__ import annotations

import logging
import os
from typing import Mapping, Sequence

import numpy as np
import torch

from perception.datasets.nuscenes_io import global_to_lidar_boxes
from perception.evaluation.nuscenes.submission import (SubmissionError, build_submission, detections_to_results,
                                                        load_submission, validate_submission, write_submission)
from perception.structures.calibration import KittiCalibration
from perception.structures.fused_detections import FusedDetections, Sensor

from .errors import FusedFormatError

__all__ = ["SIM_TO_NUSCENES", "fused_to_submission_results", "write_nuscenes", "read_nuscenes"]

logger = logging.getLogger(__name__)

#: Class map of our simulated benchmark: KITTI type -> nuScenes detection class.
SIM_TO_NUSCENES: Mapping[str, str] = {"Car": "car", "Pedestrian": "pedestrian", "Cyclist": "bicycle"}


def _transform(matrix: np.ndarray, what: str) -> np.ndarray:
    m = np.asarray(matrix, np.float64)
    if m.shape != (4, 4) or not np.isfinite(m).all():
        raise ValueError(f"{what}: expected a finite (4, 4) LiDAR -> global transform, got shape {m.shape}")
    return m


def fused_to_submission_results(result: FusedDetections, sample_token: str, lidar2global: np.ndarray,
                                class_map: Mapping[str, str] = SIM_TO_NUSCENES) -> list[dict]:
    """One frame's objects with a 3D box as submission boxes (global frame).

    Args:
        result: the frame; its objects without a 3D box (camera-only) are left out, so the list may be shorter
            than ``result`` (``len(result) - len(out)`` objects were left out).
        sample_token: the nuScenes sample of the frame.
        lidar2global: ``(4, 4)`` the sample's LiDAR -> global transform (``ego2global @ lidar2ego``).
        class_map: ``result.names`` -> nuScenes detection class.

    Returns:
        The boxes of :func:`~perception.evaluation.nuscenes.detections_to_results` (velocity 0, default
        attribute), in object order.

    Raises:
        ValueError: ``lidar2global`` is not ``(4, 4)`` or a written object's class is not in ``class_map``.
    """
    l2g = _transform(lidar2global, f"sample {sample_token}")
    keep = result.has_box3d.nonzero().reshape(-1).tolist()
    names = []
    for i in keep:
        if result.names[i] not in class_map:
            raise ValueError(f"FusedDetections {result.frame_id!r} (sample {sample_token}): object {i} has class "
                             f"{result.names[i]!r}, which class_map does not map (it maps {sorted(class_map)})")
        names.append(class_map[result.names[i]])
    boxes = result.boxes3d.tensor[keep].detach().cpu().to(torch.float64).numpy().reshape(-1, 7)
    scores = result.scores[keep].detach().cpu().to(torch.float64).numpy().reshape(-1)
    return detections_to_results(sample_token, boxes, scores, names, l2g)


def write_nuscenes(path: str | os.PathLike, results: Sequence[FusedDetections], *, sample_tokens: Sequence[str],
                   lidar2global: Sequence[np.ndarray], class_map: Mapping[str, str] = SIM_TO_NUSCENES,
                   use_camera: bool = True) -> int:
    """Write ``results`` as a nuScenes detection submission (validated, atomically).

    Only objects with a 3D box are written (the format has no 2D boxes): camera-only objects are left out;
    their number is returned and logged.

    Args:
        path: the submission ``.json``.
        results: the frames; ``sample_tokens[k]`` and ``lidar2global[k]`` (``(4, 4)`` LiDAR -> global) belong
            to ``results[k]``.  Every sample gets an entry, an empty list when nothing is written.
        class_map: ``FusedDetections.names`` -> nuScenes detection class.
        use_camera: the submission's ``meta.use_camera`` (``use_lidar`` is always true).

    Returns:
        How many objects were left out (no 3D box), over all frames.

    Raises:
        ValueError: the lengths differ, a token repeats, or a class is not mapped.
        SubmissionError: the submission is invalid (e.g. a box with a non-positive size, more than 500 boxes in a
            sample); nothing is written then.
    """
    if isinstance(results, FusedDetections):
        raise TypeError("write_nuscenes expects a sequence of FusedDetections; wrap a single frame in a list")
    results, sample_tokens, lidar2global = list(results), list(sample_tokens), list(lidar2global)
    if not len(results) == len(sample_tokens) == len(lidar2global):
        raise ValueError(f"write_nuscenes: {len(results)} results, {len(sample_tokens)} sample_tokens and "
                         f"{len(lidar2global)} lidar2global transforms; they must match one to one")
    if len(set(sample_tokens)) != len(sample_tokens):
        dup = next(t for t in sample_tokens if sample_tokens.count(t) > 1)
        raise ValueError(f"write_nuscenes: sample token {dup!r} is given for more than one frame")
    boxes: dict[str, list[dict]] = {}
    left_out = 0
    for result, token, l2g in zip(results, sample_tokens, lidar2global):
        boxes[token] = fused_to_submission_results(result, token, l2g, class_map)
        left_out += len(result) - len(boxes[token])
    submission = build_submission(boxes, use_camera=use_camera, use_lidar=True)
    validate_submission(submission, sample_tokens=sample_tokens, source=os.fspath(path))
    write_submission(path, submission)
    total = sum(len(r) for r in results)
    logger.info("%s: wrote %d of %d objects in %d samples; left out %d without a 3D box (camera-only; the nuScenes "
                "format carries only 3D boxes)", os.fspath(path), total - left_out, total, len(results), left_out)
    return left_out


def read_nuscenes(path: str | os.PathLike, *, lidar2global: Mapping[str, np.ndarray],
                  calibs: Mapping[str, KittiCalibration], image_sizes: Mapping[str, Sequence[int]],
                  class_map: Mapping[str, str] = SIM_TO_NUSCENES) -> dict[str, FusedDetections]:
    """Read a nuScenes detection submission back into one :class:`FusedDetections` per sample.

    Args:
        path: the submission ``.json``.
        lidar2global: sample token -> ``(4, 4)`` LiDAR -> global transform; boxes are turned back to the LiDAR
            frame with its inverse.
        calibs: sample token -> the frame's calibration; image_sizes: sample token -> ``(height, width)``.
        class_map: our class -> nuScenes class, as given to :func:`write_nuscenes` (inverted here; it must be
            one to one).

    Returns:
        Sample token -> frame (``frame_id`` = the token), in the file's order.  Boxes ``(N, 7)`` LiDAR frame;
        ``sensors`` LIDAR; ``scores`` the detection scores; 2D boxes, single-sensor scores and depth ranges NaN;
        ``panoptic`` None.  Velocities and attributes are not kept.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        FusedFormatError: the file is not a valid submission (naming the file, sample token, box and field), a
            class has no inverse in ``class_map``, or a sample lacks its transform, calibration or image size.
    """
    path = os.fspath(path)
    inverse: dict[str, str] = {}
    for ours, theirs in class_map.items():
        if theirs in inverse:
            raise ValueError(f"class_map maps both {inverse[theirs]!r} and {ours!r} to {theirs!r}; reading needs a "
                             f"one-to-one map")
        inverse[theirs] = ours
    try:
        submission = load_submission(path)
        validate_submission(submission, source=path)
    except SubmissionError as exc:
        raise FusedFormatError(str(exc)) from None
    out: dict[str, FusedDetections] = {}
    for token, dets in submission["results"].items():
        for what, table in (("lidar2global", lidar2global), ("calibs", calibs), ("image_sizes", image_sizes)):
            if token not in table:
                raise FusedFormatError(f"{path}: sample token {token!r} has no entry in {what}")
        names = []
        for i, det in enumerate(dets):
            if det["detection_name"] not in inverse:
                raise FusedFormatError(
                    f"{path}['results'][{token!r}][{i}]['detection_name']: {det['detection_name']!r} is not mapped "
                    f"back by class_map (expected one of {sorted(inverse)}; pass a class_map that covers it)")
            names.append(inverse[det["detection_name"]])
        n = len(dets)
        l2g = _transform(lidar2global[token], f"lidar2global[{token!r}]")
        boxes = global_to_lidar_boxes(np.array([d["translation"] for d in dets], np.float64).reshape(n, 3),
                                      np.array([d["size"] for d in dets], np.float64).reshape(n, 3),
                                      np.array([d["rotation"] for d in dets], np.float64).reshape(n, 4), l2g)
        scores = np.array([d["detection_score"] for d in dets], np.float64).reshape(n)
        out[token] = FusedDetections.build(
            frame_id=token, calib=calibs[token], image_size=image_sizes[token], names=names,
            scores=torch.from_numpy(scores), sensors=torch.full((n,), int(Sensor.LIDAR), dtype=torch.int64),
            boxes3d=torch.from_numpy(boxes).reshape(n, 7))
    return out
