"""Fast KITTI object evaluation: the devkit's numbers, vectorised across frames.

The procedure is exactly that of ``evaluate_object.cpp`` (see
:mod:`perception.evaluation.kitti.reference` for a line-by-line port and
``docs/evaluation.md`` for the rules); only the order of work differs:

1. Overlaps are computed once per metric family for every same-frame
   (ground truth, detection) pair, in one batch.
2. A ground truth can only ever be matched to a detection whose overlap
   exceeds the class threshold ("candidate pairs"); ground truth and
   detections without candidates are settled by counting alone.
3. The devkit's greedy matching visits the ground truth of a frame in file
   order.  We run that loop step by step over *all frames at once*: step
   ``r`` handles the ``r``-th ground truth having candidates in every frame.
4. The precision pass repeats the matching for every sampled score threshold.
   A frame's matching only depends on which of *its candidate* detections
   pass the threshold, so each frame is evaluated once per distinct such set
   ("scenario") -- all scenarios of all frames again in one batch -- and the
   counts are gathered per threshold.  False positives are counted without
   matching: every valid detection above the threshold that is neither
   assigned nor inside a DontCare region.
"""
from __future__ import annotations

import dataclasses
from typing import Iterable, Iterator, Optional, Sequence

import numpy as np

from .data import (CLASSES, DIFFICULTIES, MAX_OCCLUSION, MAX_TRUNCATION, METRICS, MIN_HEIGHT, MIN_OVERLAP,
                   N_SAMPLE_PTS, NEIGHBOUR_CLASS, OVERLAP_SETS, KittiEvalData, check_classes, check_overlap_sets,
                   frame_offsets, frame_rows)
from .overlaps import frame_pairs, image_overlap, pair_overlaps

__all__ = ["evaluate_kitti", "evaluate_kitti_resampled", "KittiEvalResult", "get_thresholds", "interpolate_precision",
           "average_precision",
           "devkit_flags", "ignore_flags"]

_NO_DETECTION = -10000000.0  # the devkit's initial "best score": detections scoring at or below it never match


# ----------------------------------------------------------------------------- shared devkit pieces
def get_thresholds(scores: np.ndarray, n_gt: int, force_last: bool = True) -> np.ndarray:
    """The devkit's ``getThresholds``: scores of true positives sampled at recall steps of 1/40.

    Scans the scores in descending order and keeps a score whenever its recall
    is the closest to the next recall step (or it is the last one).  Vectorised
    per recall step; the recall step is accumulated in floating point exactly
    like the C++ (``current_recall += 1.0/40``).

    ``force_last=False`` (not the devkit; a sensitivity check) keeps the last score only by the same rule as the
    others, i.e. when its recall has reached the next step: the devkit always keeps it, so a ranking's last true
    positive is credited with a whole recall step at its precision even when its recall falls short of the step.
    """
    v = np.sort(np.asarray(scores, dtype=np.float64))[::-1]
    n = len(v)
    out = []
    if n == 0:
        return np.zeros(0)
    i = np.arange(n, dtype=np.float64)
    left = (i + 1) / float(n_gt)
    right = np.where(np.arange(n) < n - 1, (i + 2) / float(n_gt), left)
    current, start, step = 0.0, 0, 1.0 / (N_SAMPLE_PTS - 1.0)
    while start < n:
        keep = ~((right[start:] - current) < (current - left[start:]))
        if force_last:
            keep[-1] = True
        elif not keep.any():
            break
        j = start + int(np.argmax(keep))
        out.append(v[j])
        current += step
        start = j + 1
    return np.asarray(out)


def interpolate_precision(values: np.ndarray, num_thresholds: int) -> np.ndarray:
    """The devkit's ``precision[i] = *max_element(precision.begin() + i, precision.end())`` for ``i <
    num_thresholds`` on a 41-array (entries past ``num_thresholds`` stay as they are).

    ``std::max_element`` keeps a leading NaN and skips later ones; so do we.
    """
    out = values.copy()
    if num_thresholds == 0:
        return out
    rev = np.where(np.isnan(values), -np.inf, values)[::-1]
    suffix = np.maximum.accumulate(rev)[::-1]
    head = np.where(np.isnan(values[:num_thresholds]), np.nan, suffix[:num_thresholds])
    out[:num_thresholds] = head
    return out


