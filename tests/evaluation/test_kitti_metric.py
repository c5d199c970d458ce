"""KittiMetric (mmengine) and the LiDAR-prediction -> KITTI result conversion, on the real KITTI frame."""
import dataclasses
import math

import pytest
import torch

from perception.datasets.kitti_io import objects_to_annotations, read_calib, read_label, write_label
from perception.evaluation.kitti import load_kitti_dirs, evaluate_kitti, predictions_to_kitti
from perception.evaluation.kitti.convert import ground_truth_to_kitti
from perception.structures import Boxes2D, Boxes3D, CoordFrame, ObjectAnnotations

pytest.importorskip("mmengine")
IMAGE_SHAPE = (370, 1224)


@pytest.fixture(scope="module")
def real(kitti_real_root):
    root = kitti_real_root / "training"
    calib = read_calib(root / "calib" / "000000.txt")
    gt = objects_to_annotations(read_label(root / "label_2" / "000000.txt"), calib)
    return calib, gt


def as_prediction(ann: ObjectAnnotations, scores, lidar_only=True) -> ObjectAnnotations:
    pred = dataclasses.replace(ann, scores=torch.as_tensor(scores, dtype=torch.float32))
    if lidar_only:
        pred.boxes2d = Boxes2D(torch.zeros(len(ann), 4))
    return pred


def lidar_pred(rows, names=None, scores=None):
    n = len(rows)
    return ObjectAnnotations(
        names=names or ["Car"] * n, boxes3d=Boxes3D(torch.tensor(rows, dtype=torch.float32), frame=CoordFrame.LIDAR),
        boxes2d=Boxes2D(torch.zeros(n, 4)), truncated=torch.zeros(n), occluded=torch.zeros(n, dtype=torch.long),
        alpha=torch.zeros(n), scores=torch.tensor(scores or [0.5] * n))


def test_prediction_of_the_labelled_box_reproduces_the_label(real):
    calib, gt = real
    [obj] = predictions_to_kitti(as_prediction(gt, [0.7]), calib, IMAGE_SHAPE)
    assert obj.type == "Pedestrian" and obj.score == pytest.approx(0.7)
    assert obj.dimensions == pytest.approx((1.89, 0.48, 1.20), abs=1e-5)
    assert obj.location == pytest.approx((1.84, 1.47, 8.41), abs=1e-4)
    assert obj.rotation_y == pytest.approx(0.01, abs=1e-3)  # yaw goes through the LiDAR frame (float32)
    # projected corners (see ../shared/README.md): 710.4 144.0 820.3 307.6
    assert obj.bbox == pytest.approx((710.4, 144.0, 820.3, 307.6), abs=0.1)
    assert obj.alpha == pytest.approx(obj.rotation_y - math.atan2(obj.location[0], obj.location[2]), abs=1e-9)
    assert obj.alpha == pytest.approx(-0.2, abs=0.01)  # the label's alpha (-0.20) up to KITTI's rounding
    # a camera detector's own 2D box is kept ("auto")
    [own] = predictions_to_kitti(as_prediction(gt, [0.7], lidar_only=False), calib, IMAGE_SHAPE)
    assert own.bbox == pytest.approx((712.40, 143.00, 810.73, 307.92), abs=1e-3)


def test_boxes_behind_the_camera_or_outside_the_image_are_dropped(real):
    calib, _ = real
    pred = lidar_pred([[20.0, 0.0, -0.8, 4.0, 1.6, 1.5, 0.0],      # in view
                       [-10.0, 0.0, -0.8, 4.0, 1.6, 1.5, 0.0],     # behind
                       [5.0, 30.0, -0.8, 4.0, 1.6, 1.5, 0.0],      # far to the left, outside the image
                       [0.6, 0.0, -0.8, 4.0, 1.6, 1.5, 0.0]],      # crosses the near plane, centre in front
                      scores=[0.9, 0.8, 0.7, 0.6])
    out = predictions_to_kitti(pred, calib, IMAGE_SHAPE)
    assert [o.score for o in out] == pytest.approx([0.9, 0.6])
    for o in out:
        x1, y1, x2, y2 = o.bbox
        assert 0 <= x1 < x2 <= IMAGE_SHAPE[1] and 0 <= y1 < y2 <= IMAGE_SHAPE[0]
    assert out[1].bbox[0] == 0 and out[1].bbox[2] == IMAGE_SHAPE[1]  # so close it fills the image width
    with pytest.raises(ValueError, match="scores"):
        predictions_to_kitti(dataclasses.replace(pred, scores=None), calib, IMAGE_SHAPE)
    assert predictions_to_kitti(pred.select(torch.zeros(4, dtype=torch.bool)), calib, IMAGE_SHAPE) == []


