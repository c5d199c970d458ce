"""Training data of the learned fuser: per frame, the 2D-3D candidate pairs and which 3D detections are true.

Built from a detection cache (``tools/cache_detections.py``) and the split's KITTI labels.  A 3D detection's
target is 1 when its 3D IoU with a ground-truth box of the same class reaches the class's KITTI threshold
(``TRUE_POSITIVE_IOU``: Car 0.7, Pedestrian and Cyclist 0.5), else 0.
"""
from __future__ import annotations

import os
from typing import Mapping, Optional, Sequence

import torch
from torch.utils.data import Dataset

from perception.registry import DATASETS
from perception.structures import ObjectAnnotations, box_iou_3d

__all__ = ["FusionPairsDataset", "true_positive_targets", "TRUE_POSITIVE_IOU"]

TRUE_POSITIVE_IOU = {"Car": 0.7, "Pedestrian": 0.5, "Cyclist": 0.5}


def true_positive_targets(det: ObjectAnnotations, gt: ObjectAnnotations,
                          thresholds: Mapping[str, float] = TRUE_POSITIVE_IOU) -> torch.Tensor:
    """``(N_det,)`` float 0/1: detection ``i`` overlaps a same-class ground-truth box with 3D IoU >= the threshold."""
    if len(det) == 0 or len(gt) == 0:
        return torch.zeros(len(det))
    iou = box_iou_3d(det.boxes3d.to(torch.float64), gt.boxes3d.to(torch.float64))
    same = torch.tensor([[d == g for g in gt.names] for d in det.names], dtype=torch.bool)
    best = torch.where(same, iou, torch.zeros_like(iou)).amax(dim=1)
    thr = torch.tensor([thresholds.get(name, 0.7) for name in det.names], dtype=best.dtype)
    return (best >= thr).float()


@DATASETS.register_module()
class FusionPairsDataset(Dataset):
    """Args:
        cache_file: a detection cache of the split (``tools/cache_detections.py``).
        lidar_model, camera_model: which cached detections to pair.
        class_names: the detectors' classes.
        fusion: keyword arguments of :class:`perception.fusion.LateFusion` that shape the candidates
            (``min_iou``, ``max_centre_distance``); the scorer is irrelevant here.
        data_root: where the labels are; default: the cache's own data root.
    """

    def __init__(self, *, cache_file: str, lidar_model: str, camera_model: str,
                 class_names: Sequence[str] = ("Car", "Pedestrian", "Cyclist"), fusion: Optional[dict] = None,
                 data_root: Optional[str] = None):
        from perception.datasets import kitti_io
        from perception.fusion import LateFusion, RuleScorer
        from perception.fusion.detection_cache import load_detection_cache

        cache = load_detection_cache(cache_file)
        for kind, name, have in (("lidar", lidar_model, cache.lidar), ("camera", camera_model, cache.camera)):
            if name not in have:
                raise KeyError(f"{cache_file}: no {kind} detections of {name!r}; it has {sorted(have)}")
        root = data_root or cache.data_root
        fusion = LateFusion(scorer=RuleScorer(), class_names=class_names, **(fusion or {}))
        self.items = []
        for k, fid in enumerate(cache.frame_ids):
            frame = kitti_io.read_frame(root, fid, with_image=False)
            size = kitti_io.read_image_size(os.path.join(root, "training", "image_2", f"{fid}.png"))
            lidar = cache.lidar[lidar_model][k]
            inputs = fusion.inputs(lidar, cache.camera[camera_model][k], frame.calib, size)
            self.items.append((inputs.candidates, true_positive_targets(lidar, frame.annotations)))

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict:
        candidates, targets = self.items[index]
        return {"inputs": candidates, "data_samples": targets}

    @property
    def metainfo(self) -> dict:
        return {}

