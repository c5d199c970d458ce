"""``PackPanopticInputs``: mmdet's ``PackDetInputs`` plus panoptic ground truth and point labels."""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
import torch
from mmdet.datasets.transforms import PackDetInputs
from mmengine.structures import InstanceData, PixelData

from perception.registry import TRANSFORMS

__all__ = ["PackPanopticInputs"]

_META_KEYS = ("img_id", "img_path", "ori_shape", "img_shape", "scale_factor", "flip", "flip_direction",
              "sample_idx", "panoptic_path")


@TRANSFORMS.register_module()
class PackPanopticInputs(PackDetInputs):
    """Pack a camera frame: ``{'inputs': (3, H, W) uint8 tensor, 'data_samples': DetDataSample}``.

    Everything ``PackDetInputs`` packs (boxes -> ``gt_instances`` for a detector sharing the batch), and:

    * ``gt_points`` (``InstanceData``) from the point labels: ``coords (K, 2)`` int64 ``[x, y]`` input pixels,
      ``labels (K,)`` class indices, ``category_ids (K,)``, ``segment_ids (K,)``, ``isthing (K,)`` bool;
    * ``gt_panoptic`` (``PixelData`` with ``ids (1, H, W)`` int64 segment ids) from ``gt_panoptic_ids``;
    * metainfo ``gt_segments_info`` (``id``, ``category_id``, ``label``, ``isthing``, ``iscrowd``) from
      ``gt_segments_info``, plus ``meta_keys``.

    Args:
        categories: COCO categories in class-index order (dicts or objects with ``id``); class index = position.
            Default: the simulator's categories.
        meta_keys: result keys copied to the metainfo when present.
    """

    def __init__(self, categories: Optional[Sequence] = None, meta_keys: Sequence[str] = _META_KEYS):
        super().__init__(meta_keys=tuple(meta_keys))
        if categories is None:
            from perception.datasets.sim.categories import CATEGORIES as categories
        ids = [int(c["id"] if isinstance(c, dict) else c.id) for c in categories]
        self.label_of = {cid: i for i, cid in enumerate(ids)}

    def _labels(self, category_ids: np.ndarray, where: str) -> np.ndarray:
        unknown = sorted({int(c) for c in category_ids} - set(self.label_of))
        if unknown:
            raise ValueError(f"PackPanopticInputs: {where}: category id(s) {unknown} are not among the model's "
                             f"categories {sorted(self.label_of)}")
        return np.array([self.label_of[int(c)] for c in category_ids], dtype=np.int64)

    def transform(self, results: dict) -> dict:
        packed = super().transform(results)
        sample = packed["data_samples"]
        where = str(results.get("img_path", results.get("sample_idx", "?")))
        if "gt_point_coords" in results:
            cats = np.asarray(results["gt_point_category_ids"], np.int64).reshape(-1)
            sample.gt_points = InstanceData(
                coords=torch.as_tensor(np.asarray(results["gt_point_coords"], np.int64).reshape(-1, 2)),
                labels=torch.as_tensor(self._labels(cats, where)),
                category_ids=torch.as_tensor(cats),
                segment_ids=torch.as_tensor(np.asarray(results["gt_point_segment_ids"], np.int64).reshape(-1)),
                isthing=torch.as_tensor(np.asarray(results["gt_point_isthing"], bool).reshape(-1)))
        if "gt_panoptic_ids" in results:
            ids = np.ascontiguousarray(np.asarray(results["gt_panoptic_ids"], np.int64))
            sample.gt_panoptic = PixelData(ids=torch.from_numpy(ids)[None])
        if "gt_segments_info" in results:
            segs = [dict(s) for s in results["gt_segments_info"]]
            labels = self._labels(np.array([s["category_id"] for s in segs], np.int64), where)
            for s, label in zip(segs, labels):
                s["label"] = int(label)
            sample.set_metainfo({"gt_segments_info": segs})
        return packed

    def __repr__(self) -> str:
        return f"{type(self).__name__}(meta_keys={self.meta_keys})"
