"""Reading KITTI label/result directories for evaluation, and writing result directories.

Result files are KITTI label files with a 16th column, the score (one file per
frame, ``<id>.txt``).  Reading is strict: every problem raises
:class:`~perception.datasets.kitti_io.KittiFormatError` naming the file and
line -- a malformed line, a missing score, an unknown class, NaN or negative
sizes -- so that no AP is ever computed from half-read input.
"""
from __future__ import annotations

import os
from typing import Iterable, Mapping, Optional, Sequence

from perception.datasets.kitti_io import (KITTI_CLASSES, KittiFormatError, KittiObject, read_image_set, read_label,
                                          write_label)

from .data import KittiEvalData

__all__ = ["read_result_file", "load_kitti_dirs", "write_kitti_results", "MISSING_POLICIES"]

#: What to do with a frame that has ground truth but no result file.
MISSING_POLICIES = ("error", "skip", "empty")
_RESULT_CLASSES = {c.lower(): c for c in KITTI_CLASSES if c != "DontCare"}


def _nonempty_line_numbers(path: str) -> list[int]:
    with open(path, encoding="utf-8") as f:
        return [n for n, line in enumerate(f, start=1) if line.strip()]


def read_result_file(path: str | os.PathLike) -> list[KittiObject]:
    """Read one result file: 16 fields per line, a known KITTI class (any case), finite values, sizes >= 0.

    Class names are normalised to KITTI's spelling (``car`` -> ``Car``), as the devkit compares them
    case-insensitively.
    """
    path = os.fspath(path)
    objects = read_label(path, allow_score=True)
    bad = [(k, "no score (16th field); a result line needs 'type truncated occluded alpha x1 y1 x2 y2 h w l x y z "
               "rotation_y score'") for k, o in enumerate(objects) if o.score is None]
    bad += [(k, f"unknown class {o.type!r}; expected one of {', '.join(_RESULT_CLASSES.values())}")
            for k, o in enumerate(objects) if o.type.lower() not in _RESULT_CLASSES]
    if bad:
        k, why = min(bad)
        line = _nonempty_line_numbers(path)[k]
        raise KittiFormatError(f"{path}:{line}: {why}")
    for o in objects:
        o.type = _RESULT_CLASSES[o.type.lower()]
    return objects


def _result_folder(result_dir: str) -> str:
    """``result_dir`` itself, or its ``data/`` subfolder (the devkit's layout) when only that holds results."""
    if not os.path.isdir(result_dir):
        raise KittiFormatError(f"{result_dir}: result directory not found")
    sub = os.path.join(result_dir, "data")
    has_txt = any(n.endswith(".txt") for n in os.listdir(result_dir))
    if not has_txt and os.path.isdir(sub):
        return sub
    return result_dir


def load_kitti_dirs(gt_dir: str | os.PathLike, result_dir: str | os.PathLike, *,
                    split: Optional[str | os.PathLike] = None, ids: Optional[Sequence[str]] = None,
                    missing: str = "error") -> tuple[KittiEvalData, dict]:
    """Read ground truth (``gt_dir/<id>.txt``) and results (``result_dir/<id>.txt``) for evaluation.

    Args:
        gt_dir: a ``label_2`` directory.
        result_dir: one result file per frame (or a folder whose ``data/`` holds them).
        split: an ``ImageSets`` file naming the frames; ``ids`` gives them directly; by default every
            ``*.txt`` in ``gt_dir``.
        missing: a frame without result file is an error (``"error"``, default), left out of the
            evaluation together with its ground truth (``"skip"``: what the offline devkit does, it only
            reads frames that have results), or evaluated with no detections (``"empty"``: what the
            benchmark server does).
    Returns:
        ``(data, info)``; ``info`` has ``num_frames``, ``missing`` (ids without results),
        ``missing_policy`` and ``extra_results`` (result files not in the frame list, ignored).
    """
    if missing not in MISSING_POLICIES:
        raise ValueError(f"missing must be one of {MISSING_POLICIES}, got {missing!r}")
    gt_dir, result_dir = os.fspath(gt_dir), os.fspath(result_dir)
    if not os.path.isdir(gt_dir):
        raise KittiFormatError(f"{gt_dir}: ground-truth directory not found")
    res_dir = _result_folder(result_dir)
    if ids is None:
        if split is not None:
            ids = read_image_set(split)
            if not ids:
                raise KittiFormatError(f"{os.fspath(split)}: the frame list is empty")
        else:
            ids = sorted(n[:-4] for n in os.listdir(gt_dir) if n.endswith(".txt"))
            if not ids:
                raise KittiFormatError(f"{gt_dir}: no label files (*.txt)")
    ids = list(ids)
    if len(set(ids)) != len(ids):
        raise KittiFormatError(f"{os.fspath(split) if split else 'ids'}: duplicate frame ids")
    result_files = {n[:-4] for n in os.listdir(res_dir) if n.endswith(".txt")}
    missing_ids = [i for i in ids if i not in result_files]
    if missing_ids and missing == "error":
        shown = ", ".join(missing_ids[:5]) + (" ..." if len(missing_ids) > 5 else "")
        raise KittiFormatError(
            f"{res_dir}: {len(missing_ids)} of {len(ids)} frames have no result file ({shown}); write an empty "
            f"file for frames without detections, or pass missing='skip' (--missing skip) to leave them out of "
            f"the evaluation or missing='empty' (--missing empty) to count them as frames without detections")
    wanted = set(ids)
    extra = sorted(result_files - wanted)
    gt_frames, dt_frames, used = [], [], []
    absent = set(missing_ids)
    for i in ids:
        if i in absent and missing == "skip":
            continue
        gt_frames.append(read_label(os.path.join(gt_dir, f"{i}.txt")))
        dt_frames.append([] if i in absent else read_result_file(os.path.join(res_dir, f"{i}.txt")))
        used.append(i)
    if not used:
        raise KittiFormatError(f"{res_dir}: none of the {len(ids)} frames has a result file")
    data = KittiEvalData.from_objects(gt_frames, dt_frames, frame_ids=used)
    info = {"num_frames": len(used), "missing": missing_ids, "missing_policy": missing, "extra_results": extra,
            "result_dir": res_dir, "gt_dir": gt_dir}
    return data, info


def write_kitti_results(result_dir: str | os.PathLike,
                        results: Mapping[str, Iterable[KittiObject]] | Iterable[tuple[str, Iterable[KittiObject]]]
                        ) -> list[str]:
    """Write one ``<id>.txt`` per frame (atomic, via :func:`~perception.datasets.kitti_io.write_label`);
    frames without detections get an empty file.  Every object needs a score.  Returns the paths."""
    items = results.items() if isinstance(results, Mapping) else results
    os.makedirs(result_dir, exist_ok=True)
    paths = []
    for sample_id, objects in items:
        objects = list(objects)
        for o in objects:
            if o.score is None:
                raise ValueError(f"frame {sample_id}: result object {o.type} has no score")
        path = os.path.join(os.fspath(result_dir), f"{sample_id}.txt")
        write_label(path, objects)
        paths.append(path)
    return paths
