"""Choose the rule fuser's settings per class on a tuning split (never the split that is reported).

Every combination of the grid is evaluated once (all classes at a time: association is class-aware, so a class's
settings change only that class's objects); for each class the combination with the best worst-case gain wins:
``max over settings of min(3D AP - LiDAR-only 3D AP, 2D AP - best single-sensor 2D AP)``, ties broken by the
sum of the two gains.  Setting boost 0, miss factor 1, LiDAR boxes and a tiny camera-only factor reproduces the
LiDAR-only ranking with camera-only objects below it, so the best worst-case gain is about 0 or more on the
tuning split by construction.
"""
from __future__ import annotations

import itertools
from typing import Mapping, Sequence

from .detection_cache import DetectionCache
from .evaluation import EVAL_CLASSES, evaluate_fusion
from .late_fusion import LateFusion
from .rule_scorer import RuleScorer

__all__ = ["DEFAULT_GRID", "tune_rule_fusion", "clocs_gate_from_folds"]

DEFAULT_GRID = {"boost": (0.0, 0.1, 0.3, 0.5, 1.0), "miss_factor": (0.8, 1.0),
                "camera_only_factor": (0.01, 0.05, 0.3, 0.6), "box2d": ("lidar", "mean", "camera")}


def tune_rule_fusion(cache: DetectionCache, fusion_kwargs: Mapping, *, lidar_model: str, camera_model: str,
                     grid: Mapping[str, Sequence] = DEFAULT_GRID, classes: Sequence[str] = EVAL_CLASSES,
                     progress: bool = True) -> dict:
    """``{"settings": {class: {boost, miss_factor, camera_only_factor, box2d}}, "gains": {class: (d3d, d2d)},
    "baselines": {...}}`` from the grid evaluated on ``cache``."""
    from tqdm import tqdm

    keys = ("boost", "miss_factor", "camera_only_factor", "box2d")
    combos = list(itertools.product(*(grid[k] for k in keys)))
    fusions = {}
    for combo in combos:
        s = dict(zip(keys, combo))
        kwargs = dict(fusion_kwargs) | {"camera_only_factor": s["camera_only_factor"], "box2d": s["box2d"]}
        fusions[combo] = LateFusion(scorer=RuleScorer(boost=s["boost"], miss_factor=s["miss_factor"]),
                                    class_names=classes, **kwargs)
    table = {"3D": {}, "2D": {}}
    for combo in tqdm(combos, desc="tuning", unit="setting", disable=not progress):
        t = evaluate_fusion(cache, {combo: fusions[combo]}, lidar_model=lidar_model, camera_model=camera_model)
        for metric in ("3D", "2D"):
            table[metric][combo] = t[metric][combo]
        base = t
    settings, gains = {}, {}
    for c in classes:
        ref3d = base["3D"]["lidar_only"][c]
        ref2d = max(base["2D"]["lidar_only"][c], base["2D"]["camera_only"][c])

        def key(combo):
            d3, d2 = table["3D"][combo][c] - ref3d, table["2D"][combo][c] - ref2d
            return min(d3, d2), d3 + d2

        best = max(combos, key=key)
        settings[c] = dict(zip(keys, best))
        gains[c] = (table["3D"][best][c] - ref3d, table["2D"][best][c] - ref2d)
    baselines = {"3D lidar_only": base["3D"]["lidar_only"], "2D lidar_only": base["2D"]["lidar_only"],
                 "2D camera_only": base["2D"]["camera_only"]}
    return {"settings": settings, "gains": gains, "baselines": baselines, "combinations": len(combos)}


def clocs_gate_from_folds(folds: Sequence[tuple[DetectionCache, object]], fusion_kwargs: Mapping, *,
                          lidar_model: str, camera_model: str, classes: Sequence[str] = EVAL_CLASSES) -> dict:
    """Which classes the learned fuser should leave alone, by cross-fitting.

    ``folds``: ``(held-out cache, ClocsFuser trained without those frames)`` pairs.  On each held-out fold the
    fuser runs with its learned correction and without it (``identity_classes`` = every class; all else equal);
    a class keeps the correction when its worst-case gain ``min(d 3D AP, d 2D AP)``, averaged over the folds, is
    positive.  Returns ``{"identity_classes": [...], "gains": {class: [(d3d, d2d) per fold]}}``.
    """
    import copy

    gains: dict[str, list] = {c: [] for c in classes}
    for cache, fuser in folds:
        off = copy.deepcopy(fuser)
        off.identity_classes = tuple(classes)
        fusions = {"on": LateFusion(scorer=fuser, class_names=classes, **fusion_kwargs),
                   "off": LateFusion(scorer=off, class_names=classes, **fusion_kwargs)}
        t = evaluate_fusion(cache, fusions, lidar_model=lidar_model, camera_model=camera_model)
        for c in classes:
            gains[c].append((t["3D"]["on"][c] - t["3D"]["off"][c], t["2D"]["on"][c] - t["2D"]["off"][c]))
    identity = [c for c in classes if sum(min(d3, d2) for d3, d2 in gains[c]) / len(gains[c]) <= 0]
    return {"identity_classes": identity, "gains": gains}
