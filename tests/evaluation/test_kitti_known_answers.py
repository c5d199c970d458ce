"""Known-answer tests of the KITTI evaluation: APs worked out by hand from the devkit's rules.

The devkit samples its precision at the scores of true positives closest to recall 0, 1/40, ..., 1
(``getThresholds``).  With fewer than ~41 counted ground-truth objects the samples cannot reach every
recall step, so most cases below use 80 frames (80 objects give exactly 41 samples).
"""
import math

import numpy as np
import pytest
import torch

from perception.evaluation.kitti import KittiEvalData, evaluate_kitti
from perception.evaluation.kitti.reference import evaluate_kitti_reference
from perception.structures import Boxes3D, CoordFrame, box_iou_bev_aligned

N = 80
FAR = dict(bbox=(900.0, 150.0, 1000.0, 250.0), loc=(12.0, 1.5, 40.0))  # an object nowhere near the default one


def evaluate(gt_frames, dt_frames, **kw):
    data = KittiEvalData.from_objects(gt_frames, dt_frames)
    fast = evaluate_kitti(data, **kw)
    ref = evaluate_kitti_reference(data, **kw)
    flat_fast, flat_ref = fast.to_flat_dict(), ref.to_flat_dict()
    assert flat_fast.keys() == flat_ref.keys()
    for k in flat_fast:
        assert flat_fast[k] == pytest.approx(flat_ref[k], abs=1e-9), k
    return fast


def ap(res, metric, cls="Car", diff="moderate", var="R40", oset="strict"):
    return res.ap[oset][metric][cls][diff][var]


def test_perfect_detections_score_100_everywhere(obj):
    res = evaluate([[obj()] for _ in range(N)], [[obj(score=0.9)] for _ in range(N)], classes=["Car"])
    flat = res.to_flat_dict()
    car = {k: v for k, v in flat.items() if "/Car_" in k}
    assert len(car) == 4 * 3 * 2 * 2  # 2D/BEV/3D/AOS x difficulties x R11/R40 x strict/loose
    assert all(v == pytest.approx(100.0) for v in car.values()), car


def test_single_object_shows_the_devkit_sampling(obj):
    # one GT, one perfect detection: getThresholds yields a single sample (recall 0 slot), so
    # R11 = 1/11 and R40 = 0 -- the devkit's answer, kept on purpose
    res = evaluate([[obj()]], [[obj(score=0.9)]], classes=["Car"])
    assert ap(res, "3D", var="R11") == pytest.approx(100 / 11)
    assert ap(res, "3D", var="R40") == 0.0


def test_one_false_positive_above_half_the_true_positives(obj):
    # frames 0..39: a TP at 0.9; frames 40..79: a TP at 0.3 and a far FP at 0.6.
    # Samples: 21 at score 0.9 (precision 1), 20 at 0.3 (precision 80/120).
    gt = [[obj()] for _ in range(N)]
    dt = [[obj(score=0.9)] for _ in range(40)] + [[obj(score=0.3), obj(score=0.6, **FAR)] for _ in range(40)]
    res = evaluate(gt, dt, classes=["Car"])
    curve = np.array([1.0] * 21 + [2 / 3] * 20)
    r40 = curve[1:].sum() / 40 * 100
    r11 = curve[::4].sum() / 11 * 100
    assert r40 == pytest.approx(83.3333333, abs=1e-6) and r11 == pytest.approx(84.8484848, abs=1e-6)
    for metric in ("2D", "BEV", "3D"):
        assert ap(res, metric) == pytest.approx(r40)
        assert ap(res, metric, var="R11") == pytest.approx(r11)
    np.testing.assert_allclose(res.curves["strict"]["3D"]["Car"][1], curve)


def test_precision_is_interpolated_with_the_max_to_the_right(obj):
    # high-score FPs first: raw precision rises with recall, the devkit takes the max to the right
    gt = [[obj()] for _ in range(N)]
    dt = [[obj(score=0.3), obj(score=0.95, **FAR)] for _ in range(40)] + [[obj(score=0.9)] for _ in range(40)]
    res = evaluate(gt, dt, classes=["Car"], metrics=["3D"])
    # samples: 21 at 0.9 (40 TP, 40 FP above -> 0.5), 20 at 0.3 (80 TP, 40 FP -> 2/3): max to the right -> 2/3
    np.testing.assert_allclose(res.curves["strict"]["3D"]["Car"][1], [2 / 3] * 41)
    assert ap(res, "3D") == pytest.approx(200 / 3)


