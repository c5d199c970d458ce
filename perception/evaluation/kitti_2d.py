"""``Kitti2DMetric``: KITTI 2D AP (easy / moderate / hard, R11 and R40) of an image-space detector.

A thin adapter over :mod:`perception.evaluation.kitti`: 2D detections become 2D-only KITTI result lines (the
devkit's placeholders for the 3D fields: ``alpha = -10``, ``h w l = -1``, location ``-1000``, ``ry = -10``,
so only the 2D curves are computed) and the ground truth comes from the frame's ``eval_ann_info`` exactly as
for :class:`~perception.evaluation.kitti.metric.KittiMetric` (DontCare regions, Van/Person_sitting as
neighbour classes, the devkit's difficulty cuts).
"""
from __future__ import annotations

from typing import Any, Optional, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger

from perception.datasets.kitti_io import KittiObject
from perception.registry import METRICS as METRIC_REGISTRY

from .kitti.convert import ground_truth_to_kitti
from .kitti.data import CLASSES as KITTI_CLASSES
from .kitti.data import KittiEvalData, check_classes
from .kitti.evaluate import evaluate_kitti

__all__ = ["Kitti2DMetric", "detections_to_kitti_2d"]


def detections_to_kitti_2d(bboxes: np.ndarray, scores: np.ndarray, labels: np.ndarray,
                           classes: Sequence[str]) -> list[KittiObject]:
    """2D-only KITTI result objects from ``bboxes (N, 4)`` ``[x1, y1, x2, y2]`` camera-2 pixels,
    ``scores (N,)`` and ``labels (N,)`` (indices into ``classes``)."""
    bboxes = np.asarray(bboxes, dtype=np.float64).reshape(-1, 4)
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    labels = np.asarray(labels, dtype=np.int64).reshape(-1)
    if not len(bboxes) == len(scores) == len(labels):
        raise ValueError(f"detections: {len(bboxes)} boxes, {len(scores)} scores, {len(labels)} labels")
    if len(labels) and (labels.min() < 0 or labels.max() >= len(classes)):
        raise ValueError(f"detection labels must index the {len(classes)} classes {tuple(classes)}, "
                         f"got range [{labels.min()}, {labels.max()}]")
    return [KittiObject(type=classes[int(l)], truncated=-1.0, occluded=-1, alpha=-10.0, bbox=tuple(b.tolist()),
                        dimensions=(-1.0, -1.0, -1.0), location=(-1000.0, -1000.0, -1000.0), rotation_y=-10.0,
                        score=float(s)) for b, s, l in zip(bboxes, scores, labels)]


def _get(sample: Any, key: str, metric: str) -> Any:
    if key not in sample:
        raise KeyError(f"{metric}: data sample lacks {key!r}; pack it with PackDetInputs(meta_keys=(..., {key!r}))")
    return sample[key]


def _to_numpy(value) -> np.ndarray:
    return value.detach().cpu().numpy() if hasattr(value, "detach") else np.asarray(value)


@METRIC_REGISTRY.register_module()
class Kitti2DMetric(BaseMetric):
    """KITTI 2D AP of image-space detections, the official devkit's numbers.

    ``process`` takes mmdet data samples (as dicts) with ``pred_instances`` (``bboxes`` in original-image
    pixels, ``scores``, ``labels`` indexing the dataset's ``classes``) and the metainfo ``sample_idx``,
    ``calib`` and ``eval_ann_info`` (:class:`~perception.structures.ObjectAnnotations`, from
    ``KittiDataset``).

    ``compute_metrics`` returns ``{Class}_2D_{easy|moderate|hard}_{R11|R40}`` and the ``Overall_2D_...``
    mean over classes (prefixed ``kitti2d/``); the headline number is ``kitti2d/Overall_2D_moderate_R40``.

    Args:
        classes: evaluated classes (subset of Car, Pedestrian, Cyclist); default: the dataset's classes.
    """

    default_prefix = "kitti2d"

    def __init__(self, classes: Optional[Sequence[str]] = None, collect_device: str = "cpu",
                 prefix: Optional[str] = None):
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.classes = None if classes is None else check_classes(classes)

    def _label_names(self) -> tuple[str, ...]:
        if not self.dataset_meta or "classes" not in self.dataset_meta:
            raise ValueError("Kitti2DMetric needs dataset_meta['classes'] (the label order), set by the Runner")
        return tuple(self.dataset_meta["classes"])

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        names = self._label_names()
        for sample in data_samples:
            idx = str(_get(sample, "sample_idx", "Kitti2DMetric"))
            gt = ground_truth_to_kitti(_get(sample, "eval_ann_info", "Kitti2DMetric"),
                                       _get(sample, "calib", "Kitti2DMetric"))
            pred = _get(sample, "pred_instances", "Kitti2DMetric")
            dets = detections_to_kitti_2d(_to_numpy(pred["bboxes"]), _to_numpy(pred["scores"]),
                                          _to_numpy(pred["labels"]), names)
            self.results.append((idx, gt, dets))

    def compute_metrics(self, results: list) -> dict[str, float]:
        ids = [r[0] for r in results]
        if len(set(ids)) != len(ids):
            dup = sorted({i for i in ids if ids.count(i) > 1})[:5]
            raise ValueError(f"Kitti2DMetric: frames evaluated more than once: {dup}")
        classes = self.classes or check_classes([c for c in self._label_names() if c in KITTI_CLASSES])
        data = KittiEvalData.from_objects([r[1] for r in results], [r[2] for r in results], frame_ids=ids)
        res = evaluate_kitti(data, classes=classes, overlap_sets=("strict",), metrics=("2D",))
        logger = MMLogger.get_current_instance()
        logger.info(f"KITTI 2D evaluation of {len(results)} frames\n{res.table('R40')}")
        for note in res.skipped:
            logger.warning(f"KITTI 2D evaluation: {note}")
        return {k: v for k, v in res.to_flat_dict(prefix="").items() if "_2D_" in k}
