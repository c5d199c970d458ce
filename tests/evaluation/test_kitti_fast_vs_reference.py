"""The vectorised KITTI evaluator equals the plain per-frame port of the devkit, on random and adversarial input."""
import dataclasses
import math

import numpy as np
import pytest

from perception.benchmarks.kitti_eval import simulate_kitti
from perception.datasets.kitti_io import KittiObject
from perception.evaluation.kitti import KittiEvalData, evaluate_kitti
from perception.evaluation.kitti import reference
from perception.evaluation.kitti.evaluate import get_thresholds, interpolate_precision


def assert_same(data, **kw):
    fast = evaluate_kitti(data, **kw)
    ref = reference.evaluate_kitti_reference(data, **kw)
    a, b = fast.to_flat_dict(), ref.to_flat_dict()
    assert a.keys() == b.keys()
    bad = {k: (a[k], b[k]) for k in a if not (a[k] == pytest.approx(b[k], abs=1e-9)
                                              or (math.isnan(a[k]) and math.isnan(b[k])))}
    assert not bad
    for oset in fast.curves:
        for metric in fast.curves[oset]:
            for cls in fast.curves[oset][metric]:
                np.testing.assert_allclose(fast.curves[oset][metric][cls], ref.curves[oset][metric][cls],
                                           atol=1e-12, equal_nan=True)
    assert fast.num_gt == ref.num_gt
    return fast


def _adversarial_frames(rng, n_frames):
    """Crowded frames: near-duplicate boxes around each object, score ties, DontCare on detections,
    short detections of other classes, neighbouring classes, boundary truncation/occlusion/height."""
    gts, dts = [], []
    pool = [0.2, 0.5, 0.5, 0.8]
    for _ in range(n_frames):
        g, d = [], []
        for _k in range(int(rng.integers(0, 7))):
            name = str(rng.choice(["Car", "Car", "Van", "Pedestrian", "Person_sitting", "Cyclist", "Truck"]))
            x1, y1 = rng.uniform(0, 1100), rng.uniform(0, 300)
            bh = float(rng.choice([20.0, 25.0, 25.5, 30.0, 40.0, 41.0, 80.0]))
            bbox = (x1, y1, x1 + rng.uniform(20, 120), y1 + bh)
            dims = tuple(rng.uniform(0.5, 4.0, 3))
            loc = (rng.uniform(-3, 3), rng.uniform(1, 2), rng.uniform(8, 14))  # crowded: boxes overlap
            ry = float(rng.uniform(-math.pi, math.pi))
            trunc = float(rng.choice([0.0, 0.15, 0.2, 0.3, 0.45, 0.6]))
            g.append(KittiObject(name, trunc, int(rng.integers(0, 4)), float(rng.uniform(-3, 3)), bbox, dims, loc, ry))
            for _j in range(int(rng.integers(0, 4))):
                jitter = rng.normal(size=4) * rng.choice([0.5, 5.0])
                bb = np.sort(np.array(bbox)[[0, 2]] + jitter[:2]), np.sort(np.array(bbox)[[1, 3]] + jitter[2:])
                dname = name if rng.uniform() < 0.7 else str(rng.choice(["Car", "Pedestrian", "Cyclist", "Van"]))
                d.append(KittiObject(dname, 0.0, 0, float(rng.uniform(-3, 3)),
                                     (bb[0][0], bb[1][0], bb[0][1], bb[1][1]),
                                     tuple(np.abs(np.array(dims) + rng.normal(size=3) * 0.2)),
                                     tuple(np.array(loc) + rng.normal(size=3) * 0.3), ry + float(rng.normal() * 0.3),
                                     score=float(rng.choice(pool))))
        for _k in range(int(rng.integers(0, 3))):
            if d and rng.uniform() < 0.7:
                b = d[int(rng.integers(len(d)))].bbox
                bbox = (b[0] - 5, b[1] - 5, b[2] + rng.uniform(-20, 10), b[3] + 5)
            else:
                x1, y1 = rng.uniform(0, 1100), rng.uniform(0, 300)
                bbox = (x1, y1, x1 + 80, y1 + 60)
            g.append(KittiObject("DontCare", -1, -1, -10, bbox, (-1, -1, -1), (-1000, -1000, -1000), -10))
        order = rng.permutation(len(g))
        gts.append([g[i] for i in order])
        dts.append([d[i] for i in rng.permutation(len(d))])
    return gts, dts


@pytest.mark.parametrize("seed", range(6))
def test_adversarial_inputs_match_the_reference(seed):
    rng = np.random.default_rng(seed)
    gts, dts = _adversarial_frames(rng, int(rng.choice([3, 15, 40])))
    assert_same(KittiEvalData.from_objects(gts, dts))


def test_simulated_set_matches_the_reference():
    gts, dts = simulate_kitti(40, seed=3)
    res = assert_same(KittiEvalData.from_objects(gts, dts))
    assert res.num_gt["Car"]["moderate"] > 40  # a non-trivial set


def test_subsets_of_classes_metrics_and_overlaps_match():
    gts, dts = simulate_kitti(15, seed=5)
    data = KittiEvalData.from_objects(gts, dts)
    assert_same(data, classes=["Pedestrian"], metrics=["BEV"], overlap_sets=["loose"])
    res = evaluate_kitti(data, classes=["cyclist", "Cyclist"], metrics=["3D", "2D"])
    assert list(res.ap["strict"]) == ["2D", "AOS", "3D"] and list(res.ap["strict"]["3D"]) == ["Cyclist"]


