"""``ObjectSample``: ground-truth sampling ("copy-paste") from the GT database of ``create_data``."""
from __future__ import annotations

import os
from typing import Mapping, Optional, Sequence

import numpy as np
import torch
from mmcv.transforms import BaseTransform

from perception.datasets import kitti_io
from perception.datasets.gt_database import load_db_infos
from perception.registry import TRANSFORMS
from perception.structures import Boxes3D, CoordFrame, box_iou_bev

from ._common import get_points

__all__ = ["ObjectSample"]


@TRANSFORMS.register_module()
class ObjectSample(BaseTransform):
    """Paste objects from the ground-truth database into the scene (SECOND / mmdet3d GT sampling).

    For each class ``c`` of ``sample_groups`` (in that order) up to ``sample_groups[c] - (number of c
    objects already in the frame)`` database objects are drawn without replacement from the class's pool
    (entries with at least ``min_points[c]`` points and a difficulty not in ``remove_difficulties``).  A
    drawn box is accepted only if its BEV footprint does not overlap (:func:`box_iou_bev` ``> 0``) any box of
    the frame or any box accepted before it.  Then the scene points inside the accepted boxes are deleted,
    and the accepted objects' points (stored relative to their box centre, moved back to it) are put in
    front of the scene points.  Objects keep their database position: the database comes from the same
    sensor, so they sit where such objects were actually seen.

    Randomness: numpy's global RNG (seeded per worker by mmengine, like mmdet3d), or a private
    ``np.random.Generator`` when ``seed`` is given.

    Reads ``points`` (LiDAR frame, before geometric augmentations), ``gt_boxes_3d``, ``gt_labels_3d``,
    ``gt_names_3d``; writes the same keys (pasted objects appended) and ``num_sampled_objects`` (int).
    Raises ``ValueError`` when 2D targets (``gt_bboxes``) are loaded: pasted objects have no 2D box in
    this image, so this transform is LiDAR-only (the image is not changed either).

    Args:
        db_info_path: ``kitti_dbinfos_train.pkl``; relative paths are joined to ``data_root``.
        data_root: dataset root; the database entries' paths are relative to it.
        classes: the dataset's classes, in label order (labels of pasted objects index into it).
        sample_groups: ``{class name: target number of objects of that class per frame}``.
        min_points: ``{class name: minimum LiDAR points of a database object}`` (default 0 for all).
        remove_difficulties: database entries of these KITTI difficulties are never drawn.
        num_point_features: float32 values per record in the database ``.bin`` files.
        use_dims: record columns kept (must match the scene's ``LoadPointsFromFile.use_dims``).
        seed: seed of a private generator instead of numpy's global RNG.
    """

    def __init__(self, db_info_path: str, classes: Sequence[str], sample_groups: Mapping[str, int],
                 data_root: str = "", min_points: Optional[Mapping[str, int]] = None,
                 remove_difficulties: Sequence[int] = (-1,), num_point_features: int = 4,
                 use_dims: Optional[Sequence[int]] = None, seed: Optional[int] = None):
        self.data_root = data_root
        self.db_info_path = db_info_path if os.path.isabs(db_info_path) else os.path.join(data_root, db_info_path)
        self.classes = tuple(classes)
        self.sample_groups = {str(k): int(v) for k, v in dict(sample_groups).items()}
        self.min_points = {str(k): int(v) for k, v in dict(min_points or {}).items()}
        self.remove_difficulties = tuple(int(d) for d in remove_difficulties)
        self.num_point_features = int(num_point_features)
        self.use_dims = list(range(num_point_features)) if use_dims is None else [int(d) for d in use_dims]
        self.seed = seed
        self._rng = np.random.default_rng(seed) if seed is not None else None
        for name in list(self.sample_groups) + list(self.min_points):
            if name not in self.classes:
                raise ValueError(f"ObjectSample: class {name!r} is not in classes {self.classes}")
        db = load_db_infos(self.db_info_path)
        self.pools: dict[str, list[dict]] = {}
        self._pool_boxes: dict[str, np.ndarray] = {}
        for name, target in self.sample_groups.items():
            if target <= 0:
                continue
            if name not in db["infos"]:
                raise ValueError(f"{self.db_info_path}: no GT database entries for class {name!r} (database "
                                 f"classes: {sorted(db['infos'])}); rebuild it with --db-classes")
            pool = [e for e in db["infos"][name]
                    if e["num_points_in_gt"] >= self.min_points.get(name, 0)
                    and int(e["difficulty"]) not in self.remove_difficulties]
            self.pools[name] = pool
            self._pool_boxes[name] = np.asarray([e["box3d_lidar"] for e in pool], np.float32).reshape(-1, 7)

    # --------------------------------------------------------------------------- sampling
    def _choice(self, n: int, k: int) -> np.ndarray:
        rng = self._rng if self._rng is not None else np.random
        return np.asarray(rng.choice(n, size=k, replace=False), dtype=np.int64)

    def sample(self, gt_boxes: Boxes3D, gt_labels: torch.Tensor) -> list[tuple[str, dict]]:
        """Draw the objects to paste: a list of ``(class name, database entry)``, collision-free."""
        existing = gt_boxes.tensor.to(torch.float32)
        chosen: list[tuple[str, dict]] = []
        for name, target in self.sample_groups.items():
            pool = self.pools.get(name, [])
            label = self.classes.index(name)
            k = min(target - int((gt_labels == label).sum()), len(pool))
            if k <= 0:
                continue
            idx = self._choice(len(pool), k)
            cand = torch.from_numpy(self._pool_boxes[name][idx])
            cand_boxes = Boxes3D(cand, frame=CoordFrame.LIDAR)
            free = torch.ones(k, dtype=torch.bool)
            if len(existing):
                free = (box_iou_bev(cand_boxes, Boxes3D(existing, frame=CoordFrame.LIDAR)) <= 0).all(dim=1)
            overlap = box_iou_bev(cand_boxes, cand_boxes) > 0
            accepted: list[int] = []
            for i in range(k):
                if free[i] and not any(bool(overlap[i, j]) for j in accepted):
                    accepted.append(i)
            if accepted:
                existing = torch.cat([existing, cand[accepted]], dim=0)
                chosen.extend((name, pool[int(idx[i])]) for i in accepted)
        return chosen

    def transform(self, results: dict) -> dict:
        if "gt_bboxes" in results or "gt_bboxes_labels" in results:
            raise ValueError("ObjectSample pastes LiDAR objects that have no 2D box in this image; load "
                             "annotations with LoadAnnotations3D(with_bbox=False, with_label=False)")
        if results.get("transformation_3d_flow"):
            raise ValueError(f"ObjectSample must run before geometric augmentations (database objects are in "
                             f"the sensor frame); already applied: {results['transformation_3d_flow']}")
        for key in ("gt_boxes_3d", "gt_labels_3d"):
            if key not in results:
                raise KeyError(f"ObjectSample needs results[{key!r}] (LoadAnnotations3D before it)")
        points = get_points(results, self)
        gt_boxes, gt_labels = results["gt_boxes_3d"], results["gt_labels_3d"]
        chosen = self.sample(gt_boxes, gt_labels)
        results["num_sampled_objects"] = len(chosen)
        if not chosen:
            return results
        boxes = torch.from_numpy(np.stack([np.asarray(e["box3d_lidar"], np.float32) for _, e in chosen]))
        new_boxes = Boxes3D(boxes.to(gt_boxes.tensor.dtype), frame=CoordFrame.LIDAR)
        obj_points = []
        for (_, entry), box in zip(chosen, boxes):
            pts = kitti_io.read_points(os.path.join(self.data_root, entry["path"]), self.num_point_features)
            pts = torch.from_numpy(pts[:, self.use_dims].copy())
            pts[:, :3] += box[:3]
            obj_points.append(pts.to(points.dtype))
        if obj_points[0].shape[1] != points.shape[1]:
            raise ValueError(f"ObjectSample: database points have {obj_points[0].shape[1]} columns, the scene "
                             f"{points.shape[1]}; make use_dims match LoadPointsFromFile")
        inside = new_boxes.points_inside(points).any(dim=1)
        results["points"] = torch.cat(obj_points + [points[~inside]], dim=0)
        results["gt_boxes_3d"] = Boxes3D.cat([gt_boxes, new_boxes])
        labels = torch.tensor([self.classes.index(name) for name, _ in chosen], dtype=gt_labels.dtype)
        results["gt_labels_3d"] = torch.cat([gt_labels, labels])
        if "gt_names_3d" in results:
            results["gt_names_3d"] = list(results["gt_names_3d"]) + [name for name, _ in chosen]
        return results

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(db_info_path={self.db_info_path!r}, sample_groups={self.sample_groups}, "
                f"min_points={self.min_points}, remove_difficulties={self.remove_difficulties}, seed={self.seed})")
