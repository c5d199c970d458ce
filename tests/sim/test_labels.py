"""KITTI labels of simulated frames: LiDAR support, 2D/3D consistency, truncation and occlusion."""
from __future__ import annotations

import numpy as np
import torch

from perception.datasets import kitti_io
from perception.datasets.sim import SimConfig, simulate_frame
from perception.datasets.sim.calib import kitti_calibration
from perception.structures import Boxes3D, CoordFrame, KittiCalibration, box_iou_bev

NUM_FRAMES = 3


def _frames(root):
    train = root / "training"
    for i in range(NUM_FRAMES):
        name = f"{i:06d}"
        calib = kitti_io.read_calib(train / "calib" / f"{name}.txt")
        objects = kitti_io.read_label(train / "label_2" / f"{name}.txt")
        points = kitti_io.read_points(train / "velodyne" / f"{name}.bin")
        yield name, calib, objects, points


def test_frames_have_labels_of_every_kind(sim_root):
    names = [o.type for _, _, objects, _ in _frames(sim_root) for o in objects]
    assert {"Car", "DontCare"} <= set(names)
    assert set(names) <= {"Car", "Pedestrian", "Cyclist", "DontCare"}
    assert sum(n != "DontCare" for n in names) >= 4


def test_every_labelled_box_holds_lidar_points(sim_root, tiny_config):
    for name, calib, objects, points in _frames(sim_root):
        ann = kitti_io.objects_to_annotations(objects, calib)
        if not len(ann):
            continue
        inside = ann.boxes3d.points_inside(torch.from_numpy(points))  # perception.ops.points_in_boxes
        counts = inside.sum(dim=0)
        assert (counts >= tiny_config.min_lidar_points).all(), f"{name}: boxes with too few points: {counts.tolist()}"


def test_projected_3d_corners_span_the_2d_box(sim_root, tiny_config):
    w, h = tiny_config.image_width, tiny_config.image_height
    checked = 0
    for name, calib, objects, _ in _frames(sim_root):
        for o in objects:
            x1, y1, x2, y2 = o.bbox
            assert 0 <= x1 < x2 <= w and 0 <= y1 < y2 <= h, f"{name}: box {o.bbox} outside the image"
            if o.type == "DontCare":
                continue
            hh, ww, ll = o.dimensions
            x, y, z = o.location
            cam = Boxes3D([[x, y - hh / 2, z, ll, ww, hh, o.rotation_y]], frame=CoordFrame.CAMERA)
            uv, depth = calib.camera_to_image(cam.corners()[0].double())
            if (depth <= 0.1).any():
                continue  # box reaches behind the camera: its span is unbounded
            u1, v1 = float(uv[:, 0].min()), float(uv[:, 1].min())
            u2, v2 = float(uv[:, 0].max()), float(uv[:, 1].max())
            tol = 0.05  # labels are written with 2 decimals
            assert x1 >= max(u1, 0) - tol and y1 >= max(v1, 0) - tol, f"{name}: {o.to_line()}"
            assert x2 <= min(u2, w) + tol and y2 <= min(v2, h) + tol, f"{name}: {o.to_line()}"
            # and the 2D box is not much smaller than the projected span (a tight silhouette box)
            span_area = (min(u2, w) - max(u1, 0)) * (min(v2, h) - max(v1, 0))
            assert (x2 - x1) * (y2 - y1) >= 0.25 * span_area, f"{name}: {o.to_line()}"
            checked += 1
    assert checked >= 3


def test_truncation_occlusion_alpha_in_range(sim_root, tiny_config):
    w, h = tiny_config.image_width, tiny_config.image_height
    for name, calib, objects, _ in _frames(sim_root):
        for o in objects:
            if o.type == "DontCare":
                assert (o.truncated, o.occluded) == (-1, -1)
                continue
            assert 0.0 <= o.truncated <= 1.0
            assert o.occluded in (0, 1, 2)
            assert -np.pi <= o.alpha <= np.pi
            x1, y1, x2, y2 = o.bbox
            at_border = x1 <= 0.5 or y1 <= 0.5 or x2 >= w - 0.5 or y2 >= h - 0.5
            if o.truncated > 0.0:
                assert at_border, f"{name}: truncated object not at the image border: {o.to_line()}"
            # alpha = rotation_y - atan2(x, z) (KITTI's observation angle)
            expected = (o.rotation_y - np.arctan2(o.location[0], o.location[2]) + np.pi) % (2 * np.pi) - np.pi
            assert abs(((o.alpha - expected) + np.pi) % (2 * np.pi) - np.pi) < 2e-3


