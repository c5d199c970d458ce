"""The fusion benchmark: single-sensor vs fused AP on a split, from a detection cache.

* 3D AP (KITTI, moderate, R40): LiDAR-only detections vs each fusion config's objects with a 3D box (written
  with their projected 2D boxes, as the LiDAR-only rows are, so that only the scores differ);
* 2D AP: LiDAR-only (projected 3D boxes) and camera-only detections vs each fusion config's objects with a 2D box
  (the camera's box where it saw the object, fused score).

Frames, labels and calibration come from the cache's data root; the same cached detections feed every row,
so the rows differ only in the fusion.  :func:`bootstrap_gains` resamples the frames to tell how far a fused
row's gain over the better single sensor can move on a split of that size.
"""
from __future__ import annotations

import os
from typing import Mapping, Sequence

from perception.structures import Detections2D, FusedDetections

from .detection_cache import DetectionCache
from .late_fusion import LateFusion

__all__ = ["fuse_cached", "camera_only_purity", "fusion_eval_data", "evaluate_fusion", "ap_table", "bootstrap_gains", "class_isolated_table", "camera_to_kitti",
           "format_table", "format_gains", "EVAL_CLASSES", "SINGLE_SENSOR_ROWS"]

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


def camera_only_purity(cache: DetectionCache, fusion: LateFusion, *, lidar_model: str, camera_model: str,
                       min_iou: float = 0.5, classes: Sequence[str] = EVAL_CLASSES) -> dict:
    """How often a camera-only object in LiDAR range is a real object the LiDAR missed, per class and camera score.

    The frames are fused as ``fusion`` does but with every object kept (``min_score`` 0).  A camera-only object
    (estimated depth within ``fusion.lidar_max_depth``) is *real* when its 2D box has IoU >= ``min_iou`` with a
    labelled object of its class that no LiDAR-backed object of the class covers at that IoU (any difficulty;
    DontCare regions are not counted).  Returns ``{class: {"objects": n, "real": k, "by_camera_score":
    [(low, high, n, k), ...]}}``: what an honest score for those objects can be.
    """
    import copy

    import torch

    from perception.datasets import kitti_io
    from perception.structures import Boxes2D, Sensor, box_iou_2d

    keep_all = copy.copy(fusion)
    keep_all.min_score = {c: 0.0 for c in fusion.min_score}
    fused = fuse_cached(cache, keep_all, lidar_model=lidar_model, camera_model=camera_model)
    edges = (0.0, 0.1, 0.2, 0.3, 0.5, 1.0 + 1e-6)
    counts = {c: torch.zeros(len(edges) - 1, 2, dtype=torch.int64) for c in classes}
    for fid, f in zip(cache.frame_ids, fused):
        labels = kitti_io.read_label(os.path.join(cache.data_root, "training", "label_2", f"{fid}.txt"))
        camera_only = f.sensors == int(Sensor.CAMERA)
        lidar_2d = f.seen_by(Sensor.LIDAR) & f.has_box2d
        for c in classes:
            cls = torch.tensor([n == c for n in f.names], dtype=torch.bool)
            sel = torch.nonzero(camera_only & cls).flatten()
            if not len(sel):
                continue
            depth = f.depth_range[sel].prod(dim=1).sqrt()            # the height-based depth (frustum centre)
            sel = sel[depth <= fusion.lidar_max_depth]
            gt = Boxes2D(torch.tensor([o.bbox for o in labels if o.type == c], dtype=torch.float32).reshape(-1, 4))
            real = torch.zeros(len(sel), dtype=torch.bool)
            if len(gt) and len(sel):
                missed = torch.ones(len(gt), dtype=torch.bool)
                own = torch.nonzero(lidar_2d & cls).flatten()
                if len(own):
                    missed = box_iou_2d(gt, Boxes2D(f.boxes2d.tensor[own])).max(dim=1).values < min_iou
                iou = box_iou_2d(Boxes2D(f.boxes2d.tensor[sel]), gt)
                real = ((iou >= min_iou) & missed[None, :]).any(dim=1)
            score = f.camera_scores[sel]
            for b in range(len(edges) - 1):
                inside = (score >= edges[b]) & (score < edges[b + 1])
                counts[c][b] += torch.tensor([int(inside.sum()), int((inside & real).sum())])
    return {c: {"objects": int(v[:, 0].sum()), "real": int(v[:, 1].sum()),
                "by_camera_score": [(edges[b], min(edges[b + 1], 1.0), int(v[b, 0]), int(v[b, 1]))
                                    for b in range(len(edges) - 1)]}
            for c, v in counts.items()}


