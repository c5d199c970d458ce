"""Panoptic quality: hand-built cases with known PQ/SQ/RQ, void and crowd rules, and agreement with a literal,
pixel-by-pixel transcription of COCO panopticapi's ``pq_compute_single_core`` on random maps."""
from __future__ import annotations

import math

import numpy as np
import pytest

from perception.evaluation.panoptic_quality import (PanopticFormatError, PanopticQualityMetric, PQStat,
                                                    pq_compute_single, pq_summary)

CATS = [{"id": 1, "name": "car", "isthing": 1}, {"id": 2, "name": "person", "isthing": 1},
        {"id": 4, "name": "road", "isthing": 0}, {"id": 8, "name": "sky", "isthing": 0}]


def seg(sid, cid, iscrowd=0):
    return {"id": sid, "category_id": cid, "iscrowd": iscrowd}


def summary(gt, gts, pred, preds):
    return pq_summary(pq_compute_single(gt, gts, pred, preds, CATS), CATS)


def scene():
    """8x8: sky rows 0-1, road rows 2-7, car A (rows 3-4, cols 1-2), car B (rows 5-6, cols 5-6)."""
    gt = np.full((8, 8), 40, np.int64)
    gt[:2] = 80
    gt[3:5, 1:3] = 11
    gt[5:7, 5:7] = 12
    return gt, [seg(80, 8), seg(40, 4), seg(11, 1), seg(12, 1)]


def test_perfect_prediction_scores_one_everywhere():
    gt, gts = scene()
    r = summary(gt, gts, gt.copy(), [dict(s) for s in gts])
    for part in ("All", "Things", "Stuff"):
        assert r[part]["pq"] == r[part]["sq"] == r[part]["rq"] == 1.0
    assert r["All"]["n"] == 3 and r["Things"]["n"] == 1 and r["Stuff"]["n"] == 2  # person never occurs


def test_renumbered_prediction_ids_do_not_matter():
    gt, gts = scene()
    pred = np.vectorize({80: 3, 40: 7, 11: 900, 12: 5}.get)(gt)
    r = summary(gt, gts, pred, [seg(3, 8), seg(7, 4), seg(900, 1), seg(5, 1)])
    assert r["All"]["pq"] == 1.0


def test_one_missed_instance_is_a_false_negative():
    gt, gts = scene()
    pred = gt.copy()
    pred[pred == 12] = 40  # car B predicted as road
    stat = pq_compute_single(gt, gts, pred, [seg(80, 8), seg(40, 4), seg(11, 1)], CATS)
    assert (stat[1].tp, stat[1].fp, stat[1].fn) == (1, 0, 1)
    # road (40 pixels) still matches the predicted road (44 pixels): IoU = 40 / 44
    assert (stat[4].tp, stat[4].fp, stat[4].fn) == (1, 0, 0) and stat[4].iou == pytest.approx(40 / 44)
    r = pq_summary(stat, CATS)["per_class"][1]
    assert r["pq"] == pytest.approx(1 / 1.5) and r["sq"] == 1.0 and r["rq"] == pytest.approx(1 / 1.5)


def test_one_false_positive_instance():
    gt, gts = scene()
    pred = gt.copy()
    pred[6:8, 0:2] = 99  # a car where the road is
    stat = pq_compute_single(gt, gts, pred, [seg(80, 8), seg(40, 4), seg(11, 1), seg(12, 1), seg(99, 1)], CATS)
    assert (stat[1].tp, stat[1].fp, stat[1].fn) == (2, 1, 0)
    assert pq_summary(stat, CATS)["per_class"][1]["pq"] == pytest.approx(2 / 2.5)