def average_precision(curve: np.ndarray) -> dict[str, float]:
    """R11 (recall 0, 0.1, ..., 1: every 4th of the 41 samples) and R40 (the 40 samples after recall 0), in %."""
    return {"R11": float(curve[0::4].sum() / 11 * 100), "R40": float(curve[1:].sum() / 40 * 100)}


def devkit_flags(data: KittiEvalData, classes: Sequence[str]) -> dict:
    """Which curves the devkit computes: AOS only if no detection has ``alpha == -10``; per class 2D if some
    detection has ``x1 >= 0``, BEV if one has a ground position and positive ``w, l``, 3D if one has a full
    position and positive ``h, w, l`` (the placeholders ``-1000``/``-10`` of 2D-only submissions)."""
    dt = data.dt
    flags = {"aos": bool(not np.any(dt.alpha == -10)), "2D": {}, "BEV": {}, "3D": {}, "num_dets": {}}
    h, w, l = dt.dims.T
    x, y, z = dt.loc.T
    ground = (x != -1000) & (z != -1000) & (w > 0) & (l > 0)
    full = ground & (y != -1000) & (h > 0)
    for c in classes:
        m = dt.name == c.lower()
        flags["num_dets"][c] = int(m.sum())
        flags["2D"][c] = bool(np.any(m & (dt.bbox[:, 0] >= 0)))
        flags["BEV"][c] = bool(np.any(m & ground))
        flags["3D"][c] = bool(np.any(m & full))
    return flags


def ignore_flags(data: KittiEvalData, cls: str, difficulty: int) -> tuple[np.ndarray, np.ndarray]:
    """The devkit's ``cleanData``: ``(ignored_gt, ignored_det)`` int8 arrays.

    ignored_gt: 0 counted ground truth of ``cls``; 1 neighbouring class, or ``cls`` but too occluded /
    truncated / small for the difficulty (may absorb a detection, never a FN); -1 anything else.
    ignored_det: 1 shorter than the difficulty's minimum height (any class); 0 ``cls``; -1 other classes.
    """
    gt, dt = data.gt, data.dt
    own = gt.name == cls.lower()
    neighbour = np.zeros(len(gt), dtype=bool)
    if cls in NEIGHBOUR_CLASS:
        neighbour = gt.name == NEIGHBOUR_CLASS[cls].lower()
    height = gt.bbox[:, 3] - gt.bbox[:, 1]
    hard = ((gt.occluded > MAX_OCCLUSION[difficulty]) | (gt.truncated > MAX_TRUNCATION[difficulty])
            | (height <= MIN_HEIGHT[difficulty]))
    ig_gt = np.full(len(gt), -1, dtype=np.int8)
    ig_gt[neighbour | (own & hard)] = 1
    ig_gt[own & ~hard] = 0
    det_height = np.trunc(np.abs(dt.bbox[:, 1] - dt.bbox[:, 3]))  # int32_t height = fabs(y1 - y2)
    ig_dt = np.where(dt.name == cls.lower(), 0, -1).astype(np.int8)
    ig_dt[det_height < MIN_HEIGHT[difficulty]] = 1
    return ig_gt, ig_dt


