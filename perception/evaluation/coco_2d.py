"""``Coco2DMetric``: COCO-style box AP (AP, AP50, AP75, AP_small/medium/large) of KITTI-format frames.

mmdet's ``CocoMetric`` (pycocotools) with its ground truth built from each frame's ``eval_ann_info``
(:class:`~perception.structures.ObjectAnnotations`) instead of a COCO json file:

* an object of an evaluated class is a normal annotation (``area = w * h`` in original-image pixels, so
  small / medium / large are COCO's ``< 32^2``, ``32^2..96^2``, ``>= 96^2`` at the dataset's image size);
* a KITTI *neighbour* object (Van for Car, Person_sitting for Pedestrian) is a crowd (ignore) region of
  the evaluated class: a detection on it is neither a true nor a false positive, as in the KITTI devkit;
* a ``DontCare`` region is a crowd region of every class.
"""
from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence

from mmdet.evaluation.metrics import CocoMetric
from mmengine.logging import MMLogger

from perception.registry import METRICS as METRIC_REGISTRY

from .kitti.data import NEIGHBOUR_CLASS

__all__ = ["Coco2DMetric", "annotations_to_coco_instances"]

#: Keys returned by :class:`Coco2DMetric` (after the ``coco/`` prefix), COCOeval ``stats`` 0-5.
COCO_KEYS = ("bbox_mAP", "bbox_mAP_50", "bbox_mAP_75", "bbox_mAP_s", "bbox_mAP_m", "bbox_mAP_l")


def annotations_to_coco_instances(gt: Any, classes: Sequence[str],
                                  neighbour_classes: Mapping[str, str] = NEIGHBOUR_CLASS,
                                  dontcare: bool = True) -> list[dict]:
    """mmdet ``instances`` (``bbox`` ``[x1, y1, x2, y2]``, ``bbox_label``, ``ignore_flag``) of one frame.

    Args:
        gt: the frame's annotations (``names`` list, ``boxes2d`` :class:`Boxes2D`, ``dontcare`` :class:`Boxes2D`).
        classes: the label order (dataset ``classes``).
        neighbour_classes: ``{evaluated class: class whose objects are ignore regions of it}``.
        dontcare: turn the DontCare regions into ignore regions of every class.
    """
    label_of = {c: i for i, c in enumerate(classes)}
    ignore_for: dict[str, list[int]] = {}
    for cls, neighbour in neighbour_classes.items():
        if cls in label_of:
            ignore_for.setdefault(neighbour, []).append(label_of[cls])
    boxes = gt.boxes2d.tensor.tolist()
    out = []
    for name, box in zip(gt.names, boxes):
        if name in label_of:
            out.append(dict(bbox=box, bbox_label=label_of[name], ignore_flag=0))
        for label in ignore_for.get(name, ()):
            out.append(dict(bbox=box, bbox_label=label, ignore_flag=1))
    if dontcare:
        for box in gt.dontcare.tensor.tolist():
            out.extend(dict(bbox=box, bbox_label=label, ignore_flag=1) for label in range(len(classes)))
    return out


@METRIC_REGISTRY.register_module()
class Coco2DMetric(CocoMetric):
    """COCO box AP of KITTI-format frames (see the module docstring), prefixed ``coco/``.

    ``process`` takes mmdet data samples (as dicts) with ``pred_instances`` (original-image pixels), the
    metainfo ``eval_ann_info``, ``ori_shape`` and an integer image id: ``img_id``, else ``dataset_idx``
    (``KittiDataset`` provides it).  Returns :data:`COCO_KEYS` (AP over IoU 0.5:0.95, AP50, AP75, AP small /
    medium / large, in [0, 1]) and, with ``classwise=True``, ``{class}_precision`` (per-class AP; the log
    also gets a per-class table with AP_small/medium/large).

    Args:
        neighbour_classes, dontcare: see :func:`annotations_to_coco_instances`.
        Other arguments are mmdet ``CocoMetric``'s (``ann_file`` must stay ``None``; ``metric`` is ``'bbox'``).
    """

    def __init__(self, neighbour_classes: Optional[Mapping[str, str]] = None, dontcare: bool = True,
                 classwise: bool = True, **kwargs):
        if kwargs.get("ann_file") is not None or kwargs.get("metric", "bbox") != "bbox":
            raise ValueError("Coco2DMetric builds its ground truth from eval_ann_info: leave ann_file=None, "
                             "metric='bbox'")
        super().__init__(classwise=classwise, **kwargs)
        self.neighbour_classes = dict(NEIGHBOUR_CLASS if neighbour_classes is None else neighbour_classes)
        self.dontcare = bool(dontcare)

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        if not self.dataset_meta or "classes" not in self.dataset_meta:
            raise ValueError("Coco2DMetric needs dataset_meta['classes'] (the label order), set by the Runner")
        classes = tuple(self.dataset_meta["classes"])
        converted = []
        for sample in data_samples:
            for key in ("eval_ann_info", "ori_shape", "pred_instances"):
                if key not in sample:
                    raise KeyError(f"Coco2DMetric: data sample lacks {key!r}; pack it with "
                                   f"PackDetInputs(meta_keys=(..., {key!r}))")
            img_id = sample.get("img_id", sample.get("dataset_idx"))
            if img_id is None or isinstance(img_id, str) and not img_id.isdigit():
                raise KeyError(f"Coco2DMetric: data sample needs an integer 'img_id' or 'dataset_idx', got {img_id!r}")
            converted.append(dict(sample, img_id=int(img_id), instances=annotations_to_coco_instances(
                sample["eval_ann_info"], classes, self.neighbour_classes, self.dontcare)))
        super().process(data_batch, converted)

    def compute_metrics(self, results: list) -> dict[str, float]:
        num_dets = sum(len(pred["scores"]) for _, pred in results)
        if num_dets == 0:  # pycocotools cannot load an empty result list
            MMLogger.get_current_instance().warning(f"Coco2DMetric: no detection in {len(results)} frames; AP = 0")
            out = {k: 0.0 for k in COCO_KEYS}
            if self.classwise:
                out.update({f"{c}_precision": 0.0 for c in self.dataset_meta["classes"]})
            return out
        try:
            return super().compute_metrics(results)
        finally:  # CocoMetric caches the ground truth of the first evaluation; every evaluation rebuilds it
            self._coco_api, self.cat_ids, self.img_ids = None, None, None
