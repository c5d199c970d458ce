"""A LiDAR-only 3D detector as one readable pipeline.

    points (per sample, LiDAR frame)
      -> voxel_encoder   dynamic voxelization + per-voxel PointNet  -> VoxelFeatures (V, C)
      -> middle_encoder  sparse voxels -> dense BEV map              -> (B, C', H, W)
                         (BEVScatter for pillars; SST's sparse transformer or a
                         sparse-conv encoder also end in a BEV map)
      -> backbone        2D convs over BEV (optional)                 -> [(B, C_i, H_i, W_i)]
      -> neck            back to one stride (optional)               -> (B, C'', H, W)
      -> bbox_head       CenterHead                                   -> boxes, scores, labels
"""
from __future__ import annotations

from typing import Optional, Sequence, Union

import torch
from mmengine.model import BaseModel

from perception.registry import MODELS
from perception.structures.data_sample import Det3DDataSample

__all__ = ["LidarDetector"]


@MODELS.register_module()
class LidarDetector(BaseModel):
    """Args are module configs built from :data:`perception.registry.MODELS`.

    ``forward(inputs, data_samples, mode)`` follows mmengine:

    * ``mode='loss'``: dict of losses;
    * ``mode='predict'``: the data samples with ``pred_instances_3d``
      (``bboxes_3d: Boxes3D`` LiDAR frame, ``scores_3d``, ``labels_3d``);
    * ``mode='tensor'``: the raw head outputs (heatmap logits, regression map).
    """

    def __init__(self, *, voxel_encoder: dict, middle_encoder: dict, bbox_head: dict,
                 backbone: Optional[dict] = None, neck: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None, init_cfg: Optional[dict] = None):
        super().__init__(data_preprocessor=data_preprocessor or dict(type="Det3DDataPreprocessor"),
                         init_cfg=init_cfg)
        self.voxel_encoder = MODELS.build(voxel_encoder)
        self.middle_encoder = MODELS.build(middle_encoder)
        self.backbone = MODELS.build(backbone) if backbone is not None else None
        self.neck = MODELS.build(neck) if neck is not None else None
        self.bbox_head = MODELS.build(bbox_head)

    def extract_feat(self, points: Sequence[torch.Tensor]) -> torch.Tensor:
        """Per-sample ``(P_i, C)`` points -> BEV feature map ``(B, C, H, W)``."""
        bev = self.middle_encoder(self.voxel_encoder(points))
        if self.backbone is not None:
            bev = self.backbone(bev)
        if self.neck is not None:
            bev = self.neck(bev)
        if isinstance(bev, (list, tuple)):
            if len(bev) != 1:
                raise ValueError("a multi-stage backbone needs a neck that merges its outputs")
            bev = bev[0]
        return bev

    def forward(self, inputs: dict, data_samples: Optional[list[Det3DDataSample]] = None,
                mode: str = "tensor") -> Union[dict, list, tuple]:
        if "points" not in inputs:
            raise KeyError("LidarDetector needs inputs['points'] (a list of (P_i, C) tensors)")
        bev = self.extract_feat(inputs["points"])
        if mode == "loss":
            if data_samples is None:
                raise ValueError("mode='loss' needs data_samples with gt_instances_3d")
            gt_boxes = [s.gt_instances_3d.bboxes_3d for s in data_samples]
            gt_labels = [s.gt_instances_3d.labels_3d for s in data_samples]
            return self.bbox_head.loss(bev, gt_boxes, gt_labels)
        if mode == "predict":
            results = self.bbox_head.predict(bev)
            if data_samples is None:
                data_samples = [Det3DDataSample() for _ in results]
            for sample, pred in zip(data_samples, results):
                sample.pred_instances_3d = pred
            return data_samples
        if mode == "tensor":
            return self.bbox_head(bev)
        raise ValueError(f"unknown mode {mode!r}; expected 'loss', 'predict' or 'tensor'")