# ----------------------------------------------------------------------------- result
@dataclasses.dataclass
class KittiEvalResult:
    """APs of one evaluation.

    Attributes:
        ap: ``{overlap_set: {metric: {class: {difficulty: {"R11": ap, "R40": ap}}}}}`` in percent;
            ``metric`` is one of ``2D``, ``BEV``, ``3D`` and ``AOS``.  Curves the devkit would not compute
            (see :func:`devkit_flags`) are absent; a class without any detection scores 0.
        curves: the interpolated 41-point precision (or orientation similarity) curves, same nesting,
            ``(3, 41)`` per class (easy, moderate, hard).
        thresholds: the minimum overlaps used, ``{overlap_set: {metric: {class: value}}}``.
        num_frames, num_gt, num_dt: counts; ``skipped`` lists curves not computed and why.
    """

    ap: dict
    curves: dict
    thresholds: dict
    num_frames: int
    num_gt: dict
    num_dt: dict
    skipped: list

    def to_flat_dict(self, prefix: str = "kitti/") -> dict[str, float]:
        """``{prefix}{Class}_{2D|BEV|3D|AOS}_{easy|moderate|hard}_{R11|R40}`` (``_loose`` appended for the
        loose overlap set), plus ``{prefix}Overall_...``: the mean over the evaluated classes."""
        flat = {}
        for oset, per_metric in self.ap.items():
            suffix = "" if oset == "strict" else f"_{oset}"
            for metric, per_class in per_metric.items():
                for cls, per_diff in per_class.items():
                    for diff, per_var in per_diff.items():
                        for var, value in per_var.items():
                            flat[f"{prefix}{cls}_{metric}_{diff}_{var}{suffix}"] = value
                if per_class:
                    for diff in DIFFICULTIES:
                        for var in ("R11", "R40"):
                            values = [per_class[c][diff][var] for c in per_class]
                            flat[f"{prefix}Overall_{metric}_{diff}_{var}{suffix}"] = float(np.mean(values))
        return flat

    def to_json(self) -> dict:
        return {"ap": self.ap, "thresholds": self.thresholds, "num_frames": self.num_frames,
                "num_gt": self.num_gt, "num_dt": self.num_dt, "skipped": self.skipped,
                "curves": {o: {m: {c: np.asarray(v).tolist() for c, v in pc.items()} for m, pc in pm.items()}
                           for o, pm in self.curves.items()}}

    def table(self, variant: str = "R40") -> str:
        """A human-readable summary, one line per overlap set / class / metric."""
        lines = []
        for oset, per_metric in self.ap.items():
            for cls in dict.fromkeys(c for pm in per_metric.values() for c in pm):
                th = " ".join(f"{m}@{t[cls]:.2f}" for m, t in self.thresholds[oset].items())
                lines.append(f"{cls} AP_{variant} [{oset}: {th}]   easy / moderate / hard")
                for metric in ("2D", "BEV", "3D", "AOS"):
                    if cls in per_metric.get(metric, {}):
                        v = [per_metric[metric][cls][d][variant] for d in DIFFICULTIES]
                        lines.append(f"  {metric:4s} {v[0]:8.4f} {v[1]:8.4f} {v[2]:8.4f}")
        return "\n".join(lines)


# ----------------------------------------------------------------------------- vectorised core
class _Prepared:
    """Per-evaluation data shared by all curves: candidate overlaps per metric, DontCare overlaps."""

    def __init__(self, data: KittiEvalData, classes: Sequence[str], metrics: Sequence[str], min_thr: dict):
        self.data = data
        gt, dt = data.gt, data.dt
        wanted = {c.lower() for c in classes} | {NEIGHBOUR_CLASS[c].lower() for c in classes if c in NEIGHBOUR_CLASS}
        rel = np.flatnonzero(np.isin(gt.name, sorted(wanted)))
        ai, dj = frame_pairs(gt.frame[rel], dt.frame, data.num_frames)
        gi = rel[ai]
        self.pairs = {}
        if len(gi):
            rotated = [min_thr[m] for m in metrics if m in ("BEV", "3D")]
            ov = pair_overlaps(dt, gt, dj, gi, skip_below=min(rotated, default=0.0), metrics=metrics)
        for m in metrics:
            if not len(gi):
                self.pairs[m] = (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0))
                continue
            keep = ov[m] > min_thr[m]
            self.pairs[m] = (gi[keep], dj[keep], ov[m][keep])
        # DontCare: largest "overlap over the detection's area" per detection (2D; KITTI DontCare lines carry
        # placeholder 3D fields, so the devkit's BEV/3D DontCare overlap is 0)
        self.dontcare = np.zeros(len(dt))
        if len(data.dontcare_frame) and len(dt):
            ci, dj2 = frame_pairs(data.dontcare_frame, dt.frame, data.num_frames)
            if len(ci):
                o = image_overlap(dt.bbox[dj2], data.dontcare_bbox[ci], criterion=0)
                np.maximum.at(self.dontcare, dj2, o)

    def take_frames(self, frames: np.ndarray) -> "_Prepared":
        """The preparation of ``data.take_frames(frames)``, from this one's overlaps (none is computed again)."""
        data = self.data
        sub = data.take_frames(frames)
        frames = np.asarray(frames, dtype=np.int64).reshape(-1)
        g_old, d_old = data.gt.frame_slices(data.num_frames), data.dt.frame_slices(data.num_frames)
        g_new, d_new = sub.gt.frame_slices(sub.num_frames), sub.dt.frame_slices(sub.num_frames)
        out = object.__new__(_Prepared)
        out.data, out.pairs = sub, {}
        for m, (gi, dj, ov) in self.pairs.items():    # pairs are grouped by frame (ordered by ground-truth row)
            rows, k = frame_rows(frame_offsets(data.gt.frame[gi], data.num_frames), frames)
            f = frames[k]
            out.pairs[m] = (g_new[k] + gi[rows] - g_old[f], d_new[k] + dj[rows] - d_old[f], ov[rows])
        out.dontcare = self.dontcare[frame_rows(d_old, frames)[0]]
        return out