def test_ground_truth_keeps_the_label_decimals(real):
    calib, gt = real
    [obj] = ground_truth_to_kitti(gt, calib)
    assert obj.bbox == (712.40, 143.00, 810.73, 307.92) and obj.truncated == 0.0 and obj.alpha == -0.2
    ann = dataclasses.replace(gt, truncated=torch.tensor([0.15]))
    assert ground_truth_to_kitti(ann, calib)[0].truncated == 0.15  # float32 0.15 is 0.1500000059...


def _samples(real, n=80, score=0.8):
    calib, gt = real
    return [dict(sample_idx=f"{i:06d}", calib=calib, image_shape=IMAGE_SHAPE, gt_annotations=gt,
                 pred=as_prediction(gt, [score])) for i in range(n)]


def test_kitti_metric_through_the_registry(real, tmp_path):
    from perception.registry import METRICS

    metric = METRICS.build(dict(type="KittiMetric", result_dir=str(tmp_path / "results")))
    samples = _samples(real)
    metric.process({}, samples[:40])
    metric.process({}, samples[40:])
    res = metric.evaluate(80)
    assert res["kitti/Pedestrian_3D_moderate_R40"] == pytest.approx(100.0)
    assert res["kitti/Pedestrian_2D_easy_R11"] == pytest.approx(100.0)
    assert res["kitti/Pedestrian_AOS_hard_R40_loose"] == pytest.approx(100.0, abs=1e-3)
    assert res["kitti/Car_3D_moderate_R40"] == 0.0
    assert len(res) == 4 * 3 * 3 * 2 * 2 + 4 * 3 * 2 * 2  # classes + Overall means
    # the written results, evaluated from files against the label files, give the same numbers
    label_dir = tmp_path / "label_2"
    for s in samples:
        write_label(label_dir / f"{s['sample_idx']}.txt", ground_truth_to_kitti(s["gt_annotations"], s["calib"]))
    data, info = load_kitti_dirs(label_dir, tmp_path / "results")
    from_files = evaluate_kitti(data).to_flat_dict()
    assert info["num_frames"] == 80
    for k, v in res.items():
        assert from_files[k] == pytest.approx(v, abs=1e-3), k


def test_kitti_metric_rejects_bad_samples(real):
    from perception.evaluation.kitti.metric import KittiMetric

    metric = KittiMetric()
    sample = _samples(real, n=1)[0]
    with pytest.raises(KeyError, match="pred"):
        metric.process({}, [{k: v for k, v in sample.items() if k != "pred"}])
    with pytest.raises(ValueError, match="000000.*scores"):
        metric.process({}, [dict(sample, pred=dataclasses.replace(sample["pred"], scores=None))])
    metric.process({}, [sample, sample])
    with pytest.raises(ValueError, match="more than once"):
        metric.compute_metrics(metric.results)


def test_kitti_metric_takes_det3d_data_samples(real):
    from mmengine.structures import InstanceData

    from perception.evaluation.kitti.metric import KittiMetric
    from perception.structures.data_sample import Det3DDataSample

    calib, gt = real
    samples = []
    for i in range(80):
        s = Det3DDataSample(metainfo=dict(sample_idx=f"{i:06d}", calib=calib, img_shape=IMAGE_SHAPE, eval_ann_info=gt))
        s.pred_instances_3d = InstanceData(bboxes_3d=gt.boxes3d, scores_3d=torch.tensor([0.8]),
                                           labels_3d=torch.tensor([1]))
        samples.append(s.to_dict() if i % 2 else s)  # mmengine's Evaluator passes to_dict()
    metric = KittiMetric()
    metric.dataset_meta = dict(classes=("Car", "Pedestrian", "Cyclist"))
    metric.process({}, samples)
    res = metric.evaluate(80)
    assert res["kitti/Pedestrian_3D_moderate_R40"] == pytest.approx(100.0)
    bad = Det3DDataSample(metainfo=dict(sample_idx="000100", calib=calib, img_shape=IMAGE_SHAPE, eval_ann_info=gt))
    bad.pred_instances_3d = InstanceData(bboxes_3d=gt.boxes3d, scores_3d=torch.tensor([0.8]),
                                         labels_3d=torch.tensor([7]))
    with pytest.raises(ValueError, match="000100.*labels_3d"):
        metric.process({}, [bad])
