"""perception.visualization: projected boxes, 2D boxes, BEV plots, panoptic overlays."""
from __future__ import annotations

import numpy as np
import torch

from perception.datasets import kitti_io
from perception.structures import Boxes3D, CoordFrame
from perception.visualization import (bev_plot, draw_boxes2d, draw_boxes3d_on_image, panoptic_overlay,
                                      project_boxes3d, save_image)


def test_projection_matches_the_real_kitti_label(kitti_real_root):
    root = kitti_real_root / "training"
    calib = kitti_io.read_calib(root / "calib" / "000000.txt")
    ann = kitti_io.objects_to_annotations(kitti_io.read_label(root / "label_2" / "000000.txt"), calib)
    segs = project_boxes3d(ann.boxes3d, calib)[0]
    pts = np.array([p for seg in segs for p in seg[:2]])
    span = [pts[:, 0].min(), pts[:, 1].min(), pts[:, 0].max(), pts[:, 1].max()]
    assert np.allclose(span, [710.4, 144.0, 820.3, 307.6], atol=0.2)
    img = kitti_io.read_image(root / "image_2" / "000000.png")
    out = draw_boxes3d_on_image(img, ann.boxes3d, calib, labels=ann.names)
    assert out.shape == img.shape and out.dtype == np.uint8
    changed = np.any(out != img, axis=2)
    ys, xs = np.nonzero(changed)
    assert 700 <= xs.min() and xs.max() <= 835 and 125 <= ys.min() and ys.max() <= 312  # box + its label


def test_boxes_behind_the_camera_are_clipped(kitti_real_root):
    calib = kitti_io.read_calib(kitti_real_root / "training" / "calib" / "000000.txt")
    img = np.zeros((375, 1242, 3), np.uint8)
    behind = Boxes3D(torch.tensor([[-10.0, 0.0, -1.0, 4.0, 1.6, 1.5, 0.0]]), frame=CoordFrame.LIDAR)
    assert project_boxes3d(behind, calib) == [[]]
    assert (draw_boxes3d_on_image(img, behind, calib) == 0).all()
    across = Boxes3D(torch.tensor([[0.0, 3.0, -1.0, 6.0, 1.6, 1.5, 0.0]]), frame=CoordFrame.LIDAR)  # beside the car
    out = draw_boxes3d_on_image(img, across, calib)
    assert out.any()
    for p, q, _ in project_boxes3d(across, calib)[0]:
        assert np.isfinite(p).all() and np.isfinite(q).all()


def test_draw_boxes2d_and_overlay_and_bev(tmp_path):
    img = np.full((60, 80, 3), 100, np.uint8)
    out = draw_boxes2d(img, np.array([[10, 10, 40, 50]]), labels=["Car"], scores=[0.9])
    assert out[10, 25].tolist() != [100, 100, 100] and (img == 100).all()  # input untouched
    ids = np.zeros((60, 80), np.int64)
    ids[:30] = 8000  # sky
    ids[30:] = 4000  # road
    ids[35:50, 10:30] = 1001  # a car
    ov = panoptic_overlay(img, ids)
    assert ov.shape == img.shape and (ov[5, 5] != ov[55, 70]).any() and (ov[40, 20] != ov[55, 70]).any()
    pts = np.random.default_rng(0).normal(size=(500, 4)).astype(np.float32) * [10, 10, 1, 0.1]
    boxes = Boxes3D(torch.tensor([[10.0, 2.0, -1.0, 4.0, 1.6, 1.5, 0.3]]), frame=CoordFrame.LIDAR)
    bev = bev_plot(pts, boxes, boxes.translate([0.5, 0.0, 0.0]), pred_scores=[0.8], gt_labels=["Car"],
                   path=tmp_path / "bev.png")
    assert bev.ndim == 3 and bev.shape[2] == 3 and bev.dtype == np.uint8
    assert (tmp_path / "bev.png").is_file()
    save_image(tmp_path / "ov.png", ov)
    assert (kitti_io.read_image(tmp_path / "ov.png") == ov).all()
