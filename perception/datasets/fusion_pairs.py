"""Training data of the learned fuser: per frame, the 2D-3D candidate pairs and which 3D detections are true.

Built from a detection cache (``tools/cache_detections.py``) and the split's KITTI labels.  A 3D detection is a
true positive in 3D when its 3D IoU with a ground-truth box of the same class reaches the class's KITTI threshold
(``TRUE_POSITIVE_IOU``: Car 0.7, Pedestrian and Cyclist 0.5), and in 2D when its projected box's IoU with a
same-class ground-truth image box does (the same thresholds, as in KITTI's 2D benchmark).  ``target`` picks the
training target: ``"3d"`` (CLOCs'), ``"2d"``, or ``"mean"`` of the two (the fused score ranks the objects of
both the 3D and the 2D output).
"""
from __future__ import annotations

import os
from typing import Mapping, Optional, Sequence

import torch
from torch.utils.data import Dataset

from perception.registry import DATASETS
from perception.structures import Boxes2D, ObjectAnnotations, box_iou_2d, box_iou_3d

__all__ = ["FusionPairsDataset", "TARGETS", "TRUE_POSITIVE_IOU", "true_positive_targets", "true_positive_targets_2d"]

TRUE_POSITIVE_IOU = {"Car": 0.7, "Pedestrian": 0.5, "Cyclist": 0.5}
TARGETS = ("3d", "2d", "mean")


def true_positive_targets(det: ObjectAnnotations, gt: ObjectAnnotations,
                          thresholds: Mapping[str, float] = TRUE_POSITIVE_IOU) -> torch.Tensor:
    """``(N_det,)`` float 0/1: detection ``i`` overlaps a same-class ground-truth box with 3D IoU >= the threshold."""
    if len(det) == 0 or len(gt) == 0:
        return torch.zeros(len(det))
    iou = box_iou_3d(det.boxes3d.to(torch.float64), gt.boxes3d.to(torch.float64))
    return _reaches_threshold(iou, det.names, gt.names, thresholds)


def true_positive_targets_2d(boxes2d: torch.Tensor, in_image: torch.Tensor, names: Sequence[str],
                             gt: ObjectAnnotations, thresholds: Mapping[str, float] = TRUE_POSITIVE_IOU
                             ) -> torch.Tensor:
    """``(N_det,)`` float 0/1: detection ``i``'s image box (``boxes2d`` ``(N, 4)`` pixels, used where
    ``in_image``) overlaps a same-class ground-truth image box with IoU >= the threshold."""
    if len(names) == 0 or len(gt) == 0:
        return torch.zeros(len(names))
    iou = box_iou_2d(Boxes2D(boxes2d.to(torch.float64)), Boxes2D(gt.boxes2d.tensor.to(torch.float64)))
    return _reaches_threshold(iou, names, gt.names, thresholds) * in_image.float()


def _reaches_threshold(iou: torch.Tensor, names: Sequence[str], gt_names: Sequence[str],
                       thresholds: Mapping[str, float]) -> torch.Tensor:
    same = torch.tensor([[d == g for g in gt_names] for d in names], dtype=torch.bool)
    best = torch.where(same, iou, torch.zeros_like(iou)).amax(dim=1)
    thr = torch.tensor([thresholds.get(name, 0.7) for name in names], dtype=best.dtype)
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
        target: ``"3d"``, ``"2d"`` or ``"mean"`` (see the module docstring).
    """

    def __init__(self, *, cache_file: str, lidar_model: str, camera_model: str,
                 class_names: Sequence[str] = ("Car", "Pedestrian", "Cyclist"), fusion: Optional[dict] = None,
                 data_root: Optional[str] = None, target: str = "3d"):
        from perception.datasets import kitti_io
        from perception.fusion import LateFusion, RuleScorer
        from perception.fusion.detection_cache import load_detection_cache

        if target not in TARGETS:
            raise ValueError(f"FusionPairsDataset.target must be one of {TARGETS}, got {target!r}")
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
            self.items.append((inputs.candidates, _targets(target, lidar, inputs.projected, frame.annotations)))

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict:
        candidates, targets = self.items[index]
        return {"inputs": candidates, "data_samples": targets}

    @property
    def metainfo(self) -> dict:
        return {}


def _targets(target: str, lidar: ObjectAnnotations, projected, gt: ObjectAnnotations) -> torch.Tensor:
    if target == "3d":
        return true_positive_targets(lidar, gt)
    in_2d = true_positive_targets_2d(projected.boxes, projected.in_image, lidar.names, gt)
    return in_2d if target == "2d" else 0.5 * (true_positive_targets(lidar, gt) + in_2d)
