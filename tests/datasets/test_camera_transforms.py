"""The camera 2D pipeline: KittiDataset (camera modality) -> CameraBoxesToDet -> mmdet Resize / RandomFlip /
PackDetInputs, on the tiny simulated dataset."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from mmdet.structures.bbox import HorizontalBoxes

from perception.datasets import KittiDataset
from perception.datasets.transforms.camera_boxes import CameraBoxesToDet
from perception.registry import TRANSFORMS

LOAD = [dict(type="LoadImageFromFileRGB"),
        dict(type="LoadAnnotations3D", with_bbox_3d=False, with_label_3d=False, with_bbox=True, with_label=True),
        dict(type="CameraBoxesToDet")]


def _dataset(root, pipeline):
    return KittiDataset(data_root=str(root), ann_file="kitti_infos_train.pkl", pipeline=pipeline,
                        modality=dict(use_lidar=False, use_camera=True), filter_empty_gt=False)


def test_boxes_become_mmdet_boxes_and_follow_resize_and_flip(tiny_sim_dataset):
    raw = _dataset(tiny_sim_dataset, LOAD)[0]
    assert isinstance(raw["gt_bboxes"], HorizontalBoxes) and raw["gt_bboxes_labels"].dtype == np.int64
    assert not raw["gt_ignore_flags"].any() and len(raw["gt_ignore_flags"]) == len(raw["gt_bboxes_labels"])
    h, w = raw["img"].shape[:2]
    pipeline = LOAD + [dict(type="mmdet.Resize", scale=(w // 2, h // 2), keep_ratio=False),
                       dict(type="mmdet.RandomFlip", prob=1.0),
                       dict(type="mmdet.PackDetInputs", meta_keys=("img_shape", "scale_factor", "flip", "sample_idx"))]
    packed = _dataset(tiny_sim_dataset, pipeline)[0]
    sample = packed["data_samples"]
    assert packed["inputs"].shape == (3, h // 2, w // 2) and sample.flip
    sx, sy = sample.scale_factor
    expected = raw["gt_bboxes"].tensor * torch.tensor([sx, sy, sx, sy])
    expected = torch.stack([w // 2 - expected[:, 2], expected[:, 1], w // 2 - expected[:, 0], expected[:, 3]], 1)
    torch.testing.assert_close(sample.gt_instances.bboxes.tensor, expected, rtol=0, atol=1e-3)
    assert sample.gt_instances.labels.tolist() == raw["gt_bboxes_labels"].tolist()
    assert sample.sample_idx == raw["sample_idx"]


def test_bad_input_is_named():
    t = TRANSFORMS.build(dict(type="CameraBoxesToDet"))
    assert isinstance(t, CameraBoxesToDet)
    with pytest.raises(KeyError, match="gt_bboxes"):
        t(dict(sample_idx="000007", gt_bboxes_labels=np.zeros(0)))
    with pytest.raises(ValueError, match="000007"):
        t(dict(sample_idx="000007", gt_bboxes=np.zeros((2, 4)), gt_bboxes_labels=np.zeros(3)))
    empty = t(dict(sample_idx="000007", gt_bboxes=torch.zeros(0, 4), gt_bboxes_labels=torch.zeros(0)))
    assert empty["gt_bboxes"].tensor.shape == (0, 4)