def test_labels_round_trip_through_the_reader(sim_root):
    for name, calib, objects, _ in _frames(sim_root):
        ann = kitti_io.objects_to_annotations(objects, calib)
        again = kitti_io.annotations_to_objects(ann, calib)
        assert [o.type for o in again] == [o.type for o in objects]
        for a, o in zip(again, objects):  # equal up to the file's rounding (and float32 inside annotations)
            va = [a.truncated, a.occluded, a.alpha, *a.bbox, *a.dimensions, *a.location, a.rotation_y]
            vo = [o.truncated, o.occluded, o.alpha, *o.bbox, *o.dimensions, *o.location, o.rotation_y]
            assert np.allclose(va, vo, atol=2e-3), f"{name}: {a.to_line()} != {o.to_line()}"


def test_labelled_objects_do_not_collide(sim_root):
    for name, calib, objects, _ in _frames(sim_root):
        ann = kitti_io.objects_to_annotations(objects, calib)
        if len(ann) < 2:
            continue
        iou = box_iou_bev(ann.boxes3d, ann.boxes3d)
        iou.fill_diagonal_(0)
        assert float(iou.max()) == 0.0, f"{name}: overlapping boxes"


def test_occlusion_and_truncation_follow_the_render():
    """In memory: levels follow the visible fraction, hidden/visible pixels are consistent."""
    config = SimConfig.tiny(seed=3)
    frame = simulate_frame(0, config)
    a, b = config.occlusion_thresholds
    labelled = [s for s in frame.labels.status if s.status == "label"]
    assert labelled
    for s in frame.labels.status:
        if s.status in ("label", "dontcare"):
            assert 0 < s.amodal_pixels and s.visible_pixels <= s.amodal_pixels
    for s in labelled:
        frac = s.visible_pixels / s.amodal_pixels
        assert s.occluded == (0 if frac > a else 1 if frac > b else 2)
        assert s.lidar_points >= config.min_lidar_points
        # the label's visible segment exists in the panoptic map
        seg = 1000 * {"Car": 1, "Pedestrian": 2, "Cyclist": 3}[s.name] + s.instance
        assert (frame.labels.panoptic == seg).sum() == s.visible_pixels
    for s in frame.labels.status:
        if s.status == "dontcare":
            assert (s.lidar_points < config.min_lidar_points or s.visible_pixels < config.min_visible_pixels
                    or s.bbox[3] - s.bbox[1] < config.min_box_height)


def test_calibration_is_kitti_at_full_size_and_scaled_for_tiny(kitti_real_root):
    real = KittiCalibration.from_file(kitti_real_root / "training" / "calib" / "000000.txt")
    full = kitti_calibration()
    assert np.allclose(full.P, real.P, atol=1e-6) and np.allclose(full.R0_rect, real.R0_rect, atol=1e-6)
    assert np.allclose(full.Tr_velo_to_cam, real.Tr_velo_to_cam, atol=1e-6)
    tiny = kitti_calibration(414, 125)
    # the same 3D point lands at the same relative image position
    pt = np.array([[20.0, 2.0, -0.5]])
    uv_full, _ = full.lidar_to_image(pt)
    uv_tiny, _ = tiny.lidar_to_image(pt)
    assert np.allclose(uv_tiny / [414, 125], uv_full / [1242, 375], atol=1e-3)


def test_full_size_frame_matches_kitti_statistics():
    frame = simulate_frame(7, SimConfig(seed=0))
    assert frame.render.image.shape == (375, 1242, 3)
    n = len(frame.scan.points)
    assert 95_000 <= n <= 140_000, n
    z_ground = frame.scan.points[frame.scan.category == 4, 2]  # road returns
    assert abs(float(np.median(z_ground)) + 1.73) < 0.05