def camera_to_kitti(det: Detections2D) -> list:
    """2D-only KITTI result lines of camera detections (3D fields: the devkit's unknown marker)."""
    from perception.datasets.kitti_io import UNKNOWN_DIMENSIONS, UNKNOWN_LOCATION, UNKNOWN_ROTATION, KittiObject

    return [KittiObject(type=n, truncated=0.0, occluded=0, alpha=UNKNOWN_ROTATION, bbox=tuple(b),
                        dimensions=UNKNOWN_DIMENSIONS, location=UNKNOWN_LOCATION, rotation_y=UNKNOWN_ROTATION,
                        score=float(s))
            for n, b, s in zip(det.names, det.boxes.tensor.tolist(), det.scores.tolist())]


_REQUEST = {"classes": EVAL_CLASSES, "overlap_sets": ("strict",)}


def _ap(data, metric: str, force_last_threshold: bool = True) -> dict[str, float]:
    from perception.evaluation.kitti import evaluate_kitti

    res = evaluate_kitti(data, metrics=(metric,), force_last_threshold=force_last_threshold, **_REQUEST)
    return _moderate_r40(res, metric)


def _moderate_r40(res, metric: str) -> dict[str, float]:
    per_class = {c: res.ap["strict"][metric][c]["moderate"]["R40"] for c in EVAL_CLASSES}
    return per_class | {"mean": sum(per_class.values()) / len(per_class)}


def fusion_eval_data(cache: DetectionCache, fusions: Mapping[str, LateFusion], *, lidar_model: str,
                     camera_model: str, progress: bool = False, baselines: bool = True) -> dict:
    """``{"3D": {row: KittiEvalData}, "2D": {...}}``: what :func:`evaluate_fusion` scores, one evaluation per
    row and metric (rows as there)."""
    from perception.datasets import kitti_io
    from perception.evaluation.kitti import KittiEvalData
    from perception.evaluation.kitti.convert import predictions_to_kitti

    from .formats.kitti import fused_to_kitti

    gt = [kitti_io.read_label(os.path.join(cache.data_root, "training", "label_2", f"{fid}.txt"))
          for fid in cache.frame_ids]
    data = {"3D": {}, "2D": {}}

    def add(metric, row, dt):
        data[metric][row] = KittiEvalData.from_objects(gt, dt, frame_ids=cache.frame_ids)

    if baselines:
        calibs, sizes = _calibs_and_sizes(cache)
        lidar_dt = [predictions_to_kitti(d, c, s) for d, c, s in zip(cache.lidar[lidar_model], calibs, sizes)]
        add("3D", "lidar_only", lidar_dt)
        add("2D", "lidar_only", lidar_dt)
        add("2D", "camera_only", [camera_to_kitti(d) for d in cache.camera[camera_model]])
    for name, fusion in fusions.items():
        fused = fuse_cached(cache, fusion, lidar_model=lidar_model, camera_model=camera_model, progress=progress)
        add("3D", name, [fused_to_kitti(f, with_box3d_only=True, boxes2d="projected") for f in fused])
        add("2D", name, [fused_to_kitti(f.select(f.has_box2d)) for f in fused])
    return data


def evaluate_fusion(cache: DetectionCache, fusions: Mapping[str, LateFusion], *, lidar_model: str,
                    camera_model: str, progress: bool = False, baselines: bool = True) -> dict:
    """``{"3D": {row: {class: AP, "mean": AP}}, "2D": {...}, "frames": N}``; rows ``lidar_only`` /
    ``camera_only`` (unless ``baselines=False``: they do not change between calls on one cache) and one per
    fusion."""
    data = fusion_eval_data(cache, fusions, lidar_model=lidar_model, camera_model=camera_model, progress=progress,
                            baselines=baselines)
    return ap_table(data) | {"frames": len(cache.frame_ids)}


def ap_table(data: Mapping[str, Mapping], *, force_last_threshold: bool = True) -> dict:
    """``{metric: {row: {class: AP, "mean": AP}}}`` of :func:`fusion_eval_data`'s evaluations.
    ``force_last_threshold=False``: not the devkit's number, a check of how much of a difference comes from its
    forced last recall sample (:func:`perception.evaluation.kitti.evaluate.get_thresholds`)."""
    return {metric: {row: _ap(d, metric, force_last_threshold) for row, d in rows.items()}
            for metric, rows in data.items()}


def class_isolated_table(data: Mapping[str, Mapping]) -> dict:
    """:func:`ap_table` with each class evaluated on its own detections only
    (:meth:`~perception.evaluation.kitti.KittiEvalData.only_detections_of`).

    The devkit lets short detections of any class absorb the evaluated class's ground truth, so a fuser that
    changes only car boxes can move the pedestrian AP; this table separates such effects from the class's own
    detections.  A diagnostic beside the devkit's numbers, never instead of them.
    """
    from perception.evaluation.kitti import evaluate_kitti

    def isolated_ap(d, metric: str, cls: str) -> float:
        res = evaluate_kitti(d.only_detections_of(cls), metrics=(metric,), classes=(cls,),
                             overlap_sets=_REQUEST["overlap_sets"])
        return res.ap["strict"][metric][cls]["moderate"]["R40"]

    out = {}
    for metric, rows in data.items():
        out[metric] = {}
        for row, d in rows.items():
            per_class = {c: isolated_ap(d, metric, c) for c in EVAL_CLASSES}
            out[metric][row] = per_class | {"mean": sum(per_class.values()) / len(per_class)}
    return out