def test_iou_exactly_one_half_is_not_a_match_but_just_above_is():
    gt = np.zeros((1, 6), np.int64) + 40
    gt[0, :2] = 11                            # gt car: 2 pixels
    pred = np.zeros((1, 6), np.int64) + 40
    pred[0, :4] = 21                          # pred car: 4 pixels covering it -> IoU 2 / 4
    stat = pq_compute_single(gt, [seg(11, 1), seg(40, 4)], pred, [seg(21, 1), seg(40, 4)], CATS)
    assert (stat[1].tp, stat[1].fp, stat[1].fn) == (0, 1, 1)
    gt[0, 2] = 11                             # gt car: 3 pixels -> IoU 3 / 4
    stat = pq_compute_single(gt, [seg(11, 1), seg(40, 4)], pred, [seg(21, 1), seg(40, 4)], CATS)
    assert (stat[1].tp, stat[1].fp, stat[1].fn) == (1, 0, 0) and stat[1].iou == pytest.approx(0.75)


def test_void_pixels_leave_the_union_and_mostly_void_predictions_are_not_false_positives():
    gt = np.zeros((4, 4), np.int64)           # void everywhere ...
    gt[1:3, 1:3] = 11                         # ... but a 2x2 car
    pred = np.full((4, 4), 21, np.int64)      # the prediction covers everything with one car
    stat = pq_compute_single(gt, [seg(11, 1)], pred, [seg(21, 1)], CATS)
    assert (stat[1].tp, stat[1].fp, stat[1].fn) == (1, 0, 0) and stat[1].iou == 1.0  # 4 / (16 + 4 - 4 - 12)
    pred2 = np.zeros((4, 4), np.int64)
    pred2[0, :] = 31                          # a person entirely on void: ignored
    pred2[1:3, 1:3] = 21
    stat = pq_compute_single(gt, [seg(11, 1)], pred2, [seg(31, 2), seg(21, 1)], CATS)
    assert (stat[2].tp, stat[2].fp, stat[2].fn) == (0, 0, 0)
    assert (stat[1].tp, stat[1].fp, stat[1].fn) == (1, 0, 0)


def test_half_void_prediction_is_still_a_false_positive():
    gt = np.full((2, 4), 40, np.int64)
    gt[0, :2] = 0
    pred = np.full((2, 4), 40, np.int64)
    pred[0, :2] = 31
    pred[1, :2] = 31                          # person: 2 of its 4 pixels on void: exactly one half -> FP
    stat = pq_compute_single(gt, [seg(40, 4)], pred, [seg(31, 2), seg(40, 4)], CATS)
    assert stat[2].fp == 1


def test_crowd_regions_never_match_never_miss_and_shield_predictions_of_their_category_only():
    gt = np.full((4, 6), 40, np.int64)
    gt[:, :3] = 70                            # a crowd of cars on the left half
    gts = [seg(70, 1, iscrowd=1), seg(40, 4)]
    pred = np.full((4, 6), 40, np.int64)
    pred[:, :3] = 21                          # one car over the whole crowd: not matched, not a FP
    stat = pq_compute_single(gt, gts, pred, [seg(21, 1), seg(40, 4)], CATS)
    assert (stat[1].tp, stat[1].fp, stat[1].fn) == (0, 0, 0)
    assert (stat[4].tp, stat[4].fp, stat[4].fn) == (1, 0, 0)
    pred[:, :3] = 31                          # a *person* there is a false positive (crowd is per category)
    stat = pq_compute_single(gt, gts, pred, [seg(31, 2), seg(40, 4)], CATS)
    assert stat[2].fp == 1


def test_category_mismatch_is_a_false_negative_and_a_false_positive():
    gt, gts = scene()
    stat = pq_compute_single(gt, gts, gt.copy(), [seg(80, 8), seg(40, 4), seg(11, 2), seg(12, 1)], CATS)
    assert (stat[1].tp, stat[1].fn) == (1, 1) and (stat[2].fp, stat[2].tp) == (1, 0)