def test_detection_in_a_dontcare_region_is_ignored_in_2d(obj, dontcare):
    gt_dc = [[obj(), dontcare((900, 150, 1010, 260))] for _ in range(N)]
    gt_plain = [[obj()] for _ in range(N)]
    dt = [[obj(score=0.5), obj(score=0.9, **FAR)] for _ in range(N)]  # the FP lies inside the DontCare box
    with_dc = evaluate(gt_dc, dt, classes=["Car"])
    without = evaluate(gt_plain, dt, classes=["Car"])
    assert ap(with_dc, "2D") == pytest.approx(100.0)
    assert ap(without, "2D") == pytest.approx(50.0)
    # the devkit applies DontCare regions only to image boxes (their 3D fields are placeholders)
    assert ap(with_dc, "3D") == pytest.approx(50.0) and ap(with_dc, "BEV") == pytest.approx(50.0)


def test_detection_mostly_outside_dontcare_is_a_false_positive(obj, dontcare):
    # overlap with the region is measured over the detection's area and must exceed the class threshold
    gt = [[obj(), dontcare((900, 150, 960, 250))] for _ in range(N)]  # covers 60% of the FP's 2D box
    dt = [[obj(score=0.5), obj(score=0.9, **FAR)] for _ in range(N)]
    assert ap(evaluate(gt, dt, classes=["Car"]), "2D") == pytest.approx(50.0)


@pytest.mark.parametrize("cls,neighbour", [("Car", "Van"), ("Pedestrian", "Person_sitting")])
def test_neighbouring_classes_are_ignored_not_penalised(obj, cls, neighbour):
    other = dict(bbox=(500.0, 100.0, 600.0, 200.0), loc=(-6.0, 1.5, 20.0))
    # a detection of `cls` on a neighbour-class object is not a FP ...
    gt = [[obj(type=cls), obj(type=neighbour, **other)] for _ in range(N)]
    dt = [[obj(type=cls, score=0.5), obj(type=cls, score=0.9, **other)] for _ in range(N)]
    res = evaluate(gt, dt, classes=[cls])
    assert all(ap(res, m, cls=cls, diff=d) == pytest.approx(100.0)
               for m in ("2D", "BEV", "3D") for d in ("easy", "moderate", "hard"))
    # ... and a neighbour-class detection is not evaluated at all (neither TP nor FP)
    dt2 = [[obj(type=cls, score=0.5), obj(type=neighbour, score=0.9)] for _ in range(N)]
    assert ap(evaluate([[obj(type=cls)] for _ in range(N)], dt2, classes=[cls]), "3D", cls=cls) == pytest.approx(100)
    # while an unrelated class GT under a detection makes it a FP
    gt3 = [[obj(type=cls), obj(type="Truck", **other)] for _ in range(N)]
    assert ap(evaluate(gt3, dt, classes=[cls]), "3D", cls=cls) == pytest.approx(50.0)


# the extra, undetected car: which difficulties count it (R40 50) and which ignore it (R40 100)
@pytest.mark.parametrize("extra,expected", [
    (dict(bbox=(500, 100, 600, 130)), (100, 50, 50)),             # 30 px high: not easy
    (dict(bbox=(500, 100, 600, 140)), (100, 50, 50)),             # exactly 40 px: not easy (height <= 40)
    (dict(bbox=(500, 100, 600, 140.5)), (50, 50, 50)),            # 40.5 px: easy
    (dict(bbox=(500, 100, 600, 125)), (100, 100, 100)),           # exactly 25 px: ignored everywhere
    (dict(bbox=(500, 100, 600, 125.5)), (100, 50, 50)),
    (dict(occluded=1), (100, 50, 50)),
    (dict(occluded=2), (100, 100, 50)),
    (dict(occluded=3), (100, 100, 100)),
    (dict(truncated=0.15), (50, 50, 50)),                         # truncation must exceed the limit
    (dict(truncated=0.16), (100, 50, 50)),
    (dict(truncated=0.31), (100, 100, 50)),
    (dict(truncated=0.51), (100, 100, 100)),
])
def test_difficulty_filters(obj, extra, expected):
    other = dict(loc=(-6.0, 1.5, 20.0), **extra)
    other.setdefault("bbox", (500, 100, 600, 200))
    gt = [[obj(), obj(**other)] for _ in range(N)]
    dt = [[obj(score=0.9)] for _ in range(N)]
    res = evaluate(gt, dt, classes=["Car"])
    got = tuple(round(ap(res, "3D", diff=d), 6) for d in ("easy", "moderate", "hard"))
    assert got == expected


