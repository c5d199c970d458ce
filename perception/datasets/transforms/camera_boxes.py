"""``CameraBoxesToDet``: the 2D targets of ``LoadAnnotations3D`` in the form mmdet's 2D transforms expect."""
from __future__ import annotations

import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmdet.structures.bbox import HorizontalBoxes

from perception.registry import TRANSFORMS

__all__ = ["CameraBoxesToDet"]


@TRANSFORMS.register_module()
class CameraBoxesToDet(BaseTransform):
    """Convert camera-2 box targets for mmdet's ``Resize`` / ``RandomFlip`` / ``PackDetInputs``.

    Reads ``gt_bboxes`` (``(N, 4)`` float ``[x1, y1, x2, y2]`` camera-2 pixels, tensor or array) and
    ``gt_bboxes_labels`` (``(N,)`` int); writes ``gt_bboxes`` as mmdet ``HorizontalBoxes`` (float32),
    ``gt_bboxes_labels`` as ``np.int64 (N,)`` and ``gt_ignore_flags`` (``np.bool_ (N,)``, all False: every
    loaded object is a training target).  Put it right after ``LoadAnnotations3D(with_bbox=True,
    with_label=True)``; 3D keys are left untouched (mmdet's 2D transforms would not move them, so keep them
    out of 2D pipelines).
    """

    def transform(self, results: dict) -> dict:
        for key in ("gt_bboxes", "gt_bboxes_labels"):
            if key not in results:
                raise KeyError(f"CameraBoxesToDet needs results[{key!r}] (frame {results.get('sample_idx')}); "
                               f"use LoadAnnotations3D(with_bbox=True, with_label=True) before it")
        boxes = torch.as_tensor(np.asarray(results["gt_bboxes"], dtype=np.float32))
        labels = np.asarray(results["gt_bboxes_labels"], dtype=np.int64).reshape(-1)
        if boxes.numel() == 0:
            boxes = boxes.reshape(0, 4)
        if boxes.dim() != 2 or boxes.shape[1] != 4 or len(boxes) != len(labels):
            raise ValueError(f"CameraBoxesToDet: frame {results.get('sample_idx')}: gt_bboxes must be (N, 4) with "
                             f"N = len(gt_bboxes_labels) = {len(labels)}, got {tuple(boxes.shape)}")
        results["gt_bboxes"] = HorizontalBoxes(boxes)
        results["gt_bboxes_labels"] = labels
        results["gt_ignore_flags"] = np.zeros(len(labels), dtype=np.bool_)
        return results