def test_inconsistent_maps_raise_naming_the_problem():
    gt, gts = scene()
    with pytest.raises(PanopticFormatError, match="segment id 11 is in the map but not in segments_info"):
        pq_compute_single(gt, gts, gt, [seg(80, 8), seg(40, 4), seg(12, 1)], CATS, name="000001.png")
    with pytest.raises(PanopticFormatError, match=r"\[5\] are in segments_info but not in the map"):
        pq_compute_single(gt, gts, gt, gts + [seg(5, 1)], CATS)
    with pytest.raises(PanopticFormatError, match="unknown category_id 3"):
        pq_compute_single(gt, gts, gt, [seg(80, 8), seg(40, 4), seg(11, 3), seg(12, 1)], CATS)
    with pytest.raises(PanopticFormatError, match="must be"):
        pq_compute_single(gt, gts, gt[:4], gts, CATS)


def test_summary_averages_only_occurring_categories_and_is_nan_without_any():
    stat = PQStat()
    stat[1].tp, stat[1].iou = 2, 1.6          # car: PQ 0.8
    stat[4].fn = 1                            # road: PQ 0
    r = pq_summary(stat, CATS)
    assert r["Things"]["pq"] == pytest.approx(0.8) and r["Things"]["n"] == 1
    assert r["Stuff"]["pq"] == 0.0 and r["All"]["pq"] == pytest.approx(0.4) and r["All"]["n"] == 2
    assert math.isnan(pq_summary(PQStat(), CATS)["All"]["pq"])


# ------------------------------------------------------------------------ panopticapi, transcribed literally
def panopticapi_single(gt, gt_segs, pred, pred_segs, categories):
    """COCO panopticapi ``pq_compute_single_core`` for one image, pixel loop and all (areas of ground truth from
    the map, which equals its JSON on consistent data; one crowd segment per category as in panopticapi)."""
    VOID, OFFSET = 0, 256 * 256 * 256
    stat = {c["id"]: [0.0, 0, 0, 0] for c in categories}  # iou, tp, fp, fn
    gt_segms = {s["id"]: dict(s, area=int((gt == s["id"]).sum())) for s in gt_segs}
    pred_segms = {s["id"]: dict(s) for s in pred_segs}
    for label, cnt in zip(*np.unique(pred, return_counts=True)):
        if label != VOID:
            pred_segms[int(label)]["area"] = int(cnt)
    gt_pred_map = {}
    for g, p in zip(gt.ravel().tolist(), pred.ravel().tolist()):
        key = (g * OFFSET + p) // OFFSET, (g * OFFSET + p) % OFFSET
        gt_pred_map[key] = gt_pred_map.get(key, 0) + 1
    gt_matched, pred_matched = set(), set()
    for (gt_label, pred_label), intersection in gt_pred_map.items():
        if gt_label not in gt_segms or pred_label not in pred_segms:
            continue
        if gt_segms[gt_label]["iscrowd"] == 1:
            continue
        if gt_segms[gt_label]["category_id"] != pred_segms[pred_label]["category_id"]:
            continue
        union = pred_segms[pred_label]["area"] + gt_segms[gt_label]["area"] - intersection - \
            gt_pred_map.get((VOID, pred_label), 0)
        iou = intersection / union
        if iou > 0.5:
            st = stat[gt_segms[gt_label]["category_id"]]
            st[1] += 1
            st[0] += iou
            gt_matched.add(gt_label)
            pred_matched.add(pred_label)
    crowd_labels_dict = {}
    for gt_label, gt_info in gt_segms.items():
        if gt_label in gt_matched:
            continue
        if gt_info["iscrowd"] == 1:
            crowd_labels_dict[gt_info["category_id"]] = gt_label
            continue
        stat[gt_info["category_id"]][3] += 1
    for pred_label, pred_info in pred_segms.items():
        if pred_label in pred_matched:
            continue
        intersection = gt_pred_map.get((VOID, pred_label), 0)
        if pred_info["category_id"] in crowd_labels_dict:
            intersection += gt_pred_map.get((crowd_labels_dict[pred_info["category_id"]], pred_label), 0)
        if intersection / pred_info["area"] > 0.5:
            continue
        stat[pred_info["category_id"]][2] += 1
    return stat


