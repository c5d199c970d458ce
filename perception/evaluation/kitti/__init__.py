"""KITTI object evaluation (2D / BEV / 3D AP and AOS), numerically the official devkit's.

* :func:`evaluate_kitti` -- the fast, vectorised evaluator on :class:`KittiEvalData`;
  :func:`evaluate_kitti_resampled` -- the same on many frame selections (bootstrap resamples), overlaps once;
* :func:`load_kitti_dirs` / :func:`write_kitti_results` -- label and result directories;
* :func:`predictions_to_kitti` -- LiDAR-frame predictions to KITTI result objects;
* :class:`KittiMetric` (``perception.evaluation.kitti.metric``, needs mmengine) -- the mmengine metric;
* :mod:`.reference` -- the slow line-by-line port of the devkit used to check the fast one.

See ``docs/evaluation.md``.
"""
from .convert import predictions_to_kitti
from .data import (CLASSES, DIFFICULTIES, METRICS, MIN_OVERLAP, OVERLAP_SETS, KittiEvalData, ObjectTable)
from .evaluate import KittiEvalResult, evaluate_kitti, evaluate_kitti_resampled
from .io import MISSING_POLICIES, load_kitti_dirs, read_result_file, write_kitti_results

__all__ = [
    "CLASSES", "DIFFICULTIES", "METRICS", "MIN_OVERLAP", "OVERLAP_SETS", "KittiEvalData", "ObjectTable",
    "KittiEvalResult", "evaluate_kitti", "evaluate_kitti_resampled", "MISSING_POLICIES", "load_kitti_dirs",
    "read_result_file", "write_kitti_results", "predictions_to_kitti",
]
