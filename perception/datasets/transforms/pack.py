"""``Pack3DDetInputs``: results dict -> ``{'inputs', 'data_samples'}`` for the model."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmengine.structures import InstanceData

from perception.registry import TRANSFORMS
from perception.structures.data_sample import Det3DDataSample

__all__ = ["Pack3DDetInputs"]

_INPUT_KEYS = ("points", "img")
_INSTANCE_3D = {"gt_boxes_3d": "bboxes_3d", "gt_labels_3d": "labels_3d"}
_INSTANCE_2D = {"gt_bboxes": "bboxes", "gt_bboxes_labels": "labels"}


@TRANSFORMS.register_module()
class Pack3DDetInputs(BaseTransform):
    """Pack a frame for :class:`~perception.models.data_preprocessor.Det3DDataPreprocessor`.

    Output::

        {'inputs': {'points': Tensor (P, C) float32 LiDAR frame,
                    'img': Tensor (3, H, W) uint8 RGB},          # each only if in keys and loaded
         'data_samples': Det3DDataSample}

    The data sample gets ``gt_instances_3d`` (``bboxes_3d`` Boxes3D LiDAR frame, ``labels_3d`` int64) from
    ``gt_boxes_3d`` / ``gt_labels_3d``, ``gt_instances`` (``bboxes`` ``(N, 4)``, ``labels``) from
    ``gt_bboxes`` / ``gt_bboxes_labels`` (each only if in ``keys`` and present; ``gt_instances_3d`` is
    always set, empty for unlabelled frames), and the ``meta_keys`` present in the results as metainfo
    (see :class:`~perception.structures.data_sample.Det3DDataSample` for their meaning).

    Args:
        keys: result keys to pack (inputs and instance fields).
        meta_keys: result keys copied to the sample's metainfo when present.
    """

    def __init__(self, keys: Sequence[str] = ("points", "img", "gt_boxes_3d", "gt_labels_3d"),
                 meta_keys: Sequence[str] = ("sample_idx", "lidar_path", "img_path", "calib", "img_shape",
                                             "ori_shape", "eval_ann_info", "num_pts_feats",
                                             "transformation_3d_flow", "pcd_rotation_angle", "pcd_scale_factor",
                                             "pcd_trans", "pcd_horizontal_flip", "pcd_vertical_flip")):
        known = set(_INPUT_KEYS) | set(_INSTANCE_3D) | set(_INSTANCE_2D)
        unknown = [k for k in keys if k not in known]
        if unknown:
            raise ValueError(f"Pack3DDetInputs: cannot pack key(s) {unknown}; known keys: {sorted(known)}")
        self.keys = tuple(keys)
        self.meta_keys = tuple(meta_keys)

    def transform(self, results: dict) -> dict:
        inputs = {}
        if "points" in self.keys and "points" in results:
            points = results["points"]
            inputs["points"] = (torch.from_numpy(np.ascontiguousarray(points)) if isinstance(points, np.ndarray)
                                else points).float()
        if "img" in self.keys and "img" in results:
            img = results["img"]
            if isinstance(img, np.ndarray):
                if img.ndim != 3 or img.shape[2] != 3:
                    raise ValueError(f"Pack3DDetInputs: img must be (H, W, 3), got {img.shape}")
                img = torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))
            inputs["img"] = img
        sample = Det3DDataSample()
        gt_3d = InstanceData()
        for key, field in _INSTANCE_3D.items():
            if key in self.keys and key in results:
                gt_3d[field] = results[key]
        sample.gt_instances_3d = gt_3d
        if any(k in self.keys and k in results for k in _INSTANCE_2D):
            gt_2d = InstanceData()
            for key, field in _INSTANCE_2D.items():
                if key in self.keys and key in results:
                    gt_2d[field] = torch.as_tensor(results[key])
            sample.gt_instances = gt_2d
        sample.set_metainfo({k: results[k] for k in self.meta_keys if k in results})
        return {"inputs": inputs, "data_samples": sample}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(keys={self.keys}, meta_keys={self.meta_keys})"
