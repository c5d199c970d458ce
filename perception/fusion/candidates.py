"""The 2D-3D candidate pairs of one frame: CLOCs' sparse input tensor, and what the rule fuser reads.

For 3D detection ``i`` (projected into the image) and 2D detection ``j``, every
pair whose boxes overlap (IoU > 0, any classes) is a candidate, and each 3D
detection has one more "self" entry that stands for "no 2D partner", so a 3D
detection that no camera box overlaps still gets a score.  Features per entry
(``FEATURES`` names them, in order)::

    iou          2D IoU of the projected 3D box and the 2D box (0 for self)
    score_3d     the LiDAR detector's score
    score_2d     the 2D detector's score (0 for self)
    depth        camera depth of the 3D box centre / DEPTH_SCALE
    same_class   1 when the two detectors name the same class (0 for self)
    in_image     1 when the 3D box projects into the image
    is_self      1 for the self entry
    class_<c>    one-hot class of the 3D detection
"""
from __future__ import annotations

import dataclasses
from typing import Sequence

import torch

from perception.structures import Detections2D, ObjectAnnotations

from .association import ProjectedBoxes, pair_affinity

__all__ = ["Candidates", "build_candidates", "FEATURES", "DEPTH_SCALE"]

#: Depths are divided by this (m) so the feature is about 0..1 over the LiDAR range.
DEPTH_SCALE = 50.0
FEATURES = ("iou", "score_3d", "score_2d", "depth", "same_class", "in_image", "is_self")


@dataclasses.dataclass(frozen=True)
class Candidates:
    """Candidate pairs of one frame.

    Attributes:
        index: ``(K, 2)`` int64 ``[i (3D detection), j (2D detection, -1 for self)]``.
        features: ``(K, len(FEATURES) + num_classes)`` float32, see the module docstring.
        num_3d: number of 3D detections (every one has exactly one self entry).
    """

    index: torch.Tensor
    features: torch.Tensor
    num_3d: int

    @property
    def num_features(self) -> int:
        return self.features.shape[1]


def build_candidates(lidar: ObjectAnnotations, projected: ProjectedBoxes, camera: Detections2D,
                     class_names: Sequence[str]) -> Candidates:
    """Candidates of one frame from the LiDAR detections, their projections and the 2D detections."""
    if lidar.scores is None:
        raise ValueError("build_candidates: LiDAR detections need scores")
    n, m, c = len(lidar), len(camera), len(class_names)
    cls_index = {name: k for k, name in enumerate(class_names)}
    unknown = sorted({x for x in lidar.names if x not in cls_index})
    if unknown:
        raise ValueError(f"build_candidates: LiDAR classes {unknown} not in {tuple(class_names)}")
    onehot = torch.zeros(n, c)
    onehot[torch.arange(n), torch.tensor([cls_index[x] for x in lidar.names], dtype=torch.int64)] = 1.0
    s3d = lidar.scores.float()
    depth = projected.depth.float() / DEPTH_SCALE
    in_image = projected.in_image.float()
    self_rows = torch.cat([torch.zeros(n, 1), s3d[:, None], torch.zeros(n, 1), depth[:, None], torch.zeros(n, 1),
                           in_image[:, None], torch.ones(n, 1), onehot], dim=1)
    self_index = torch.stack([torch.arange(n), torch.full((n,), -1)], dim=1)
    if n and m:
        iou, _ = pair_affinity(projected.boxes, camera.boxes.tensor)
        iou = torch.where(projected.in_image[:, None], iou, torch.zeros_like(iou))
        i, j = torch.nonzero(iou > 0, as_tuple=True)
        same = torch.tensor([lidar.names[a] == camera.names[b] for a, b in zip(i.tolist(), j.tolist())],
                            dtype=torch.float32)
        pair_rows = torch.cat([iou[i, j][:, None], s3d[i][:, None], camera.scores.float()[j][:, None],
                               depth[i][:, None], same[:, None], in_image[i][:, None], torch.zeros(len(i), 1),
                               onehot[i]], dim=1)
        pair_index = torch.stack([i, j], dim=1)
    else:
        pair_rows = torch.zeros(0, len(FEATURES) + c)
        pair_index = torch.zeros(0, 2, dtype=torch.int64)
    return Candidates(index=torch.cat([self_index, pair_index]).long(),
                      features=torch.cat([self_rows, pair_rows]).float(), num_3d=n)
