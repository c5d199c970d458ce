"""The fusion benchmark: single-sensor vs fused AP on a split, from a detection cache.

* 3D AP (KITTI, moderate, R40): LiDAR-only detections vs each fusion config's objects with a 3D box (written
  with their projected 2D boxes, as the LiDAR-only rows are, so that only the scores differ);
* 2D AP: LiDAR-only (projected 3D boxes) and camera-only detections vs each fusion config's objects with a 2D box
  (the camera's box where it saw the object, fused score).

Frames, labels and calibration come from the cache's data root; the same cached detections feed every row,
so the rows differ only in the fusion.
"""
from __future__ import annotations

import os
from typing import Mapping, Sequence

from perception.structures import Detections2D, FusedDetections

from .detection_cache import DetectionCache
from .late_fusion import LateFusion

__all__ = ["fuse_cached", "evaluate_fusion", "camera_to_kitti", "format_table", "EVAL_CLASSES"]

EVAL_CLASSES = ("Car", "Pedestrian", "Cyclist")


def fuse_cached(cache: DetectionCache, fusion: LateFusion, *, lidar_model: str, camera_model: str,
                progress: bool = False) -> list[FusedDetections]:
    """Fuse the cached detections of every frame (no images are decoded: sizes come from the PNG headers)."""
    from tqdm import tqdm

    calibs, sizes = _calibs_and_sizes(cache)
    return [fusion(frame_id=fid, calib=calibs[k], image_size=sizes[k], lidar=cache.lidar[lidar_model][k],
                   camera=cache.camera[camera_model][k])
            for k, fid in enumerate(tqdm(cache.frame_ids, desc="fusing", unit="frame", disable=not progress))]


def _calibs_and_sizes(cache: DetectionCache) -> tuple[list, list]:
    from perception.datasets import kitti_io

    base = os.path.join(cache.data_root, "training")
    calibs = [kitti_io.read_calib(os.path.join(base, "calib", f"{fid}.txt")) for fid in cache.frame_ids]
    sizes = [kitti_io.read_image_size(os.path.join(base, "image_2", f"{fid}.png")) for fid in cache.frame_ids]
    return calibs, sizes


def camera_to_kitti(det: Detections2D) -> list:
    """2D-only KITTI result lines of camera detections (3D fields: the devkit's unknown marker)."""
    from perception.datasets.kitti_io import UNKNOWN_DIMENSIONS, UNKNOWN_LOCATION, UNKNOWN_ROTATION, KittiObject

    return [KittiObject(type=n, truncated=0.0, occluded=0, alpha=UNKNOWN_ROTATION, bbox=tuple(b),
                        dimensions=UNKNOWN_DIMENSIONS, location=UNKNOWN_LOCATION, rotation_y=UNKNOWN_ROTATION,
                        score=float(s))
            for n, b, s in zip(det.names, det.boxes.tensor.tolist(), det.scores.tolist())]


def _ap(gt, dt, metric: str) -> dict[str, float]:
    from perception.evaluation.kitti import KittiEvalData, evaluate_kitti

    res = evaluate_kitti(KittiEvalData.from_objects(gt, dt), classes=EVAL_CLASSES, overlap_sets=("strict",),
                         metrics=(metric,))
    per_class = {c: res.ap["strict"][metric][c]["moderate"]["R40"] for c in EVAL_CLASSES}
    return per_class | {"mean": sum(per_class.values()) / len(per_class)}


def evaluate_fusion(cache: DetectionCache, fusions: Mapping[str, LateFusion], *, lidar_model: str,
                    camera_model: str, progress: bool = False, baselines: bool = True) -> dict:
    """``{"3D": {row: {class: AP, "mean": AP}}, "2D": {...}, "frames": N}``; rows ``lidar_only`` /
    ``camera_only`` (unless ``baselines=False``: they do not change between calls on one cache) and one per
    fusion."""
    from perception.datasets import kitti_io
    from perception.evaluation.kitti.convert import predictions_to_kitti

    from .formats.kitti import fused_to_kitti

    gt = [kitti_io.read_label(os.path.join(cache.data_root, "training", "label_2", f"{fid}.txt"))
          for fid in cache.frame_ids]
    calibs, sizes = _calibs_and_sizes(cache)
    lidar_dt = [predictions_to_kitti(d, c, s) for d, c, s in zip(cache.lidar[lidar_model], calibs, sizes)]
    camera_dt = [camera_to_kitti(d) for d in cache.camera[camera_model]]
    table = {"3D": {}, "2D": {}, "frames": len(cache.frame_ids)}
    if baselines:
        table["3D"]["lidar_only"] = _ap(gt, lidar_dt, "3D")
        table["2D"] |= {"lidar_only": _ap(gt, lidar_dt, "2D"), "camera_only": _ap(gt, camera_dt, "2D")}
    for name, fusion in fusions.items():
        fused = fuse_cached(cache, fusion, lidar_model=lidar_model, camera_model=camera_model, progress=progress)
        table["3D"][name] = _ap(gt, [fused_to_kitti(f, with_box3d_only=True, boxes2d="projected") for f in fused],
                                "3D")
        table["2D"][name] = _ap(gt, [fused_to_kitti(f.select(f.has_box2d)) for f in fused], "2D")
    return table


def format_table(table: dict, classes: Sequence[str] = EVAL_CLASSES) -> str:
    """Markdown tables of :func:`evaluate_fusion`'s result."""
    lines = []
    for metric in ("3D", "2D"):
        lines += [f"| {metric} AP R40 moderate | " + " | ".join(classes) + " | mean |",
                  "|---|" + "---:|" * (len(classes) + 1)]
        for row, values in table[metric].items():
            lines.append(f"| {row} | " + " | ".join(f"{values[c]:.2f}" for c in (*classes, "mean")) + " |")
        lines.append("")
    return "\n".join(lines)