@pytest.mark.parametrize("seed", range(20))
def test_get_thresholds_matches_the_loop(seed):
    rng = np.random.default_rng(seed)
    n_gt = int(rng.integers(1, 200))
    n = int(rng.integers(0, n_gt + 1))
    scores = rng.choice([0.1, 0.5, 0.9], size=n) if seed % 3 == 0 else rng.uniform(size=n)
    got = get_thresholds(scores, n_gt)
    want = reference.get_thresholds(list(scores), float(n_gt))
    np.testing.assert_array_equal(got, want)
    assert len(got) <= 41


def test_interpolation_keeps_std_max_element_semantics():
    p = np.array([0.2, np.nan, 0.5, 0.1] + [0.0] * 37)
    got = interpolate_precision(p, 4)
    want = [reference._max_element(list(p[i:])) for i in range(4)]
    np.testing.assert_array_equal(got[:4], want)  # [0.5, nan, 0.5, 0.1]
    assert got[0] == 0.5 and math.isnan(got[1]) and got[3] == 0.1


def test_wrong_arguments_are_rejected():
    data = KittiEvalData.from_objects([[]], [[]])
    with pytest.raises(ValueError, match="Truck"):
        evaluate_kitti(data, classes=["Truck"])
    with pytest.raises(ValueError, match="overlap"):
        evaluate_kitti(data, overlap_sets=["medium"])
    with pytest.raises(ValueError, match="metrics"):
        evaluate_kitti(data, metrics=["AOS"])


def test_benchmark_runs_small():
    import argparse

    from perception.benchmarks import kitti_eval

    parser = argparse.ArgumentParser()
    kitti_eval.add_arguments(parser)
    report = kitti_eval.run(parser.parse_args(["--frames", "25", "--repeat", "1"]))
    assert report["reference"]["frames"] == 25 and report["reference"]["max_abs_ap_diff"] < 1e-9
    assert report["files_vs_memory_max_abs_ap_diff"] == 0.0
    assert 5 <= report["set"]["gt_per_frame"] <= 10 and 20 <= report["set"]["detections_per_frame"] <= 50


def _frames_of(data, k):
    """Every field of frame k's ground truth and detections, and its DontCare boxes, as lists."""
    def rows(table):
        m = table.frame == k
        return {f.name: getattr(table, f.name)[m].tolist() for f in dataclasses.fields(table)
                if f.name != "frame" and getattr(table, f.name) is not None}
    return rows(data.gt), rows(data.dt), data.dontcare_bbox[data.dontcare_frame == k].tolist()


def test_take_frames_selects_whole_frames_in_the_given_order():
    rng = np.random.default_rng(7)
    gts, dts = _adversarial_frames(rng, 12)
    data = KittiEvalData.from_objects(gts, dts, frame_ids=[f"{i:06d}" for i in range(12)])
    frames = [3, 0, 3, 11, 5, 5, 5]
    taken = data.take_frames(frames)
    assert taken.num_frames == 7 and taken.frame_ids == [f"{i:06d}" for i in frames]
    for k, f in enumerate(frames):
        assert _frames_of(taken, k) == _frames_of(data, f)
    assert len(taken.gt) == sum(len(gts[f]) for f in frames) - sum(o.type == "DontCare" for f in frames for o in gts[f])
    # the same as building the evaluation from those frames' objects directly
    direct = KittiEvalData.from_objects([gts[f] for f in frames], [dts[f] for f in frames])
    assert evaluate_kitti(taken).to_flat_dict() == evaluate_kitti(direct).to_flat_dict()
    with pytest.raises(ValueError, match=r"take_frames: frame indices must be in \[0, 12\)"):
        data.take_frames([0, 12])


def test_frame_order_does_not_change_the_result_and_an_empty_selection_is_valid():
    rng = np.random.default_rng(8)
    gts, dts = _adversarial_frames(rng, 15)
    data = KittiEvalData.from_objects(gts, dts)
    shuffled = data.take_frames(rng.permutation(15))
    assert_same(shuffled)
    a, b = evaluate_kitti(data).to_flat_dict(), evaluate_kitti(shuffled).to_flat_dict()
    assert a.keys() == b.keys()
    assert all(a[k] == pytest.approx(b[k], abs=1e-9) or (math.isnan(a[k]) and math.isnan(b[k])) for k in a)
    empty = data.take_frames([])
    assert empty.num_frames == 0 and len(empty.gt) == len(empty.dt) == len(empty.dontcare_frame) == 0


@pytest.mark.parametrize("seed", range(3))
def test_resampled_evaluation_equals_evaluating_each_resample(seed):
    """Overlaps computed once on the whole set and remapped give each resample's own evaluation exactly."""
    from perception.evaluation.kitti import evaluate_kitti_resampled

    rng = np.random.default_rng(seed)
    gts, dts = _adversarial_frames(rng, 20)
    gts[3], dts[5] = [], []                                     # frames without ground truth / detections
    data = KittiEvalData.from_objects(gts, dts)
    frame_sets = [rng.integers(0, 20, 20) for _ in range(4)] + [np.array([3, 3, 5]), np.arange(20)[::-1]]
    for kw in ({}, {"overlap_sets": ("strict",), "metrics": ("3D", "2D"), "classes": ("Pedestrian", "Car")}):
        got = list(evaluate_kitti_resampled(data, frame_sets, **kw))
        assert len(got) == len(frame_sets)
        for frames, res in zip(frame_sets, got):
            want = evaluate_kitti(data.take_frames(frames), **kw)
            a, b = res.to_flat_dict(), want.to_flat_dict()
            assert a.keys() == b.keys()
            assert all(a[k] == b[k] or (math.isnan(a[k]) and math.isnan(b[k])) for k in a)
            assert res.num_gt == want.num_gt
