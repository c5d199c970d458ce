"""``ObjectNameFilter``: keep only objects of some classes."""
from __future__ import annotations

from typing import Sequence

import torch
from mmcv.transforms import BaseTransform

from perception.registry import TRANSFORMS

from ._common import num_objects, select_objects

__all__ = ["ObjectNameFilter"]


@TRANSFORMS.register_module()
class ObjectNameFilter(BaseTransform):
    """Keep the objects whose class name is in ``classes`` (labels are not renumbered).

    Reads ``gt_names_3d`` (list of label-file names, written by ``LoadAnnotations3D``); writes every
    per-object key present.  Objects with a negative ``gt_labels_3d`` are dropped too.

    Args:
        classes: class names to keep.
    """

    def __init__(self, classes: Sequence[str]):
        if isinstance(classes, str):
            raise TypeError("classes must be a sequence of names, not one string")
        self.classes = tuple(classes)

    def transform(self, results: dict) -> dict:
        n = num_objects(results)
        if n == 0:
            return results
        if "gt_names_3d" not in results:
            raise KeyError("ObjectNameFilter needs results['gt_names_3d'] (written by LoadAnnotations3D)")
        keep = torch.tensor([name in self.classes for name in results["gt_names_3d"]], dtype=torch.bool)
        if "gt_labels_3d" in results:
            keep &= torch.as_tensor(results["gt_labels_3d"]) >= 0
        select_objects(results, keep)
        return results

    def __repr__(self) -> str:
        return f"{type(self).__name__}(classes={self.classes})"