def _match_curve(prep: _Prepared, metric: str, thr: float, ig_gt: np.ndarray, ig_dt: np.ndarray,
                 compute_aos: bool, force_last: bool = True) -> tuple[np.ndarray, Optional[np.ndarray], int]:
    """One devkit ``eval_class`` call, before interpolation: the 41-point precision (and AOS) arrays and the
    number of thresholds (entries past it are 0)."""
    data = prep.data
    gt, dt = data.gt, data.dt
    nd = len(dt)
    pg, pd, pov = prep.pairs[metric]
    sel = (pov > thr) & (ig_gt[pg] != -1) & (ig_dt[pd] != -1)
    cg, cd, cov = pg[sel], pd[sel], pov[sel]
    n_gt = int((ig_gt == 0).sum())
    precision = np.zeros(N_SAMPLE_PTS)
    aos = np.zeros(N_SAMPLE_PTS) if compute_aos else None
    stuff = prep.dontcare > thr if metric == "2D" else np.zeros(nd, dtype=bool)
    if not len(cg):
        return precision, aos, 0

    score_ext = np.append(dt.score, -np.inf)          # index nd: padding
    ig_dt_ext = np.append(ig_dt, np.int8(-1))
    # candidate ground truth (rows), their candidate detections (columns, in detection order)
    ug, gstart, gcount = np.unique(cg, return_index=True, return_counts=True)
    cmax = int(gcount.max())
    col = np.arange(len(cg)) - np.repeat(gstart, gcount)
    row = np.repeat(np.arange(len(ug)), gcount)
    mdet = np.full((len(ug), cmax), nd, dtype=np.int64)
    mov = np.full((len(ug), cmax), -np.inf)
    mdet[row, col] = cd
    mov[row, col] = cov
    # candidate ground truth grouped per frame, in file order: fg[frame_pos, rank]
    gframe = gt.frame[ug]
    uf, fstart, fcount = np.unique(gframe, return_index=True, return_counts=True)
    rmax = int(fcount.max())
    fg = np.full((len(uf), rmax), -1, dtype=np.int64)
    fg[np.repeat(np.arange(len(uf)), fcount), np.arange(len(ug)) - np.repeat(fstart, fcount)] = np.arange(len(ug))
    ug_ig = ig_gt[ug]

    # ---- pass 1 (compute_fp = false): for each GT the highest-scoring free candidate; TP scores -> thresholds
    assigned = np.zeros(nd + 1, dtype=bool)
    assigned[nd] = True
    tp_scores = []
    for r in range(rmax):
        rows = fg[:, r]
        rows = rows[rows >= 0]
        dets = mdet[rows]
        avail = ~assigned[dets] & (score_ext[dets] > _NO_DETECTION)
        has = avail.any(axis=1)
        k = np.where(avail, score_ext[dets], -np.inf).argmax(axis=1)
        chosen = dets[np.arange(len(rows)), k]
        is_tp = has & (ug_ig[rows] == 0) & (ig_dt_ext[chosen] == 0)
        tp_scores.append(score_ext[chosen[is_tp]])
        assigned[chosen[has]] = True
    thresholds = get_thresholds(np.concatenate(tp_scores), n_gt, force_last)
    nt = len(thresholds)
    if nt == 0:
        return precision, aos, 0

    # ---- pass 2 (compute_fp = true) at every threshold, one scenario per (frame, candidate set above it)
    ud = np.unique(cd)                                                          # sorted, so grouped by frame
    _, dstart, dcount = np.unique(dt.frame[ud], return_index=True, return_counts=True)  # same frames as uf
    kmax = int(dcount.max())
    local = np.full(nd + 1, kmax, dtype=np.int64)
    local[ud] = np.arange(len(ud)) - np.repeat(dstart, dcount)
    fd = np.full((len(uf), kmax), nd, dtype=np.int64)
    fd[np.repeat(np.arange(len(uf)), dcount), local[ud]] = ud
    above = (dt.score[ud][:, None] >= thresholds[None, :]).astype(np.int64)
    cuts = np.add.reduceat(above, dstart, axis=0)                              # (frames, thresholds)
    keys = (np.arange(len(uf))[:, None] * (kmax + 1) + cuts).ravel()
    ukeys, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    inverse = inverse.reshape(len(uf), nt)
    s_frame = ukeys // (kmax + 1)
    s_thr = thresholds[first % nt]
    ns = len(ukeys)
    s_assigned = np.zeros((ns, kmax + 1), dtype=bool)
    s_assigned[:, kmax] = True
    s_tp = np.zeros(ns, dtype=np.int64)
    s_sim = np.zeros(ns)
    for r in range(rmax):
        g = fg[s_frame, r]
        srows = np.flatnonzero(g >= 0)
        g = g[srows]
        dets = mdet[g]
        loc = local[dets]
        avail = (score_ext[dets] >= s_thr[srows, None]) & ~s_assigned[srows[:, None], loc]
        ig = ig_dt_ext[dets]
        valid = avail & (ig == 0)
        short = avail & (ig == 1)
        has_valid = valid.any(axis=1)
        matched = has_valid | short.any(axis=1)
        k = np.where(has_valid, np.where(valid, mov[g], -np.inf).argmax(axis=1), short.argmax(axis=1))
        ar = np.arange(len(srows))
        is_tp = has_valid & (ug_ig[g] == 0)
        s_assigned[srows[matched], loc[ar, k][matched]] = True
        s_tp[srows] += is_tp
        if compute_aos:
            delta = gt.alpha[ug[g]] - dt.alpha[np.minimum(dets[ar, k], nd - 1)]
            s_sim[srows] += np.where(is_tp, (1.0 + np.cos(delta)) / 2.0, 0.0)
    counted = (ig_dt_ext[fd] == 0) & ~np.append(stuff, False)[fd]              # valid, outside DontCare
    s_counted_assigned = (s_assigned[:, :kmax] & counted[s_frame]).sum(axis=1)

    tp = s_tp[inverse].sum(axis=0)
    sorted_scores = np.sort(dt.score[(ig_dt == 0) & ~stuff])
    n_counted = len(sorted_scores) - np.searchsorted(sorted_scores, thresholds, side="left")
    fp = n_counted - s_counted_assigned[inverse].sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision[:nt] = tp / (tp + fp).astype(np.float64)
        if compute_aos:
            aos[:nt] = s_sim[inverse].sum(axis=0) / (tp + fp).astype(np.float64)
    return precision, aos, nt