def test_detections_below_the_minimum_height_are_ignored(obj):
    # a 20 px high FP is never counted; a 30 px one counts for moderate/hard but not easy
    gt = [[obj()] for _ in range(N)]
    low = dict(FAR, bbox=(900.0, 150.0, 1000.0, 170.0))
    mid = dict(FAR, bbox=(900.0, 150.0, 1000.0, 180.0))
    assert ap(evaluate(gt, [[obj(score=0.5), obj(score=0.9, **low)] for _ in range(N)], classes=["Car"]),
              "2D", diff="hard") == pytest.approx(100.0)
    res = evaluate(gt, [[obj(score=0.5), obj(score=0.9, **mid)] for _ in range(N)], classes=["Car"])
    assert ap(res, "2D", diff="easy") == pytest.approx(100.0)
    assert ap(res, "2D", diff="moderate") == pytest.approx(50.0)


@pytest.mark.parametrize("delta,similarity", [(math.pi, 0.0), (math.pi / 2, 0.5), (0.0, 1.0)])
def test_aos_follows_the_heading_error(obj, delta, similarity):
    gt = [[obj(alpha=0.3)] for _ in range(N)]
    dt = [[obj(alpha=0.3 + delta, score=0.9)] for _ in range(N)]
    res = evaluate(gt, dt, classes=["Car"])
    assert ap(res, "2D") == pytest.approx(100.0)
    assert ap(res, "AOS") == pytest.approx(100.0 * similarity)


def test_aos_with_half_the_headings_flipped_is_halved(obj):
    gt = [[obj(alpha=0.3)] for _ in range(N)]
    dt = [[obj(alpha=0.3 + (math.pi if i % 2 else 0.0), score=0.9)] for i in range(N)]
    assert ap(evaluate(gt, dt, classes=["Car"]), "AOS") == pytest.approx(50.0)


def test_aos_is_skipped_when_a_detection_has_no_orientation(obj):
    res = evaluate([[obj()] for _ in range(N)], [[obj(score=0.9, alpha=-10)] for _ in range(N)], classes=["Car"])
    assert "AOS" not in res.ap["strict"] and any("AOS" in s for s in res.skipped)


def _bev_iou(ry_a, ry_b, dims=(1.5, 1.6, 3.9)):
    h, w, l = dims
    boxes = lambda ry: Boxes3D(torch.tensor([[0.0, 0.75, 20.0, l, w, h, ry]], dtype=torch.float64),  # noqa: E731
                               frame=CoordFrame.CAMERA)
    return float(box_iou_bev_aligned(boxes(ry_a), boxes(ry_b)))


def _angle_for_iou(target):
    lo, hi = 0.0, math.pi / 2  # IoU falls from 1 as the detection turns about its centre
    for _ in range(200):
        mid = (lo + hi) / 2
        if _bev_iou(0.0, mid) > target:
            lo = mid
        else:
            hi = mid
    return lo, hi


@pytest.mark.parametrize("side", ["above", "below"])
def test_rotated_iou_just_around_the_car_threshold(obj, side):
    above, below = _angle_for_iou(0.7)
    angle = {"above": above - 1e-7, "below": below + 1e-7}[side]
    iou = _bev_iou(0.0, angle)
    assert (iou > 0.7) == (side == "above") and abs(iou - 0.7) < 1e-6
    res = evaluate([[obj()] for _ in range(N)], [[obj(ry=angle, score=0.9)] for _ in range(N)], classes=["Car"])
    expected = 100.0 if side == "above" else 0.0
    assert ap(res, "BEV") == pytest.approx(expected)
    assert ap(res, "3D") == pytest.approx(expected)  # same heights: 3D IoU = BEV IoU
    assert ap(res, "3D", oset="loose") == pytest.approx(100.0)  # 0.5 for the loose set


def test_square_turned_45_degrees_matches_at_0_7(obj):
    # a square footprint turned by 45 degrees about its centre: IoU = 2(sqrt2-1) / (2 - 2(sqrt2-1)) = 0.7071
    sq = dict(dims=(1.5, 2.0, 2.0))
    res = evaluate([[obj(**sq)] for _ in range(N)], [[obj(ry=math.pi / 4, score=0.9, **sq)] for _ in range(N)],
                   classes=["Car"], metrics=["BEV"])
    assert ap(res, "BEV") == pytest.approx(100.0)


