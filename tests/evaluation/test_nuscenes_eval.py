"""nuScenes detection evaluation (the devkit's) on the simulator's nuScenes database: known answers, agreement
with the devkit's DetectionEval, the submission writer and its checks, NuScenesMetric."""
from __future__ import annotations

import json
import math
import pathlib

import numpy as np
import pytest
import torch
from mmengine.structures import InstanceData

from perception.datasets.nuscenes_infos import create_nuscenes_infos, info_path, load_nuscenes_infos
from perception.datasets.nuscenes_io import load_nuscenes
from perception.datasets.sim.nuscenes_writer import NuScenesSimConfig, generate_nuscenes_dataset
from perception.evaluation.nuscenes import (SubmissionError, build_submission, default_attribute,
                                            detections_to_results, evaluate_nuscenes_detection, load_submission,
                                            validate_submission, write_submission)
from perception.evaluation.nuscenes.metric import NuScenesMetric
from perception.structures import Boxes3D, CoordFrame
from perception.structures.data_sample import Det3DDataSample

SIM_CLASSES = ("car", "pedestrian", "bicycle")
OTHER_ATTRIBUTE = {"vehicle.moving": "vehicle.parked", "vehicle.parked": "vehicle.moving",
                   "vehicle.stopped": "vehicle.moving", "pedestrian.moving": "pedestrian.standing",
                   "pedestrian.standing": "pedestrian.moving", "cycle.with_rider": "cycle.without_rider"}


@pytest.fixture(scope="session")
def sim_nusc_root(tmp_path_factory) -> pathlib.Path:
    """The tiny simulated nuScenes database with its info files (see tests/datasets/test_nuscenes_sim.py)."""
    root = tmp_path_factory.getbasetemp() / "sim_nuscenes_tiny"
    generate_nuscenes_dataset(root, NuScenesSimConfig.tiny(seed=0), progress=False)
    create_nuscenes_infos(root, "v1.0-mini", progress=False, log=lambda _: None)
    return root


@pytest.fixture(scope="module")
def nusc(sim_nusc_root):
    return load_nuscenes(sim_nusc_root, "v1.0-mini")


@pytest.fixture(scope="module")
def samples(sim_nusc_root) -> list[dict]:
    """The info entries of both splits (6 samples)."""
    return [d for split in ("sim_train", "sim_val")
            for d in load_nuscenes_infos(info_path(sim_nusc_root, split))["data_list"]]


def _lidar2global(info: dict) -> np.ndarray:
    return np.asarray(info["ego2global"]) @ np.asarray(info["lidar2ego"])


def gt_submission(samples, *, shift=(0.0, 0.0), scale=1.0, turn=0.0, dvel=(0.0, 0.0), swap_attributes=False,
                  drop=(), attributes=True) -> dict:
    """The ground truth (valid boxes of the detection classes) as a submission, perturbed by known amounts in
    the LiDAR frame; scores fall from 1 to 0.5 within each sample."""
    results = {}
    for info in samples:
        a = info["annos"]
        idx = [i for i, n in enumerate(a["names"]) if n and n not in drop and a["valid_flag"][i]]
        boxes = np.asarray(a["boxes3d"], np.float64)[idx]
        boxes[:, :2] += shift
        boxes[:, 3:6] *= scale
        boxes[:, 6] += turn
        vel = np.nan_to_num(np.asarray(a["velocities"], np.float64)[idx]) + dvel
        attrs = [a["attributes"][i] for i in idx]
        if swap_attributes:
            attrs = [OTHER_ATTRIBUTE[x] for x in attrs]
        results[info["token"]] = detections_to_results(
            info["token"], boxes, np.linspace(1.0, 0.5, len(idx)), [a["names"][i] for i in idx], _lidar2global(info),
            velocities=vel, attributes=attrs if attributes else None)
    return build_submission(results)


def _evaluate(nusc, samples, submission, classes=SIM_CLASSES):
    return evaluate_nuscenes_detection(nusc, submission, sample_tokens=[s["token"] for s in samples],
                                       classes=classes)


