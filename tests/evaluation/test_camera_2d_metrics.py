"""Kitti2DMetric and Coco2DMetric: 2D-detection metrics of KITTI-format frames, known answers."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from perception.evaluation.coco_2d import Coco2DMetric, annotations_to_coco_instances
from perception.evaluation.kitti_2d import Kitti2DMetric
from perception.registry import METRICS
from perception.structures import Boxes2D, Boxes3D, CoordFrame, KittiCalibration, ObjectAnnotations

CLASSES = ("Car", "Pedestrian", "Cyclist")
IMAGE = (375, 1242)
CAR_A = [100.0, 150.0, 300.0, 300.0]      # 200x150: large, easy (height 150 px)
CAR_B = [500.0, 170.0, 560.0, 215.0]      # 60x45:   medium, easy (height 45)
PED = [800.0, 160.0, 820.0, 210.0]        # 20x50:   small (area 1000 < 32^2), easy (height 50)
VAN = [900.0, 150.0, 1000.0, 230.0]
DONTCARE = [1100.0, 150.0, 1200.0, 200.0]


def _calib() -> KittiCalibration:
    k = np.array([[700.0, 0.0, 620.0, 0.0], [0.0, 700.0, 187.0, 0.0], [0.0, 0.0, 1.0, 0.0]])
    tr = np.array([[0.0, -1.0, 0.0, 0.0], [0.0, 0.0, -1.0, 0.0], [1.0, 0.0, 0.0, 0.0]])
    return KittiCalibration(P=np.stack([k] * 4), R0_rect=np.eye(3), Tr_velo_to_cam=tr)


def _ground_truth() -> ObjectAnnotations:
    names = ["Car", "Car", "Pedestrian", "Van"]
    n = len(names)
    boxes3d = Boxes3D(torch.tensor([[10.0 + 5 * i, 0.0, -0.9, 4.0, 1.7, 1.5, 0.0] for i in range(n)]),
                      frame=CoordFrame.LIDAR)
    return ObjectAnnotations(names=names, boxes3d=boxes3d, boxes2d=Boxes2D(torch.tensor([CAR_A, CAR_B, PED, VAN])),
                             truncated=torch.zeros(n), occluded=torch.zeros(n, dtype=torch.long),
                             alpha=torch.zeros(n), dontcare=Boxes2D(torch.tensor([DONTCARE])))


def _sample(i: int, boxes, scores, labels) -> dict:
    return dict(sample_idx=f"{i:06d}", dataset_idx=i, calib=_calib(), eval_ann_info=_ground_truth(), ori_shape=IMAGE,
                pred_instances=dict(bboxes=torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4),
                                    scores=torch.tensor(scores, dtype=torch.float32),
                                    labels=torch.tensor(labels, dtype=torch.long)))


def _evaluate(metric, samples):
    metric.dataset_meta = dict(classes=CLASSES)
    metric.process({}, samples)
    return metric.evaluate(len(samples))


PERFECT = ([CAR_A, CAR_B, PED], [0.9, 0.8, 0.7], [0, 0, 1])
# plus detections on the Van (as Car) and in the DontCare region: neither true nor false positives
PERFECT_PLUS_IGNORED = ([CAR_A, CAR_B, PED, VAN, DONTCARE], [0.9, 0.8, 0.7, 0.95, 0.95], [0, 0, 1, 0, 1])


@pytest.mark.parametrize("dets", [PERFECT, PERFECT_PLUS_IGNORED])
def test_kitti_2d_perfect_detections(dets):
    res = _evaluate(METRICS.build(dict(type="Kitti2DMetric", classes=["Car", "Pedestrian"])),
                    [_sample(i, *dets) for i in range(80)])
    for key in ("Car_2D_easy_R40", "Car_2D_moderate_R40", "Pedestrian_2D_hard_R40", "Overall_2D_moderate_R40"):
        assert res[f"kitti2d/{key}"] == pytest.approx(100.0), key
    assert not any("AOS" in k or "3D" in k or "BEV" in k for k in res)


def test_kitti_2d_false_positives_above_the_true_ones():
    # per frame: one Car FP (score 0.9) above the two true Cars (0.8, 0.7): precision 2/3 at every recall
    # (80 frames: the devkit samples recall in 1/40 steps and needs enough ground truth to reach each)
    dets = ([[600.0, 20.0, 700.0, 120.0], CAR_A, CAR_B], [0.9, 0.8, 0.7], [0, 0, 0])
    res = _evaluate(Kitti2DMetric(classes=["Car"]), [_sample(i, *dets) for i in range(80)])
    assert res["kitti2d/Car_2D_moderate_R40"] == pytest.approx(100 * 2 / 3, abs=1e-3)


@pytest.mark.parametrize("dets", [PERFECT, PERFECT_PLUS_IGNORED])
def test_coco_perfect_detections(dets):
    res = _evaluate(METRICS.build(dict(type="Coco2DMetric")), [_sample(i, *dets) for i in range(3)])
    for key in ("bbox_mAP", "bbox_mAP_50", "bbox_mAP_s", "bbox_mAP_m", "bbox_mAP_l", "Car_precision",
                "Pedestrian_precision"):
        assert res[f"coco/{key}"] == pytest.approx(1.0), key


def test_coco_without_ignore_regions_counts_them_as_false_positives():
    samples = [_sample(i, *PERFECT_PLUS_IGNORED) for i in range(3)]
    res = _evaluate(Coco2DMetric(dontcare=False, neighbour_classes={}), samples)
    assert res["coco/bbox_mAP"] < 0.9


def test_coco_localisation_error_lowers_ap_but_not_ap50():
    shifted = [CAR_A[0] + 30.0, CAR_A[1], CAR_A[2] + 30.0, CAR_A[3]]  # IoU 170/230 = 0.74 with CAR_A
    res = _evaluate(Coco2DMetric(), [_sample(i, [shifted, CAR_B, PED], [0.9, 0.8, 0.7], [0, 0, 1]) for i in range(3)])
    assert res["coco/bbox_mAP_50"] == pytest.approx(1.0)
    assert res["coco/bbox_mAP_l"] == pytest.approx(0.5, abs=0.011)  # matched at IoU 0.50..0.70 only: 5 of 10
    assert res["coco/bbox_mAP_m"] == pytest.approx(1.0)


def test_coco_no_detections_and_repeated_evaluations():
    metric = Coco2DMetric()
    res = _evaluate(metric, [_sample(0, [], [], [])])
    assert res["coco/bbox_mAP"] == 0.0 and res["coco/bbox_mAP_s"] == 0.0
    # the next evaluation (other frames, other ground truth) is not served from a cached ground truth
    res = _evaluate(metric, [_sample(7, *PERFECT)])
    assert res["coco/bbox_mAP"] == pytest.approx(1.0)


def test_coco_instances_of_a_frame():
    inst = annotations_to_coco_instances(_ground_truth(), CLASSES)
    assert [(i["bbox_label"], i["ignore_flag"]) for i in inst] == [(0, 0), (0, 0), (1, 0), (0, 1), (0, 1), (1, 1),
                                                                   (2, 1)]


def test_missing_sample_fields_are_named():
    sample = _sample(0, *PERFECT)
    del sample["eval_ann_info"]
    with pytest.raises(KeyError, match="eval_ann_info"):
        _evaluate(Kitti2DMetric(), [sample])
    with pytest.raises(KeyError, match="eval_ann_info"):
        _evaluate(Coco2DMetric(), [sample])