def test_empty_frames_and_missing_classes(obj):
    gt = [[] for _ in range(5)] + [[obj()] for _ in range(N)]
    dt = [[] for _ in range(5)] + [[obj(score=0.9)] for _ in range(N)]
    res = evaluate(gt, dt)
    assert ap(res, "3D") == pytest.approx(100.0)
    # no Pedestrian/Cyclist detections and no such GT: the devkit skips them; we report 0
    assert ap(res, "3D", cls="Pedestrian") == 0.0 and ap(res, "2D", cls="Cyclist", var="R11") == 0.0
    empty = evaluate([[] for _ in range(3)], [[] for _ in range(3)])
    assert all(v == 0.0 for v in empty.to_flat_dict().values())


def test_score_ties_share_one_threshold(obj):
    # all scores equal: every sample uses score 0.5, so precision is the overall TP share everywhere
    gt = [[obj()] for _ in range(N)]
    dt = [[obj(score=0.5)] + ([obj(score=0.5, **FAR)] if i % 4 == 0 else []) for i in range(N)]
    assert ap(evaluate(gt, dt, classes=["Car"]), "3D") == pytest.approx(100 * 80 / 100)


def test_the_forced_last_sample_can_make_an_added_true_positive_lower_r40(obj):
    """100 cars; 86 found at precision 1 (recall 0.86, short of the step 0.875).  The devkit always samples the
    last true positive, crediting the step 0.875 at precision 1: R40 = 35/40.  One more car found at the bottom of
    the ranking, under 10 false positives, moves that sample to precision 87/97: R40 falls to (34 + 87/97)/40
    although the detections only gained a true positive.  Sampling the last one by the rule of the others
    (``force_last_threshold=False``, a sensitivity check) gives 34/40 to both."""
    gt = [[obj()] for _ in range(100)]
    found = [[obj(score=0.9 - 0.001 * i)] for i in range(86)]
    fps = [[obj(score=0.05, **FAR)] for _ in range(10)]
    lidar = found + [[] for _ in range(4)] + fps
    fused = found + [[obj(score=0.01)]] + [[] for _ in range(3)] + fps
    a = evaluate(gt, lidar, classes=["Car"], metrics=["3D"])
    b = evaluate(gt, fused, classes=["Car"], metrics=["3D"])
    assert ap(a, "3D") == pytest.approx(35 / 40 * 100)
    assert ap(b, "3D") == pytest.approx((34 + 87 / 97) / 40 * 100)
    for dt in (lidar, fused):
        res = evaluate_kitti(KittiEvalData.from_objects(gt, dt), classes=["Car"], metrics=["3D"],
                             force_last_threshold=False)
        assert ap(res, "3D") == pytest.approx(34 / 40 * 100)


def test_short_box_of_another_class_absorbs_ground_truth_as_the_devkit_does(obj):
    # 80 frames, one moderate pedestrian (30 px high) each, found by a pedestrian box at 0.5.  In frames 0..39 a
    # car box 24 px high (under moderate's 25 px, so "ignored" whatever its class) covers it at 0.9.  The devkit's
    # threshold pass matches each object to the highest-scored box over the overlap, ignored ones included, so
    # there the car box takes the pedestrian (neither TP nor missed) and only 40 TP scores of 80 counted objects
    # are sampled: recall 0 .. 1/2 (21 samples).  Its precision pass prefers a counted box and finds all 80 TPs
    # (precision 1), so R40 = 20 x 1 / 40: half the AP gone over boxes of another class.
    ped = dict(type="Pedestrian", bbox=(100.0, 100.0, 120.0, 130.0), dims=(1.7, 0.6, 0.8))
    short_car = dict(type="Car", bbox=(100.0, 106.0, 120.0, 130.0))
    gt = [[obj(**ped)] for _ in range(N)]
    dt = [[obj(score=0.5, **ped)] + ([obj(score=0.9, **short_car)] if f < 40 else []) for f in range(N)]
    res = evaluate(gt, dt, classes=["Pedestrian"], metrics=["2D"])
    assert ap(res, "2D", cls="Pedestrian") == pytest.approx(50.0)
    data = KittiEvalData.from_objects(gt, dt)
    isolated = evaluate_kitti(data.only_detections_of("Pedestrian"), classes=["Pedestrian"], metrics=["2D"])
    assert ap(isolated, "2D", cls="Pedestrian") == pytest.approx(100.0)
    assert len(data.only_detections_of("Pedestrian").dt) == N and len(data.only_detections_of("car").dt) == 40
    assert len(data.dt) == N + 40 and len(data.gt) == N  # the original is left as it was