# ------------------------------------------------------------------------------------------ known answers
def test_ground_truth_scores_perfectly(nusc, samples):
    res = _evaluate(nusc, samples, gt_submission(samples))
    assert res.num_samples == 6 and res.classes == ("car", "pedestrian", "bicycle")
    assert res.mean_ap == pytest.approx(1.0, abs=1e-9)
    for name in SIM_CLASSES:
        assert all(ap == pytest.approx(1.0) for ap in res.class_aps[name].values())
    for metric, err in res.tp_errors.items():
        assert err == pytest.approx(0.0, abs=1e-4), metric
    assert res.nd_score == pytest.approx(1.0, abs=1e-4)
    # the official 10-class average counts the 7 classes the simulator lacks as AP 0 and TP errors 1, except the
    # undefined ones (traffic_cone: AOE, AVE, AAE; barrier: AVE, AAE), which the class means skip
    full = _evaluate(nusc, samples, gt_submission(samples), classes=None)
    assert full.mean_ap == pytest.approx(0.3) and len(full.classes) == 10
    expected = {"trans_err": 7 / 10, "scale_err": 7 / 10, "orient_err": 6 / 9, "vel_err": 5 / 8, "attr_err": 5 / 8}
    for metric, err in expected.items():
        assert full.tp_errors[metric] == pytest.approx(err, abs=1e-4), metric
    assert full.nd_score == pytest.approx((5 * 0.3 + sum(1 - e for e in expected.values())) / 10, abs=1e-4)


def test_the_submission_reproduces_the_database_boxes(nusc, samples):
    sub = gt_submission(samples)
    for info in samples:
        a = info["annos"]
        valid = [i for i, n in enumerate(a["names"]) if n and a["valid_flag"][i]]  # gt_submission's boxes, in order
        boxes = sub["results"][info["token"]]
        assert len(boxes) == len(valid) > 0
        for box, i in zip(boxes, valid):
            ann = nusc.get("sample_annotation", a["tokens"][i])
            np.testing.assert_allclose(box["translation"], ann["translation"], atol=1e-4)
            np.testing.assert_allclose(box["size"], ann["size"], atol=1e-5)  # [w, l, h]
            q, r = np.asarray(box["rotation"]), np.asarray(ann["rotation"])
            assert min(np.abs(q - r).max(), np.abs(q + r).max()) < 1e-5  # q and -q are the same rotation
            np.testing.assert_allclose(box["velocity"], nusc.box_velocity(ann["token"])[:2], atol=1e-4)
            assert box["attribute_name"] == a["attributes"][i] and box["detection_name"] == a["names"][i]


@pytest.mark.parametrize("kind, kwargs, map_, errors", [
    ("translation 0.3 m", dict(shift=(0.18, 0.24)), 1.0, {"trans_err": 0.3}),
    ("translation 0.75 m: misses the 0.5 m threshold", dict(shift=(0.45, 0.6)), 0.75, {"trans_err": 0.75}),
    ("scale x1.2", dict(scale=1.2), 1.0, {"scale_err": 1 - 1 / 1.2 ** 3}),
    ("yaw +0.3 rad", dict(turn=0.3), 1.0, {"orient_err": 0.3}),
    ("velocity +0.5 m/s", dict(dvel=(0.3, -0.4)), 1.0, {"vel_err": 0.5}),
    ("wrong attributes", dict(swap_attributes=True), 1.0, {"attr_err": 1.0}),
])
def test_known_perturbations_give_known_errors(nusc, samples, kind, kwargs, map_, errors):
    res = _evaluate(nusc, samples, gt_submission(samples, **kwargs))
    assert res.mean_ap == pytest.approx(map_, abs=1e-9), kind
    expected = {"trans_err": 0.0, "scale_err": 0.0, "orient_err": 0.0, "vel_err": 0.0, "attr_err": 0.0, **errors}
    for metric, value in expected.items():
        assert res.tp_errors[metric] == pytest.approx(value, abs=2e-4), (kind, metric)
        for name in SIM_CLASSES:
            assert res.class_tp_errors[name][metric] == pytest.approx(value, abs=2e-4), (kind, name, metric)
    nds = (5 * map_ + sum(max(0.0, 1 - v) for v in expected.values())) / 10
    assert res.nd_score == pytest.approx(nds, abs=2e-4), kind


def test_dropping_a_class_zeroes_its_ap_only(nusc, samples):
    res = _evaluate(nusc, samples, gt_submission(samples, drop=("pedestrian",)))
    assert res.class_ap("pedestrian") == 0.0
    assert res.class_ap("car") == pytest.approx(1.0) and res.class_ap("bicycle") == pytest.approx(1.0)
    assert res.mean_ap == pytest.approx(2 / 3)
    assert all(res.class_tp_errors["pedestrian"][m] == 1.0 for m in res.tp_errors)
    flat = res.to_flat_dict()
    assert flat["pedestrian_AP"] == 0.0 and flat["car_AP_dist_0.5"] == pytest.approx(1.0) and "mATE" in flat


def test_no_detections_at_all(nusc, samples):
    empty = build_submission({s["token"]: [] for s in samples})
    res = _evaluate(nusc, samples, empty)
    assert res.mean_ap == 0.0 and res.nd_score == 0.0