def evaluate_kitti(data: KittiEvalData, classes: Sequence[str] = CLASSES,
                   overlap_sets: Sequence[str] = OVERLAP_SETS, metrics: Sequence[str] = METRICS, *,
                   force_last_threshold: bool = True) -> KittiEvalResult:
    """KITTI 2D / BEV / 3D AP and AOS, easy / moderate / hard, R11 and R40, as the official devkit computes them.

    Args:
        data: ground truth and detections of all frames (:class:`KittiEvalData`).
        classes: subset of ``Car``, ``Pedestrian``, ``Cyclist``.
        overlap_sets: ``strict`` (official 0.7/0.5/0.5) and/or ``loose`` (BEV/3D at 0.5/0.25/0.25).
        metrics: subset of ``2D``, ``BEV``, ``3D`` (AOS comes with ``2D``).
        force_last_threshold: the devkit's rule (default); ``False`` is a sensitivity check, not the benchmark's
            number: see :func:`get_thresholds`.
    """
    classes, overlap_sets, metrics, min_thr = _check_request(classes, overlap_sets, metrics)
    return _run(_Prepared(data, classes, metrics, min_thr), classes, overlap_sets, metrics, force_last_threshold)


def evaluate_kitti_resampled(data: KittiEvalData, frame_sets: Iterable[Sequence[int]],
                             classes: Sequence[str] = CLASSES, overlap_sets: Sequence[str] = OVERLAP_SETS,
                             metrics: Sequence[str] = METRICS, *,
                             force_last_threshold: bool = True) -> Iterator[KittiEvalResult]:
    """``evaluate_kitti(data.take_frames(frames), ...)`` for each ``frames`` of ``frame_sets`` (e.g. bootstrap
    resamples), with the overlaps -- most of an evaluation's time -- computed once, on ``data``."""
    classes, overlap_sets, metrics, min_thr = _check_request(classes, overlap_sets, metrics)
    full = _Prepared(data, classes, metrics, min_thr)
    for frames in frame_sets:
        yield _run(full.take_frames(frames), classes, overlap_sets, metrics, force_last_threshold)


