"""``LoadAnnotations3D``: the frame's training targets into the results."""
from __future__ import annotations

from mmcv.transforms import BaseTransform

from perception.registry import TRANSFORMS

__all__ = ["LoadAnnotations3D"]


@TRANSFORMS.register_module()
class LoadAnnotations3D(BaseTransform):
    """Copy targets from ``results['ann_info']`` (made by ``KittiDataset.parse_data_info``).

    Reads ``ann_info``; writes, as selected: ``gt_boxes_3d`` (Boxes3D, LiDAR frame), ``gt_labels_3d``
    (``(N,)`` int64) and ``gt_names_3d`` (list of N str), ``gt_bboxes`` (``(N, 4)`` float32 camera-2 pixels),
    ``gt_bboxes_labels`` (``(N,)`` int64).  A frame without labels raises ``KeyError``.

    Args:
        with_bbox_3d: load ``gt_boxes_3d`` (and ``gt_names_3d``).
        with_label_3d: load ``gt_labels_3d`` (and ``gt_names_3d``).
        with_bbox: load the 2D boxes ``gt_bboxes``.  Leave off in pipelines with ``ObjectSample``
            (pasted objects have no 2D box in this image).
        with_label: load ``gt_bboxes_labels``.
    """

    def __init__(self, with_bbox_3d: bool = True, with_label_3d: bool = True, with_bbox: bool = False,
                 with_label: bool = False):
        self.with_bbox_3d = bool(with_bbox_3d)
        self.with_label_3d = bool(with_label_3d)
        self.with_bbox = bool(with_bbox)
        self.with_label = bool(with_label)

    def transform(self, results: dict) -> dict:
        if "ann_info" not in results:
            raise KeyError(f"LoadAnnotations3D: frame {results.get('sample_idx')} has no 'ann_info' "
                           f"(unlabelled split?); drop LoadAnnotations3D from test pipelines")
        ann = results["ann_info"]
        if self.with_bbox_3d:
            results["gt_boxes_3d"] = ann["gt_boxes_3d"].clone()
        if self.with_label_3d:
            results["gt_labels_3d"] = ann["gt_labels_3d"].clone()
        if self.with_bbox_3d or self.with_label_3d:
            results["gt_names_3d"] = list(ann["gt_names_3d"])
        if self.with_bbox:
            results["gt_bboxes"] = ann["gt_bboxes"].clone()
        if self.with_label:
            results["gt_bboxes_labels"] = ann["gt_bboxes_labels"].clone()
        return results

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(with_bbox_3d={self.with_bbox_3d}, with_label_3d={self.with_label_3d}, "
                f"with_bbox={self.with_bbox}, with_label={self.with_label})")
