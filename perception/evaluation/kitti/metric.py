"""``KittiMetric``: the KITTI object evaluation as an mmengine metric (``perception.registry.METRICS``)."""
from __future__ import annotations

import os
from typing import Any, Optional, Sequence

import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger

from perception.registry import METRICS as METRIC_REGISTRY
from perception.structures import Boxes2D, ObjectAnnotations

from .convert import ground_truth_to_kitti, predictions_to_kitti
from .data import CLASSES, METRICS, OVERLAP_SETS, KittiEvalData
from .evaluate import evaluate_kitti
from .io import write_kitti_results

__all__ = ["KittiMetric"]

# accepted spellings of each input: the brief per-frame dict, and Det3DDataSample (or its ``to_dict()``, which is
# what mmengine's Evaluator hands to metrics): metainfo ``img_shape`` / ``eval_ann_info``, ``pred_instances_3d``
_KEYS = {"sample_idx": ("sample_idx",), "calib": ("calib",), "image_shape": ("image_shape", "img_shape"),
         "gt_annotations": ("gt_annotations", "eval_ann_info"), "pred": ("pred", "pred_instances_3d")}


def _field(sample: Any, key: str):
    for name in _KEYS[key]:
        if isinstance(sample, dict):
            if name in sample:
                return sample[name]
        elif hasattr(sample, name):
            return getattr(sample, name)
    wanted = ", ".join(" or ".join(v) for v in _KEYS.values())
    raise KeyError(f"KittiMetric: data sample lacks {' / '.join(_KEYS[key])!r} (needs {wanted})")


def _instances_to_annotations(pred: Any, classes: Sequence[str]) -> ObjectAnnotations:
    """``pred_instances_3d`` (InstanceData or its dict: ``bboxes_3d`` LiDAR Boxes3D, ``scores_3d``, ``labels_3d``
    indexing ``classes``) as prediction :class:`ObjectAnnotations`."""
    get = pred.get if isinstance(pred, dict) else (lambda k: getattr(pred, k, None))
    boxes, scores, labels = get("bboxes_3d"), get("scores_3d"), get("labels_3d")
    if boxes is None or scores is None or labels is None:
        raise KeyError("pred_instances_3d needs bboxes_3d, scores_3d and labels_3d")
    boxes = boxes.to("cpu")
    labels = torch.as_tensor(labels).cpu().long()
    if len(labels) and (labels.min() < 0 or labels.max() >= len(classes)):
        raise ValueError(f"labels_3d outside [0, {len(classes)}) for classes {list(classes)}")
    n = len(labels)
    return ObjectAnnotations(names=[classes[i] for i in labels.tolist()], boxes3d=boxes,
                             boxes2d=Boxes2D(torch.zeros(n, 4)), truncated=torch.zeros(n),
                             occluded=torch.zeros(n, dtype=torch.long), alpha=torch.zeros(n),
                             scores=torch.as_tensor(scores).detach().cpu().float())


@METRIC_REGISTRY.register_module()
class KittiMetric(BaseMetric):
    """KITTI 2D / BEV / 3D AP and AOS (easy, moderate, hard; R11 and R40), the official devkit's numbers.

    ``process`` takes per-frame dicts (or objects) with ``sample_idx`` (str), ``calib``
    (:class:`~perception.structures.KittiCalibration`), ``image_shape`` ``(h, w)``, ``gt_annotations``
    (:class:`~perception.structures.ObjectAnnotations` with DontCare regions) and ``pred``
    (``ObjectAnnotations`` with ``scores``; LiDAR-frame boxes; empty ``boxes2d`` are replaced by the
    projected 3D boxes, see :func:`~perception.evaluation.kitti.predictions_to_kitti`).  It also takes
    :class:`~perception.structures.data_sample.Det3DDataSample` (or its ``to_dict()``, what mmengine's
    evaluator passes): ``img_shape`` and ``eval_ann_info`` metainfo, and ``pred_instances_3d`` whose
    ``labels_3d`` index the dataset's ``classes`` (``dataset_meta``, else this metric's ``classes``).

    ``compute_metrics`` returns a flat dict, keys ``{Class}_{2D|BEV|3D|AOS}_{difficulty}_{R11|R40}`` (plus
    ``_loose`` for the 0.5/0.25 BEV/3D overlaps and ``Overall_...`` means), prefixed ``kitti/`` by mmengine.
    The headline number is ``kitti/Car_3D_moderate_R40``.

    Args:
        classes: evaluated classes (subset of Car, Pedestrian, Cyclist).
        overlap_sets: ``strict`` and/or ``loose``.
        metrics: subset of ``2D``, ``BEV``, ``3D``.
        boxes2d: which 2D box a prediction gets (``auto``/``projected``/``given``).
        result_dir: if set, the KITTI result files (one ``<sample_idx>.txt`` per frame) are written there,
            so the official devkit can be run on exactly what was evaluated.
    """

    default_prefix = "kitti"

    def __init__(self, classes: Sequence[str] = CLASSES, overlap_sets: Sequence[str] = OVERLAP_SETS,
                 metrics: Sequence[str] = METRICS, boxes2d: str = "auto", result_dir: Optional[str] = None,
                 collect_device: str = "cpu", prefix: Optional[str] = None):
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.classes = tuple(classes)
        self.overlap_sets = tuple(overlap_sets)
        self.metrics = tuple(metrics)
        self.boxes2d = boxes2d
        self.result_dir = result_dir

    def process(self, data_batch: Any, data_samples: Sequence[Any]) -> None:
        for sample in data_samples:
            idx = str(_field(sample, "sample_idx"))
            calib = _field(sample, "calib")
            image_shape = tuple(_field(sample, "image_shape"))[:2]
            if len(image_shape) != 2:
                raise ValueError(f"KittiMetric: frame {idx}: image_shape must be (height, width), got {image_shape}")
            gt = ground_truth_to_kitti(_field(sample, "gt_annotations"), calib)
            pred = _field(sample, "pred")
            try:
                if not isinstance(pred, ObjectAnnotations):
                    pred = _instances_to_annotations(pred, (self.dataset_meta or {}).get("classes", self.classes))
                dets = predictions_to_kitti(pred, calib, image_shape, boxes2d=self.boxes2d)
            except (ValueError, KeyError) as exc:
                raise ValueError(f"KittiMetric: frame {idx}: {exc}") from None
            self.results.append((idx, gt, dets))

    def compute_metrics(self, results: list) -> dict[str, float]:
        ids = [r[0] for r in results]
        if len(set(ids)) != len(ids):
            dup = sorted({i for i in ids if ids.count(i) > 1})[:5]
            raise ValueError(f"KittiMetric: frames evaluated more than once: {dup}")
        if self.result_dir:
            write_kitti_results(self.result_dir, [(r[0], r[2]) for r in results])
        data = KittiEvalData.from_objects([r[1] for r in results], [r[2] for r in results], frame_ids=ids)
        res = evaluate_kitti(data, classes=self.classes, overlap_sets=self.overlap_sets, metrics=self.metrics)
        logger = MMLogger.get_current_instance()
        logger.info(f"KITTI evaluation of {len(results)} frames\n{res.table('R40')}")
        for note in res.skipped:
            logger.warning(f"KITTI evaluation: {note}")
        if self.result_dir:
            logger.info(f"KITTI result files written to {os.path.abspath(self.result_dir)}")
        return res.to_flat_dict(prefix="")