def _check_request(classes, overlap_sets, metrics) -> tuple[tuple, tuple, tuple, dict]:
    """``(classes, overlap_sets, metrics, min_thr)``, checked; ``min_thr``: per metric the smallest overlap any
    requested curve needs (pairs below it are never kept)."""
    classes = check_classes(classes)
    overlap_sets = check_overlap_sets(overlap_sets)
    bad = [m for m in metrics if m not in METRICS]
    if bad or not metrics:
        raise ValueError(f"metrics must be among {METRICS}, got {list(metrics)}")
    metrics = tuple(m for m in METRICS if m in metrics)
    min_thr = {m: min(MIN_OVERLAP[o][m][c] for o in overlap_sets for c in classes) for m in metrics}
    return classes, overlap_sets, metrics, min_thr


def _run(prep: _Prepared, classes, overlap_sets, metrics, force_last: bool) -> KittiEvalResult:
    data = prep.data
    flags = devkit_flags(data, classes)
    ignores = {(c, d): ignore_flags(data, c, d) for c in classes for d in range(3)}
    cache: dict = {}
    ap, curves, skipped = {}, {}, []
    for oset in overlap_sets:
        ap[oset], curves[oset] = {}, {}
        for metric in metrics:
            names = [metric, "AOS"] if metric == "2D" and flags["aos"] else [metric]
            for name in names:
                ap[oset].setdefault(name, {})
                curves[oset].setdefault(name, {})
            for cls in classes:
                if flags["num_dets"][cls] and not flags[metric][cls]:
                    skipped.append(f"{cls} {metric}: no detection of the class has valid "
                                   f"{'2D boxes (x1 >= 0)' if metric == '2D' else '3D fields'}; the devkit skips it")
                    continue
                thr = MIN_OVERLAP[oset][metric][cls]
                key = (metric, cls, thr)
                if key not in cache:
                    res = [_match_curve(prep, metric, thr, *ignores[(cls, d)], metric == "2D" and flags["aos"],
                                        force_last) for d in range(3)]
                    cache[key] = ([interpolate_precision(p, nt) for p, _, nt in res],
                                  [None if a is None else interpolate_precision(a, nt) for _, a, nt in res])
                prec, aos = cache[key]
                for name, curve in zip(names, (prec, aos)):
                    curves[oset][name][cls] = np.stack(curve)
                    ap[oset][name][cls] = {DIFFICULTIES[d]: average_precision(curve[d]) for d in range(3)}
    if not flags["aos"]:
        skipped.append("AOS: some detection has alpha = -10 (no orientation); the devkit skips AOS")
    thresholds = {o: {m: dict(MIN_OVERLAP[o][m]) for m in metrics} for o in overlap_sets}
    num_gt = {c: {DIFFICULTIES[d]: int((ignores[(c, d)][0] == 0).sum()) for d in range(3)} for c in classes}
    return KittiEvalResult(ap=ap, curves=curves, thresholds=thresholds, num_frames=data.num_frames, num_gt=num_gt,
                           num_dt=dict(flags["num_dets"]), skipped=skipped)