def test_default_attributes_follow_class_and_speed(nusc, samples):
    assert default_attribute("car") == "vehicle.parked"
    assert default_attribute("car", [1.0, 0.0]) == "vehicle.moving"
    assert default_attribute("bicycle", [0.0, 0.5]) == "cycle.with_rider"
    assert default_attribute("pedestrian", [0.0, 0.0]) == "pedestrian.standing"
    assert default_attribute("bus", [0.0, 0.1]) == "vehicle.stopped"
    assert default_attribute("barrier", [3.0, 0.0]) == ""
    res = _evaluate(nusc, samples, gt_submission(samples, attributes=False))
    # the simulator's cyclists all ride and move, so the speed rule gets every bicycle right
    assert res.class_tp_errors["bicycle"]["attr_err"] == pytest.approx(0.0)
    assert res.mean_ap == pytest.approx(1.0)


# ------------------------------------------------------------------------------------ the devkit's own class
def test_agrees_with_devkit_detection_eval(nusc, sim_nusc_root, tmp_path):
    from nuscenes.eval.common.config import config_factory
    from nuscenes.eval.detection.evaluate import DetectionEval

    val = load_nuscenes_infos(info_path(sim_nusc_root, "sim_val"))["data_list"]
    rng = np.random.default_rng(0)
    sub = gt_submission(val, shift=(0.2, -0.1), scale=1.1, turn=0.1, dvel=(0.2, 0.1))
    for token, boxes in sub["results"].items():  # noise, scrambled scores, a false positive, a missed object
        for box in boxes:
            box["translation"] = (np.asarray(box["translation"]) + rng.normal(0, 0.4, 3)).tolist()
            box["detection_score"] = float(rng.random())
        fp = dict(boxes[0], translation=(np.asarray(boxes[0]["translation"]) + [6.0, 0.0, 0.0]).tolist(),
                  detection_score=0.55)
        sub["results"][token] = boxes[1:] + [fp]
    path = tmp_path / "results.json"
    write_submission(path, sub)
    ours = evaluate_nuscenes_detection(nusc, path, eval_set="sim_val")
    devkit = DetectionEval(nusc, config_factory("detection_cvpr_2019"), str(path), "sim_val",
                           output_dir=str(tmp_path / "devkit"), verbose=False)
    theirs = devkit.evaluate()[0].serialize()
    assert 0.05 < ours.mean_ap < 0.3  # not a trivial 0 / 1 case (3 of the 10 classes exist)
    assert ours.mean_ap == theirs["mean_ap"] and ours.nd_score == theirs["nd_score"]
    for metric in ours.tp_errors:
        assert ours.tp_errors[metric] == theirs["tp_errors"][metric]
    for name in ours.classes:
        for th, ap in ours.class_aps[name].items():
            assert ap == theirs["label_aps"][name][th]
        for metric, err in ours.class_tp_errors[name].items():
            other = theirs["label_tp_errors"][name][metric]
            assert err == other or (math.isnan(err) and math.isnan(other))