def random_panoptic(rng, h, w, n_segments, void_frac, crowd):
    """A map of ``n_segments`` random blobs (one crowd segment per category at most) plus void."""
    ids = np.zeros((h, w), np.int64)
    segs = []
    crowd_cats = set()
    for i in range(n_segments):
        cat = int(rng.choice([1, 2, 4, 8]))
        y0, x0 = rng.integers(0, h - 2), rng.integers(0, w - 2)
        ids[y0:y0 + rng.integers(2, h // 2 + 2), x0:x0 + rng.integers(2, w // 2 + 2)] = 100 + i
        is_crowd = int(crowd and cat in (1, 2) and cat not in crowd_cats and rng.random() < 0.3)
        if is_crowd:
            crowd_cats.add(cat)
        segs.append(seg(100 + i, cat, is_crowd))
    ids[rng.random((h, w)) < void_frac] = 0
    present = set(np.unique(ids).tolist())
    return ids, [s for s in segs if s["id"] in present]


def test_agrees_with_panopticapi_on_random_maps():
    rng = np.random.default_rng(0)
    compared = 0
    for case in range(40):
        gt, gts = random_panoptic(rng, 12, 14, 7, 0.05 * (case % 3), crowd=True)
        if case % 2:  # a perturbed copy of the ground truth: many matches
            pred = gt.copy()
            pred[rng.random(gt.shape) < 0.15] = 0
            pred[gt == 0] = 100 + rng.integers(0, 7, int((gt == 0).sum()))
            pred_ids = set(np.unique(pred).tolist()) - {0}
            cat_of = {s["id"]: s["category_id"] for s in gts}
            preds = [seg(p, cat_of.get(p, 1)) for p in sorted(pred_ids)]
        else:
            pred, preds = random_panoptic(rng, 12, 14, 6, 0.0, crowd=False)
            preds = [seg(s["id"], s["category_id"]) for s in preds]
        ours = pq_compute_single(gt, gts, pred, preds, CATS)
        ref = panopticapi_single(gt, gts, pred, preds, CATS)
        for cid, (iou, tp, fp, fn) in ref.items():
            s = ours[cid]
            assert (s.tp, s.fp, s.fn) == (tp, fp, fn), (case, cid)
            assert s.iou == pytest.approx(iou)
            compared += tp + fp + fn
    assert compared > 200  # the cases exercise plenty of matches and mistakes


# ------------------------------------------------------------------------ the mmengine metric
def test_metric_reads_ground_truth_pngs_and_reports_percent(tmp_path):
    from PIL import Image

    from perception.datasets.sim.categories import ids_to_rgb
    from perception.models.camera.panoptic import PanopticResult, PanopticSegment

    gt, gts = scene()
    path = tmp_path / "000001.png"
    Image.fromarray(ids_to_rgb(gt)).save(path)
    pred = gt.copy()
    pred[pred == 12] = 40
    result = PanopticResult(ids=pred, segments=[
        PanopticSegment(id=80, category_id=8, isthing=False, area=16, score=1.0),
        PanopticSegment(id=40, category_id=4, isthing=False, area=44, score=1.0),
        PanopticSegment(id=11, category_id=1, isthing=True, area=4, score=1.0)])
    metric = PanopticQualityMetric(categories=CATS)
    metric.process({}, [{"pred_panoptic": result, "panoptic_path": str(path), "gt_segments_info": gts}] * 2)
    out = metric.compute_metrics(metric.results)
    assert out["PQ_th"] == pytest.approx(100 / 1.5)       # car: 2 TP, 2 FN over the two images
    assert out["PQ_road"] == pytest.approx(100 * 40 / 44)
    assert out["PQ_sky"] == 100.0
    assert out["PQ"] == pytest.approx((100 / 1.5 + 100 * 40 / 44 + 100) / 3)
    assert "PQ_person" not in out
    with pytest.raises(KeyError, match="panoptic_path"):
        metric.process({}, [{"pred_panoptic": result, "gt_segments_info": gts}])