SINGLE_SENSOR_ROWS = {"3D": ("lidar_only",), "2D": ("lidar_only", "camera_only")}


def bootstrap_gains(data: Mapping[str, Mapping], *, resamples: int = 200, seed: int = 0, level: float = 0.95,
                    progress: bool = False) -> dict:
    """Paired bootstrap over frames of each fused row's gain over the better single sensor.

    ``data`` is :func:`fusion_eval_data`'s result (with its baselines).  Per metric and class the better single
    sensor is the single-sensor row with the higher AP on the whole split (3D: LiDAR-only; 2D: LiDAR-only or
    camera-only); the gain of a fused row is its AP minus that row's.  Each resample draws the split's frames
    with replacement, the same frames for every row, and evaluates every row on them, so the spread is that of
    the *difference* on splits of this size.

    Returns ``{metric: {row: {class: {"gain", "low", "median", "high", "p_worse", "baseline"}}}}``: the gain on
    the whole split, the central ``level`` interval and the median of the resampled gains, the fraction of
    resamples in which the fused row is worse, and the name of the better single sensor; plus ``"resamples"``,
    ``"level"`` and ``"frames"``.
    """
    import numpy as np
    from tqdm import tqdm

    from perception.evaluation.kitti import evaluate_kitti_resampled

    if resamples < 1 or not 0 < level < 1:
        raise ValueError(f"bootstrap_gains: need resamples >= 1 and 0 < level < 1, got {resamples}, {level}")
    missing = [(m, r) for m, rows in SINGLE_SENSOR_ROWS.items() for r in rows if r not in data.get(m, {})]
    if missing:
        raise ValueError(f"bootstrap_gains: the single-sensor rows {missing} are missing (baselines=False?)")
    num_frames = next(iter(data["3D"].values())).num_frames
    full = ap_table(data)
    best = {m: {c: max(SINGLE_SENSOR_ROWS[m], key=lambda r: full[m][r][c]) for c in EVAL_CLASSES} for m in data}
    rng = np.random.default_rng(seed)
    frame_sets = [rng.integers(0, num_frames, num_frames) for _ in range(resamples)]
    draws = {m: {} for m in data}
    with tqdm(total=resamples * sum(map(len, data.values())), desc="bootstrap", unit="eval",
              disable=not progress) as bar:
        for m, rows in data.items():
            for r, d in rows.items():
                draws[m][r] = []
                for res in evaluate_kitti_resampled(d, frame_sets, metrics=(m,), **_REQUEST):
                    draws[m][r].append(_moderate_r40(res, m))
                    bar.update()
    out = {"resamples": resamples, "level": level, "frames": num_frames}
    tail = (1.0 - level) / 2.0 * 100.0
    for m, rows in data.items():
        out[m] = {}
        for r in rows:
            if r in SINGLE_SENSOR_ROWS[m]:
                continue
            out[m][r] = {}
            for c in EVAL_CLASSES:
                b = best[m][c]
                gains = np.array([x[c] - y[c] for x, y in zip(draws[m][r], draws[m][b])])
                low, median, high = np.percentile(gains, [tail, 50.0, 100.0 - tail])
                out[m][r][c] = {"gain": full[m][r][c] - full[m][b][c], "low": float(low), "median": float(median),
                                "high": float(high), "p_worse": float(np.mean(gains < 0)), "baseline": b}
    return out


def format_gains(gains: dict, classes: Sequence[str] = EVAL_CLASSES) -> str:
    """Markdown table of :func:`bootstrap_gains`' result."""
    pct = f"{gains['level'] * 100:g} %"
    lines = [f"Gain over the better single sensor, AP points [{pct} interval, {gains['resamples']} paired "
             f"bootstrap resamples of {gains['frames']} frames]; p(worse): share of resamples below it", "",
             "| metric | row | " + " | ".join(classes) + " |", "|---|---|" + "---|" * len(classes)]
    for metric in ("3D", "2D"):
        for row, per_class in gains.get(metric, {}).items():
            cells = [f"{v['gain']:+.2f} [{v['low']:+.2f}, {v['high']:+.2f}] p(worse) {v['p_worse']:.2f}"
                     for v in (per_class[c] for c in classes)]
            lines.append(f"| {metric} | {row} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


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
