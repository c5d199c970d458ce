"""nuScenes detection evaluation with the official ``nuscenes-devkit``.

* :mod:`.submission` -- LiDAR-frame detections -> the submission JSON (global frame, ``size = [w, l, h]``,
  quaternion rotations, attributes), and its validation;
* :mod:`.evaluate` -- :func:`evaluate_nuscenes_detection`: mAP (0.5 / 1 / 2 / 4 m centre distance), ATE, ASE,
  AOE, AVE, AAE and NDS from the devkit's own algorithms;
* :mod:`.metric` -- :class:`NuScenesMetric` for mmengine (imported by ``perception.evaluation``).

See ``docs/nuscenes.md``.
"""
from .evaluate import TP_METRIC_NAMES, NuScenesDetectionResult, evaluate_nuscenes_detection, split_sample_tokens
from .submission import (MAX_BOXES_PER_SAMPLE, META_KEYS, SubmissionError, build_submission, default_attribute,
                         detections_to_results, load_submission, validate_submission, write_submission)

__all__ = [
    "TP_METRIC_NAMES", "NuScenesDetectionResult", "evaluate_nuscenes_detection", "split_sample_tokens",
    "MAX_BOXES_PER_SAMPLE", "META_KEYS", "SubmissionError", "build_submission", "default_attribute",
    "detections_to_results", "load_submission", "validate_submission", "write_submission",
]
