"""Choose the rule fuser's settings per class on a tuning split (never the split that is reported).

Every combination of the grid is evaluated once (all classes at a time: association is class-aware, so a class's
settings change only that class's objects); for each class the combination with the best worst-case gain wins:
``max over settings of min(3D AP - LiDAR-only 3D AP, 2D AP - best single-sensor 2D AP)``, ties broken by the
sum of the two gains.  Setting boost 0, miss factor 1, LiDAR boxes, a tiny camera-only factor and the output's
operating point at the LiDAR detector's score cut reproduces the LiDAR-only ranking (:data:`LIDAR_ONLY_SETTINGS`):
the camera-only objects in LiDAR range fall below the cut and those beyond it are smaller than the moderate
difficulty's 25 pixels (a gain of 0 at moderate).  With ``min_score = 0`` instead, every camera-only object is kept
below the LiDAR-backed ones, and that is not a zero gain: the tail still moves 2D AP (R40 samples precision where
recall crosses each 1/40 step, and the devkit always samples the last true positive, which then falls into the
tail; worst 500-frame quarters of the simulated tuning split: -0.3 to -0.9).  The coordinate search, which may
never visit the LiDAR-only setting (it changes one setting at a time), ends by comparing each class with it: a
class whose tuned settings do not beat LiDAR-only on its worst fold falls back to it.
"""
from __future__ import annotations

import dataclasses
import itertools
from typing import Mapping, Optional, Sequence

from .detection_cache import DetectionCache
from .evaluation import EVAL_CLASSES, evaluate_fusion
from .late_fusion import LateFusion, per_class
from .rule_scorer import RuleScorer

__all__ = ["DEFAULT_GRID", "SCORER_KEYS", "FUSION_KEYS", "LIDAR_ONLY_SETTINGS", "TuningSplit", "tuning_split",
           "tune_rule_fusion", "tune_rule_fusion_coordinates", "clocs_gate_from_folds"]

DEFAULT_GRID = {"boost": (0.0, 0.1, 0.3, 0.5, 1.0), "miss_factor": (0.8, 1.0),
                "camera_only_factor": (0.01, 0.05, 0.3, 0.6), "box2d": ("lidar", "mean", "camera"),
                "camera_duplicate_iou": (None, 0.3, 0.5, 0.7), "min_score": (0.0, 0.05, 0.1)}
#: The grid's keys: the rule scorer's arguments, then LateFusion's.
SCORER_KEYS = ("boost", "miss_factor")
FUSION_KEYS = ("camera_only_factor", "box2d", "camera_duplicate_iou", "min_score")
#: The rule fuser's settings that keep a class's LiDAR-only scores and projected boxes and drop its camera-only
#: objects in LiDAR range (their score, 0.01 x the camera's, is below SST's own 0.1 cut): the fallback of the
#: coordinate search.
LIDAR_ONLY_SETTINGS = {"boost": 0.0, "miss_factor": 1.0, "camera_only_factor": 0.01, "box2d": "lidar",
                       "camera_duplicate_iou": None, "min_score": 0.1}


@dataclasses.dataclass(frozen=True)
class TuningSplit:
    """A tuning cache cut into folds (frame ``i`` in fold ``i % folds``), with the single-sensor AP of each fold
    and of the whole cache (:func:`evaluate_fusion`'s baseline rows), computed once per tuning run."""

    parts: list
    fold_baselines: list
    baselines: dict


def tuning_split(cache: DetectionCache, folds: int, *, lidar_model: str, camera_model: str) -> TuningSplit:
    n = len(cache.frame_ids)
    if folds < 1 or folds > n:
        raise ValueError(f"tune_rule_fusion: folds must be in [1, {n}], got {folds}")
    parts = [cache.subset([i for i in range(n) if i % folds == f]) for f in range(folds)] if folds > 1 else [cache]
    bases = [evaluate_fusion(part, {}, lidar_model=lidar_model, camera_model=camera_model) for part in parts]
    whole = bases[0] if folds == 1 else evaluate_fusion(cache, {}, lidar_model=lidar_model, camera_model=camera_model)
    return TuningSplit(parts=parts, fold_baselines=bases, baselines=whole)