# -------------------------------------------------------------------------------------------- bad input
def test_malformed_submission_file_is_named(nusc, samples, tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{"meta": {"use_lidar": true},\n "results": {')
    with pytest.raises(SubmissionError, match=r"broken.json: not valid JSON \(line 2"):
        evaluate_nuscenes_detection(nusc, path, eval_set="sim_val")
    with pytest.raises(FileNotFoundError):
        load_submission(tmp_path / "missing.json")


def _first_box_edit(samples, **fields) -> dict:
    sub = gt_submission(samples)
    token = samples[0]["token"]
    sub["results"][token][0].update(fields)
    return sub


@pytest.mark.parametrize("fields, message", [
    (dict(detection_name="dog"), r"\[0\]\['detection_name'\]: unknown class 'dog'"),
    (dict(size=[1.8, float("nan"), 1.5]), r"\[0\]\['size'\]: expected 3 positive finite numbers \[w, l, h\]"),
    (dict(size=[1.8, -4.0, 1.5]), r"\[0\]\['size'\]: expected 3 positive finite numbers"),
    (dict(translation=[1.0, 2.0]), r"\[0\]\['translation'\]: expected 3 finite numbers"),
    (dict(rotation=[0.5, 0.0, 0.0, 0.5]), r"\[0\]\['rotation'\]: expected a unit quaternion"),
    (dict(velocity=[float("inf"), 0.0]), r"\[0\]\['velocity'\]"),
    (dict(detection_score=float("nan")), r"\[0\]\['detection_score'\]: expected a finite number"),
    (dict(attribute_name="pedestrian.moving"), r"'pedestrian.moving' is not an attribute of 'car'"),
    (dict(sample_token="abc"), r"\['sample_token'\]: 'abc' differs from the results key"),
])
def test_bad_boxes_are_named(nusc, samples, fields, message):
    sub = _first_box_edit(samples, **fields)
    assert sub["results"][samples[0]["token"]][0]["detection_name"] in SIM_CLASSES + ("dog",)
    with pytest.raises(SubmissionError, match=message):
        _evaluate(nusc, samples, sub)


def test_missing_fields_and_samples_are_named(nusc, samples, tmp_path):
    sub = gt_submission(samples)
    missing = samples[4]["token"]
    del sub["results"][missing]
    with pytest.raises(SubmissionError, match=f"have no entry \\(e.g. sample_token '{missing}'\\)"):
        _evaluate(nusc, samples, sub)
    sub = gt_submission(samples)
    del sub["results"][samples[0]["token"]][1]["size"]
    with pytest.raises(SubmissionError, match=r"\[1\]: missing field\(s\) size"):
        _evaluate(nusc, samples, sub)
    with pytest.raises(SubmissionError, match="missing top-level field 'results'"):
        validate_submission({"meta": sub["meta"]})
    with pytest.raises(SubmissionError, match="not among the 3 evaluated samples"):
        validate_submission(gt_submission(samples), sample_tokens=[s["token"] for s in samples[:3]])
    too_many = gt_submission(samples)
    too_many["results"][samples[0]["token"]] *= 200
    with pytest.raises(SubmissionError, match="at most 500 are allowed"):
        validate_submission(too_many)
    with pytest.raises(ValueError, match="not in the database"):
        evaluate_nuscenes_detection(nusc, gt_submission(samples), sample_tokens=["0" * 32])
    with pytest.raises(ValueError, match="subset of"):
        _evaluate(nusc, samples, gt_submission(samples), classes=("Car",))
    with pytest.raises(SubmissionError, match=r"\['size'\]"):
        write_submission(tmp_path / "x.json", _first_box_edit(samples, size=[0.0, 1.0, 1.0]))
    assert not (tmp_path / "x.json").exists()


# ------------------------------------------------------------------------------------------------ metric
def test_metric_evaluates_packed_predictions(sim_nusc_root, samples, tmp_path):
    metric = NuScenesMetric(data_root=str(sim_nusc_root), ann_file="nuscenes_infos_sim_val.pkl",
                            jsonfile_prefix=str(tmp_path))
    metric.dataset_meta = {"classes": SIM_CLASSES}
    val = load_nuscenes_infos(info_path(sim_nusc_root, "sim_val"))["data_list"]
    batch = []
    for info in val:
        a = info["annos"]
        keep = [i for i, n in enumerate(a["names"]) if n in SIM_CLASSES and a["valid_flag"][i]]
        sample = Det3DDataSample(metainfo={"sample_idx": info["token"]})
        sample.pred_instances_3d = InstanceData(
            bboxes_3d=Boxes3D(torch.as_tensor(a["boxes3d"][keep]), frame=CoordFrame.LIDAR),
            scores_3d=torch.linspace(1.0, 0.5, len(keep)),
            labels_3d=torch.tensor([SIM_CLASSES.index(a["names"][i]) for i in keep]),
            velocities_3d=torch.as_tensor(np.nan_to_num(a["velocities"][keep])),
            attribute_names=[a["attributes"][i] for i in keep])
        batch.append(sample.to_dict())
    metric.process({}, batch)
    out = metric.evaluate(len(batch))
    assert out["nuscenes/mAP"] == pytest.approx(1.0) and out["nuscenes/NDS"] == pytest.approx(1.0, abs=1e-4)
    assert out["nuscenes/car_AP"] == pytest.approx(1.0) and "nuscenes/car_AP_dist_0.5" not in out
    validate_submission(json.loads((tmp_path / "results_nusc.json").read_text()),
                        sample_tokens=[d["token"] for d in val])
    # a sample outside the info file, and labels outside the classes, are named
    bad = Det3DDataSample(metainfo={"sample_idx": "f" * 32})
    bad.pred_instances_3d = InstanceData(bboxes_3d=Boxes3D.empty(frame=CoordFrame.LIDAR),
                                         scores_3d=torch.zeros(0), labels_3d=torch.zeros(0, dtype=torch.long))
    metric.process({}, [bad.to_dict()])
    with pytest.raises(ValueError, match=f"sample {'f' * 32} is not in"):
        metric.evaluate(1)
