"""What the KITTI and nuScenes datasets share about frames without ground truth."""
from __future__ import annotations

from typing import Any, Optional

import numpy as np
from mmengine.dataset import BaseDataset
from mmengine.logging import print_log

__all__ = ["EMPTY_SERIALIZED", "filter_empty_gt", "labels_present", "num_gt", "prepare_with_gt"]

#: ``BaseDataset._serialize_data`` of an empty data list (mmengine cannot serialize one; an empty split is legal).
EMPTY_SERIALIZED = (np.zeros(0, dtype=np.uint8), np.zeros(0, dtype=np.int64))


def filter_empty_gt(dataset: BaseDataset, *, unit: str) -> list[dict]:
    """``dataset.data_list`` without the entries that have no object of ``dataset.classes`` (training with
    ``filter_empty_gt`` only; logged).  ``unit``: what an entry is called in messages ("frame", "sample").

    Raises:
        ValueError: every entry would be dropped (naming the annotation file and the classes).
    """
    if dataset.test_mode or not dataset.filter_empty_gt:
        return dataset.data_list
    kept = [d for d in dataset.data_list if "ann_info" in d and len(d["ann_info"]["gt_labels_3d"]) > 0]
    dropped = len(dataset.data_list) - len(kept)
    name = f"{type(dataset).__name__}({dataset.ann_file})"
    if dataset.data_list and not kept:
        raise ValueError(f"{name}: no training {unit} has an object of classes {dataset.classes} (all {dropped} "
                         "dropped by filter_empty_gt); check metainfo['classes']")
    if dropped:
        print_log(f"{name}: filter_empty_gt dropped {dropped} of {len(dataset.data_list)} training {unit}s without "
                  f"objects of {dataset.classes}", logger="current")
    return kept


def labels_present(info: dict) -> list[int]:
    """Sorted labels of an entry's ``ann_info`` (``[]`` without one): ``get_cat_ids`` for class-balanced
    sampling wrappers."""
    return sorted(set(info["ann_info"]["gt_labels_3d"].tolist())) if "ann_info" in info else []


def num_gt(result: Any) -> Optional[int]:
    """Ground-truth objects in a pipeline output (packed or not); ``None`` when it cannot tell."""
    if isinstance(result, dict):
        sample = result.get("data_samples")
        if sample is not None and "gt_instances_3d" in sample and "labels_3d" in sample.gt_instances_3d:
            return len(sample.gt_instances_3d.labels_3d)
        if "gt_labels_3d" in result:
            return len(result["gt_labels_3d"])
    return None


def prepare_with_gt(dataset: BaseDataset, idx: int) -> Any:
    """``dataset.pipeline(dataset.get_data_info(idx))``, or ``None`` when training with ``filter_empty_gt`` and the
    pipeline left no ground-truth object (``BaseDataset.__getitem__`` then fetches another entry)."""
    result = dataset.pipeline(dataset.get_data_info(idx))
    if not dataset.test_mode and dataset.filter_empty_gt and result is not None and num_gt(result) == 0:
        return None
    return result