def tune_rule_fusion(cache: DetectionCache, fusion_kwargs: Mapping, *, lidar_model: str, camera_model: str,
                     grid: Mapping[str, Sequence] = DEFAULT_GRID, classes: Sequence[str] = EVAL_CLASSES,
                     folds: Optional[int] = None, split: Optional[TuningSplit] = None,
                     progress: bool = True) -> dict:
    """``{"settings": {class: {setting: value}}, "gains": {class: (d3d, d2d)}, "worst_fold_gain": {class: g},
    "baselines": {...}}`` from the grid evaluated on ``cache``.

    ``grid``: ``{setting: candidate values}`` for every key of :data:`SCORER_KEYS` and :data:`FUSION_KEYS`; a
    candidate may itself be per class (``{"Car": 0.3, ...}``), which is how a config's chosen settings are held
    fixed while another one is tuned (``tools/tune_fusion.py --only``).

    ``folds > 1`` splits the frames into that many folds (frame ``i`` in fold ``i % folds``) and scores a setting
    by its worst gain over the folds and the two metrics, so that a setting which helps only part of the data
    is not chosen; ``gains`` are then the means over the folds.  ``split``: the folds and their single-sensor AP
    from :func:`tuning_split` (computed here when not given); the number of folds is then the split's, and a
    ``folds`` that disagrees is an error.  Without either, one fold (the whole cache).
    """
    from tqdm import tqdm

    keys = SCORER_KEYS + FUSION_KEYS
    if set(grid) != set(keys):
        raise ValueError(f"tune_rule_fusion: the grid must have exactly the keys {list(keys)}, got {sorted(grid)}")
    combos = list(itertools.product(*(grid[k] for k in keys)))
    fusions = []
    for combo in combos:
        s = dict(zip(keys, combo))
        kwargs = dict(fusion_kwargs) | {k: s[k] for k in FUSION_KEYS}
        fusions.append(LateFusion(scorer=RuleScorer(**{k: s[k] for k in SCORER_KEYS}), class_names=classes,
                                  **kwargs))
    if split is None:
        split = tuning_split(cache, 1 if folds is None else folds, lidar_model=lidar_model, camera_model=camera_model)
    elif folds is not None and folds != len(split.parts):
        raise ValueError(f"tune_rule_fusion: split has {len(split.parts)} folds, folds={folds}")
    parts, bases = split.parts, split.fold_baselines
    # deltas[k][f][c] = (d3D, d2D) of setting k on fold f against that fold's LiDAR-only / better-sensor AP
    deltas = []
    for k in tqdm(range(len(combos)), desc="tuning", unit="setting", disable=not progress):
        per_fold = []
        for part, base in zip(parts, bases):
            t = evaluate_fusion(part, {k: fusions[k]}, lidar_model=lidar_model, camera_model=camera_model,
                                baselines=False)
            per_fold.append({c: (t["3D"][k][c] - base["3D"]["lidar_only"][c],
                                 t["2D"][k][c] - max(base["2D"]["lidar_only"][c], base["2D"]["camera_only"][c]))
                             for c in classes})
        deltas.append(per_fold)
    settings, gains, worst = {}, {}, {}
    for c in classes:
        def key(k):
            d = [fold[c] for fold in deltas[k]]
            return min(min(d3, d2) for d3, d2 in d), sum(d3 + d2 for d3, d2 in d)

        best = max(range(len(combos)), key=key)
        settings[c] = {name: value[c] if isinstance(value, Mapping) else value
                       for name, value in zip(keys, combos[best])}
        d = [fold[c] for fold in deltas[best]]
        gains[c] = (sum(d3 for d3, _ in d) / len(d), sum(d2 for _, d2 in d) / len(d))
        worst[c] = key(best)[0]
    base = split.baselines
    baselines = {"3D lidar_only": base["3D"]["lidar_only"], "2D lidar_only": base["2D"]["lidar_only"],
                 "2D camera_only": base["2D"]["camera_only"]}
    return {"settings": settings, "gains": gains, "worst_fold_gain": worst, "baselines": baselines,
            "combinations": len(combos), "folds": len(parts)}


def tune_rule_fusion_coordinates(cache: DetectionCache, fusion_kwargs: Mapping, *, start: Mapping[str, object],
                                 lidar_model: str, camera_model: str, grid: Mapping[str, Sequence] = DEFAULT_GRID,
                                 classes: Sequence[str] = EVAL_CLASSES, max_sweeps: int = 3, folds: int = 1,
                                 progress: bool = True) -> dict:
    """Coordinate search from ``start`` (``{setting: value or per-class mapping}``, e.g. a config's): each
    setting in turn is tuned over its ``grid`` candidates with the others held, per class, until a sweep changes
    nothing (at most ``max_sweeps``).  Far fewer evaluations than the full grid, so a larger tuning split is
    affordable.  Then each class keeps its tuned settings only if their worst-fold gain beats that of
    :data:`LIDAR_ONLY_SETTINGS` (one more evaluation), else falls back to those.  Returns
    :func:`tune_rule_fusion`'s result of the last step (with the fallen-back classes' settings and gains) plus
    ``sweeps``, ``evaluations`` and ``lidar_only_classes`` (the classes that fell back)."""
    keys = SCORER_KEYS + FUSION_KEYS
    current = {k: per_class(start[k], classes, f"start.{k}") for k in keys}
    split = tuning_split(cache, folds, lidar_model=lidar_model, camera_model=camera_model)   # once for all steps
    evaluations = 0
    for sweep in range(1, max_sweeps + 1):
        changed = False
        for key in keys:
            step = {k: (tuple(grid[k]) if k == key else (current[k],)) for k in keys}
            result = tune_rule_fusion(cache, fusion_kwargs, lidar_model=lidar_model, camera_model=camera_model,
                                      grid=step, classes=classes, folds=folds, split=split, progress=progress)
            evaluations += result["combinations"]
            chosen = {c: result["settings"][c][key] for c in classes}
            changed |= chosen != current[key]
            current[key] = chosen
        if not changed:
            break
    fallback = tune_rule_fusion(cache, fusion_kwargs, lidar_model=lidar_model, camera_model=camera_model,
                                grid={k: (LIDAR_ONLY_SETTINGS[k],) for k in keys}, classes=classes, split=split,
                                progress=False)
    evaluations += 1
    lidar_only = [c for c in classes if fallback["worst_fold_gain"][c] >= result["worst_fold_gain"][c]]
    for c in lidar_only:
        for field in ("settings", "gains", "worst_fold_gain"):
            result[field][c] = fallback[field][c]
    return result | {"sweeps": sweep, "evaluations": evaluations, "lidar_only_classes": lidar_only}


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
