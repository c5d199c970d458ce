"""Reference KITTI evaluation: a plain, per-frame Python port of the devkit's loops.

Each function below mirrors one function of the official
``devkit_object/cpp/evaluate_object.cpp`` (``cleanData``, ``computeStatistics``,
``getThresholds``, ``eval_class``), loop for loop, so it can be read side by
side with the C++.  It is slow (pure Python, one frame and one threshold at a
time) and exists to check :func:`perception.evaluation.kitti.evaluate_kitti`
and to serve as the baseline of ``tools/benchmark.py kitti_eval``.  Overlaps
come from :mod:`perception.evaluation.kitti.overlaps`, computed per frame.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from .data import (CLASSES, DIFFICULTIES, MAX_OCCLUSION, MAX_TRUNCATION, METRICS, MIN_HEIGHT, MIN_OVERLAP,
                   N_SAMPLE_PTS, OVERLAP_SETS, KittiEvalData, check_classes, check_overlap_sets, frame_offsets)
from .evaluate import KittiEvalResult, devkit_flags
from .overlaps import image_overlap, pair_overlaps

__all__ = ["evaluate_kitti_reference"]

NO_DETECTION = -10000000


class _Frame:
    """One frame: ground truth (DontCare included, as the devkit keeps it), detections, overlap matrices."""

    def __init__(self, data: KittiEvalData, f: int, gt_rows, dt_rows, dc_rows, metrics):
        gt, dt = data.gt, data.dt
        self.gt = [dict(type=gt.name[i], truncation=gt.truncated[i], occlusion=gt.occluded[i], alpha=gt.alpha[i],
                        y1=gt.bbox[i, 1], y2=gt.bbox[i, 3]) for i in gt_rows]
        self.gt += [dict(type="dontcare", truncation=-1.0, occlusion=-1, alpha=-10.0,
                         y1=data.dontcare_bbox[i, 1], y2=data.dontcare_bbox[i, 3]) for i in dc_rows]
        self.det = [dict(type=dt.name[j], alpha=dt.alpha[j], y1=dt.bbox[j, 1], y2=dt.bbox[j, 3], thresh=dt.score[j])
                    for j in dt_rows]
        # overlap[metric][det j][gt i] with criterion -1; overlap_dc[metric][det j][dontcare k] with criterion 0
        nd, ng, nc = len(dt_rows), len(gt_rows), len(dc_rows)
        dj = np.repeat(np.asarray(dt_rows, dtype=np.int64), ng)
        gi = np.tile(np.asarray(gt_rows, dtype=np.int64), nd)
        ov = pair_overlaps(dt, gt, dj, gi)
        self.overlap = {m: ov[m].reshape(nd, ng).tolist() for m in metrics}
        dc_2d = image_overlap(dt.bbox[np.repeat(np.asarray(dt_rows, dtype=np.int64), nc)],
                              data.dontcare_bbox[np.tile(np.asarray(dc_rows, dtype=np.int64), nd)],
                              criterion=0).reshape(nd, nc).tolist()
        # KITTI DontCare lines have placeholder 3D fields (-1 size at -1000 m): no BEV/3D overlap
        self.overlap_dc = {m: dc_2d if m == "2D" else [[0.0] * nc for _ in range(nd)] for m in metrics}
        self.num_real_gt = ng


def clean_data(current_class: str, frame: _Frame, difficulty: int):
    """``cleanData``: returns ``(ignored_gt, dc, ignored_det, n_gt)`` for one frame."""
    ignored_gt, dc, ignored_det, n_gt = [], [], [], 0
    for i, g in enumerate(frame.gt):
        height = g["y2"] - g["y1"]
        if g["type"] == current_class.lower():
            valid_class = 1
        elif current_class == "Pedestrian" and g["type"] == "person_sitting":
            valid_class = 0
        elif current_class == "Car" and g["type"] == "van":
            valid_class = 0
        else:
            valid_class = -1
        ignore = False
        if (g["occlusion"] > MAX_OCCLUSION[difficulty] or g["truncation"] > MAX_TRUNCATION[difficulty]
                or height <= MIN_HEIGHT[difficulty]):
            ignore = True
        if valid_class == 1 and not ignore:
            ignored_gt.append(0)
            n_gt += 1
        elif valid_class == 0 or (ignore and valid_class == 1):
            ignored_gt.append(1)
        else:
            ignored_gt.append(-1)
    for i, g in enumerate(frame.gt):
        if g["type"] == "dontcare":
            dc.append(i - frame.num_real_gt)  # index into the frame's DontCare overlaps
    for d in frame.det:
        valid_class = 1 if d["type"] == current_class.lower() else -1
        height = int(math.fabs(d["y1"] - d["y2"]))  # int32_t height = fabs(...)
        if height < MIN_HEIGHT[difficulty]:
            ignored_det.append(1)
        elif valid_class == 1:
            ignored_det.append(0)
        else:
            ignored_det.append(-1)
    return ignored_gt, dc, ignored_det, n_gt


def compute_statistics(frame: _Frame, metric: str, min_overlap: float, dc, ignored_gt, ignored_det,
                       compute_fp: bool, compute_aos: bool = False, thresh: float = 0.0):
    """``computeStatistics``: returns ``dict(tp, fp, fn, similarity, v)`` for one frame."""
    gt, det = frame.gt, frame.det
    overlap, overlap_dc = frame.overlap[metric], frame.overlap_dc[metric]
    stat = dict(tp=0, fp=0, fn=0, similarity=0.0, v=[])
    delta = []
    assigned_detection = [False] * len(det)
    ignored_threshold = [False] * len(det)
    if compute_fp:
        for i in range(len(det)):
            if det[i]["thresh"] < thresh:
                ignored_threshold[i] = True
    for i in range(len(gt)):
        if ignored_gt[i] == -1:
            continue
        det_idx = -1
        valid_detection = NO_DETECTION
        max_overlap = 0
        assigned_ignored_det = False
        for j in range(len(det)):
            if ignored_det[j] == -1:
                continue
            if assigned_detection[j]:
                continue
            if ignored_threshold[j]:
                continue
            o = overlap[j][i]
            if not compute_fp and o > min_overlap and det[j]["thresh"] > valid_detection:
                det_idx = j
                valid_detection = det[j]["thresh"]
            elif (compute_fp and o > min_overlap and (o > max_overlap or assigned_ignored_det)
                  and ignored_det[j] == 0):
                max_overlap = o
                det_idx = j
                valid_detection = 1
                assigned_ignored_det = False
            elif compute_fp and o > min_overlap and valid_detection == NO_DETECTION and ignored_det[j] == 1:
                det_idx = j
                valid_detection = 1
                assigned_ignored_det = True
        if valid_detection == NO_DETECTION and ignored_gt[i] == 0:
            stat["fn"] += 1
        elif valid_detection != NO_DETECTION and (ignored_gt[i] == 1 or ignored_det[det_idx] == 1):
            assigned_detection[det_idx] = True
        elif valid_detection != NO_DETECTION:
            stat["tp"] += 1
            stat["v"].append(det[det_idx]["thresh"])
            if compute_aos:
                delta.append(gt[i]["alpha"] - det[det_idx]["alpha"])
            assigned_detection[det_idx] = True
    if compute_fp:
        for i in range(len(det)):
            if not (assigned_detection[i] or ignored_det[i] == -1 or ignored_det[i] == 1 or ignored_threshold[i]):
                stat["fp"] += 1
        nstuff = 0
        for k in dc:
            for j in range(len(det)):
                if assigned_detection[j]:
                    continue
                if ignored_det[j] == -1 or ignored_det[j] == 1:
                    continue
                if ignored_threshold[j]:
                    continue
                if overlap_dc[j][k] > min_overlap:
                    assigned_detection[j] = True
                    nstuff += 1
        stat["fp"] -= nstuff
        if compute_aos:
            tmp = [0.0] * stat["fp"] + [(1.0 + math.cos(d)) / 2.0 for d in delta]
            if stat["tp"] > 0 or stat["fp"] > 0:
                stat["similarity"] = sum(tmp)
            else:
                stat["similarity"] = -1
    return stat


def get_thresholds(v: list, n_groundtruth: float) -> list:
    """``getThresholds``."""
    t = []
    v = sorted(v, reverse=True)
    current_recall = 0.0
    for i in range(len(v)):
        l_recall = (i + 1) / n_groundtruth
        r_recall = (i + 2) / n_groundtruth if i < len(v) - 1 else l_recall
        if (r_recall - current_recall) < (current_recall - l_recall) and i < len(v) - 1:
            continue
        t.append(v[i])
        current_recall += 1.0 / (N_SAMPLE_PTS - 1.0)
    return t


def _max_element(values: list) -> float:
    """``*std::max_element(first, last)`` (comparisons with ``<``, NaN-faithful)."""
    largest = values[0]
    for x in values[1:]:
        if largest < x:
            largest = x
    return largest


def eval_class(frames: Sequence[_Frame], current_class: str, metric: str, min_overlap: float, difficulty: int,
               compute_aos: bool):
    """``eval_class``: returns the interpolated 41-point precision and AOS lists."""
    n_gt = 0
    v = []
    ignored_gt, ignored_det, dontcare = [], [], []
    for fr in frames:
        i_gt, dc, i_det, n = clean_data(current_class, fr, difficulty)
        n_gt += n
        ignored_gt.append(i_gt)
        ignored_det.append(i_det)
        dontcare.append(dc)
        v.extend(compute_statistics(fr, metric, min_overlap, dc, i_gt, i_det, False)["v"])
    thresholds = get_thresholds(v, float(n_gt))
    pr = [dict(tp=0, fp=0, fn=0, similarity=0.0) for _ in thresholds]
    for f, fr in enumerate(frames):
        for t, th in enumerate(thresholds):
            tmp = compute_statistics(fr, metric, min_overlap, dontcare[f], ignored_gt[f], ignored_det[f], True,
                                     compute_aos, th)
            pr[t]["tp"] += tmp["tp"]
            pr[t]["fp"] += tmp["fp"]
            pr[t]["fn"] += tmp["fn"]
            if tmp["similarity"] != -1:
                pr[t]["similarity"] += tmp["similarity"]
    precision = [0.0] * N_SAMPLE_PTS
    aos = [0.0] * N_SAMPLE_PTS
    for i in range(len(thresholds)):
        denom = float(pr[i]["tp"] + pr[i]["fp"])
        precision[i] = pr[i]["tp"] / denom if denom else math.nan
        if compute_aos:
            aos[i] = pr[i]["similarity"] / denom if denom else math.nan
    for i in range(len(thresholds)):
        precision[i] = _max_element(precision[i:])
        if compute_aos:
            aos[i] = _max_element(aos[i:])
    return precision, (aos if compute_aos else None)


def _ap(vals: list) -> dict:
    s11 = sum(vals[i] for i in range(0, len(vals), 4))
    s40 = sum(vals[i] for i in range(1, len(vals)))
    return {"R11": s11 / 11 * 100, "R40": s40 / 40 * 100}


def evaluate_kitti_reference(data: KittiEvalData, classes: Sequence[str] = CLASSES,
                             overlap_sets: Sequence[str] = OVERLAP_SETS,
                             metrics: Sequence[str] = METRICS) -> KittiEvalResult:
    """Same contract as :func:`perception.evaluation.kitti.evaluate_kitti`, computed the slow, literal way."""
    classes = check_classes(classes)
    overlap_sets = check_overlap_sets(overlap_sets)
    metrics = tuple(m for m in METRICS if m in metrics)
    flags = devkit_flags(data, classes)
    go = data.gt.frame_slices(data.num_frames)
    do = data.dt.frame_slices(data.num_frames)
    co = frame_offsets(data.dontcare_frame, data.num_frames)
    frames = [_Frame(data, f, range(go[f], go[f + 1]), range(do[f], do[f + 1]), range(co[f], co[f + 1]), metrics)
              for f in range(data.num_frames)]
    ap, curves, skipped, cache = {}, {}, [], {}
    for oset in overlap_sets:
        ap[oset], curves[oset] = {}, {}
        for metric in metrics:
            names = [metric, "AOS"] if metric == "2D" and flags["aos"] else [metric]
            for name in names:
                ap[oset].setdefault(name, {})
                curves[oset].setdefault(name, {})
            for cls in classes:
                if flags["num_dets"][cls] and not flags[metric][cls]:
                    skipped.append(f"{cls} {metric}: not evaluated by the devkit")
                    continue
                thr = MIN_OVERLAP[oset][metric][cls]
                if (metric, cls, thr) not in cache:
                    cache[(metric, cls, thr)] = [
                        eval_class(frames, cls, metric, thr, d, metric == "2D" and flags["aos"]) for d in range(3)]
                res = cache[(metric, cls, thr)]
                for k, name in enumerate(names):
                    curves[oset][name][cls] = np.array([r[k] for r in res])
                    ap[oset][name][cls] = {DIFFICULTIES[d]: _ap(res[d][k]) for d in range(3)}
    num_gt = {c: {DIFFICULTIES[d]: sum(clean_data(c, fr, d)[3] for fr in frames) for d in range(3)} for c in classes}
    thresholds = {o: {m: dict(MIN_OVERLAP[o][m]) for m in metrics} for o in overlap_sets}
    return KittiEvalResult(ap=ap, curves=curves, thresholds=thresholds, num_frames=data.num_frames, num_gt=num_gt,
                           num_dt=dict(flags["num_dets"]), skipped=skipped)
