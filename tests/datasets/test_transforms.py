"""3D transforms: known answers, point/box consistency under augmentation, GT sampling, packing."""
import math

import numpy as np
import pytest
import torch

from perception.datasets import kitti_io
from perception.datasets.create_data import create_kitti_infos
from perception.datasets.gt_database import create_gt_database
from perception.datasets.transforms import (GlobalRotScaleTrans, LoadAnnotations3D, LoadImageFromFileRGB,
                                            LoadPointsFromFile, ObjectNameFilter, ObjectRangeFilter, ObjectSample,
                                            Pack3DDetInputs, PointShuffle, PointsInImageFilter, PointsRangeFilter,
                                            RandomFlip3D)
from perception.registry import TRANSFORMS
from perception.structures import Boxes3D, CoordFrame, box_iou_bev
from perception.structures.data_sample import Det3DDataSample


def lidar_boxes(rows):
    return Boxes3D(torch.tensor(rows, dtype=torch.float32), frame=CoordFrame.LIDAR)


def scene(seed=0, n_boxes=4, points_per_box=40, n_background=300):
    """Random non-overlapping boxes with points inside them plus background points."""
    rng = np.random.default_rng(seed)
    rows = [[8.0 + 9 * i, rng.uniform(-10, 10), rng.uniform(-1, 0), rng.uniform(1, 4.5), rng.uniform(0.6, 2),
             rng.uniform(1.4, 1.9), rng.uniform(-math.pi, math.pi)] for i in range(n_boxes)]
    boxes = lidar_boxes(rows)
    parts = []
    for x, y, z, l, w, h, yaw in rows:
        local = rng.uniform(-0.45, 0.45, size=(points_per_box, 3)) * [l, w, h]
        c, s = math.cos(yaw), math.sin(yaw)
        parts.append(np.stack([x + c * local[:, 0] - s * local[:, 1], y + s * local[:, 0] + c * local[:, 1],
                               z + local[:, 2], rng.uniform(0, 1, points_per_box)], 1))
    parts.append(np.stack([rng.uniform(0, 60, n_background), rng.uniform(-30, 30, n_background),
                           rng.uniform(-2, 1, n_background), rng.uniform(0, 1, n_background)], 1))
    points = torch.tensor(np.concatenate(parts), dtype=torch.float32)
    return {"points": points, "gt_boxes_3d": boxes, "gt_labels_3d": torch.arange(n_boxes) % 3,
            "gt_names_3d": [["Car", "Pedestrian", "Cyclist"][i % 3] for i in range(n_boxes)]}


# ------------------------------------------------------------------------- registry
def test_all_transforms_are_registered():
    for name in ("LoadPointsFromFile", "LoadImageFromFileRGB", "LoadAnnotations3D", "PointsRangeFilter",
                 "ObjectRangeFilter", "ObjectNameFilter", "PointShuffle", "GlobalRotScaleTrans", "RandomFlip3D",
                 "ObjectSample", "PointsInImageFilter", "Pack3DDetInputs"):
        assert TRANSFORMS.get(name).__module__.startswith("perception.datasets.transforms."), name
    assert isinstance(TRANSFORMS.build(dict(type="PointShuffle")), PointShuffle)


# ---------------------------------------------------------------- rotation / scale / translation
def test_rotation_by_90_degrees_moves_points_and_boxes_exactly():
    t = GlobalRotScaleTrans(rot_range=(math.pi / 2, math.pi / 2), scale_ratio_range=(1.0, 1.0))
    res = t({"points": torch.tensor([[1.0, 0.0, 0.5, 0.7], [0.0, 2.0, -1.0, 0.1]]),
             "gt_boxes_3d": lidar_boxes([[2.0, 0.0, 0.0, 4.0, 2.0, 1.0, 0.0]])})
    torch.testing.assert_close(res["points"], torch.tensor([[0.0, 1.0, 0.5, 0.7], [-2.0, 0.0, -1.0, 0.1]]),
                               atol=1e-6, rtol=0)
    torch.testing.assert_close(res["gt_boxes_3d"].tensor, torch.tensor([[0.0, 2.0, 0.0, 4.0, 2.0, 1.0, math.pi / 2]]),
                               atol=1e-6, rtol=0)
    assert res["pcd_rotation_angle"] == pytest.approx(math.pi / 2) and res["transformation_3d_flow"] == ["R", "S", "T"]


def test_scale_and_translation_known_answers():
    np.random.seed(3)
    t = GlobalRotScaleTrans(rot_range=(0.0, 0.0), scale_ratio_range=(2.0, 2.0), translation_std=(1.0, 1.0, 0.5))
    res = t({"points": torch.tensor([[1.0, -1.0, 0.5, 0.3]]), "gt_boxes_3d": lidar_boxes([[1, 2, 3, 4, 2, 1, 0.5]])})
    tr = res["pcd_trans"]
    assert res["pcd_scale_factor"] == 2.0 and np.abs(tr).sum() > 0
    torch.testing.assert_close(res["points"][0], torch.tensor([2 + tr[0], -2 + tr[1], 1 + tr[2], 0.3],
                                                              dtype=torch.float32))
    torch.testing.assert_close(res["gt_boxes_3d"].tensor[0],
                               torch.tensor([2 + tr[0], 4 + tr[1], 6 + tr[2], 8, 4, 2, 0.5], dtype=torch.float32))


def test_flip_mirrors_y_and_yaw():
    res = RandomFlip3D(flip_ratio_bev_horizontal=1.0)(
        {"points": torch.tensor([[3.0, 2.0, 1.0, 0.5]]), "gt_boxes_3d": lidar_boxes([[3, 2, 1, 4, 2, 1, 0.4]])})
    assert res["points"].tolist() == [[3.0, -2.0, 1.0, 0.5]]
    torch.testing.assert_close(res["gt_boxes_3d"].tensor, torch.tensor([[3.0, -2, 1, 4, 2, 1, -0.4]]))
    assert res["pcd_horizontal_flip"] and not res["pcd_vertical_flip"] and res["transformation_3d_flow"] == ["HF"]
    res = RandomFlip3D(flip_ratio_bev_horizontal=0.0, flip_ratio_bev_vertical=1.0)(
        {"points": torch.tensor([[3.0, 2.0, 1.0, 0.5]]), "gt_boxes_3d": lidar_boxes([[3, 2, 1, 4, 2, 1, 0.4]])})
    assert res["points"].tolist() == [[-3.0, 2.0, 1.0, 0.5]]
    torch.testing.assert_close(res["gt_boxes_3d"].tensor, torch.tensor([[-3.0, 2, 1, 4, 2, 1, math.pi - 0.4]]))
    res = RandomFlip3D(flip_ratio_bev_horizontal=0.0)({"points": torch.ones(2, 4)})
    assert res["points"].tolist() == torch.ones(2, 4).tolist() and not res["pcd_horizontal_flip"]
    with pytest.raises(ValueError, match="flip_ratio_bev_horizontal"):
        RandomFlip3D(flip_ratio_bev_horizontal=1.5)


@pytest.mark.parametrize("seed", range(5))
def test_points_stay_inside_their_boxes_under_augmentation(seed):
    np.random.seed(seed)
    res = scene(seed)
    before = res["gt_boxes_3d"].points_inside(res["points"])
    assert before.sum() >= 4 * 40
    for t in (RandomFlip3D(0.5, 0.5), GlobalRotScaleTrans(rot_range=(-math.pi, math.pi), scale_ratio_range=(0.8, 1.2),
                                                          translation_std=(0.5, 0.5, 0.2)), RandomFlip3D(0.5, 0.5)):
        res = t(res)
    after = res["gt_boxes_3d"].points_inside(res["points"])
    assert torch.equal(before, after)


# ------------------------------------------------------------------------------ filters
def test_points_range_filter_drops_exactly_the_points_outside():
    r = [0.0, -10.0, -3.0, 50.0, 10.0, 1.0]
    pts = torch.tensor([[0.0, 0.0, 0.0, 1], [50.0, 0.0, 0.0, 2], [49.99, 9.99, 0.99, 3], [-0.01, 0, 0, 4],
                        [10, -10.0, -3.0, 5], [10, 10.0, 0, 6], [10, 0, 1.0, 7], [10, 0, -3.01, 8]])
    out = PointsRangeFilter(r)({"points": pts})["points"]
    assert out[:, 3].tolist() == [1, 3, 5]  # min inclusive, max exclusive (like the voxel grid)
    with pytest.raises(ValueError, match="min < max"):
        PointsRangeFilter([0, 0, 0, 0, 1, 1])


def test_object_range_and_name_filters_keep_per_object_keys_aligned():
    res = {"gt_boxes_3d": lidar_boxes([[5, 0, 0, 1, 1, 1, 0], [80, 0, 0, 1, 1, 1, 0], [5, -40.5, 0, 1, 1, 1, 0],
                                       [69.9, 39.9, 0, 1, 1, 1, 0]]),
           "gt_labels_3d": torch.tensor([0, 1, 2, 1]), "gt_names_3d": ["Car", "Pedestrian", "Cyclist", "Pedestrian"],
           "gt_bboxes": torch.arange(16.0).reshape(4, 4), "gt_bboxes_labels": torch.tensor([0, 1, 2, 1])}
    res = ObjectRangeFilter([0, -40, -3, 70.4, 40, 1])(res)
    assert res["gt_names_3d"] == ["Car", "Pedestrian"] and res["gt_labels_3d"].tolist() == [0, 1]
    assert res["gt_bboxes"][:, 0].tolist() == [0.0, 12.0] and res["gt_bboxes_labels"].tolist() == [0, 1]
    assert res["gt_boxes_3d"].tensor[:, 0].tolist() == pytest.approx([5.0, 69.9])
    res = ObjectNameFilter(["Pedestrian"])(res)
    assert res["gt_names_3d"] == ["Pedestrian"] and res["gt_labels_3d"].tolist() == [1] and len(res["gt_boxes_3d"]) == 1
    res = ObjectNameFilter(["Car"])(res)
    assert len(res["gt_boxes_3d"]) == 0 and res["gt_bboxes"].shape == (0, 4)


def test_object_range_filter_is_half_open_on_x_y_and_ignores_z():
    res = {"gt_boxes_3d": lidar_boxes([[0, -40, 0, 1, 1, 1, 0], [70.4, 0, 0, 1, 1, 1, 0], [5, 40, 0, 1, 1, 1, 0],
                                       [5, 0, 9.0, 1, 1, 1, 0]])}
    kept = ObjectRangeFilter([0, -40, -3, 70.4, 40, 1])(res)["gt_boxes_3d"].tensor
    assert kept[:, 0].tolist() == [0.0, 5.0] and kept[:, 2].tolist() == [0.0, 9.0]


@pytest.mark.parametrize("transform", [PointsRangeFilter, ObjectRangeFilter])
def test_range_filters_name_themselves_in_range_errors(transform):
    name = transform.__name__
    with pytest.raises(ValueError, match=f"{name}: point_cloud_range must be \\[x_min"):
        transform([0, 0, 1, 1])
    with pytest.raises(ValueError, match=f"{name}: point_cloud_range must have min < max"):
        transform([0, 0, 0, 10, 10, -1])


def test_point_shuffle_is_a_permutation():
    np.random.seed(0)
    pts = torch.arange(400.0).reshape(100, 4)
    out = PointShuffle()({"points": pts})["points"]
    assert not torch.equal(out, pts)
    assert torch.equal(out[out[:, 0].argsort()], pts)


def test_points_in_image_filter_on_the_real_frame(kitti_real_root):
    t = kitti_real_root / "training"
    calib = kitti_io.read_calib(t / "calib" / "000000.txt")
    pts = torch.from_numpy(kitti_io.read_points(t / "velodyne" / "000000.bin"))
    behind = pts[:5].clone()
    behind[:, 0] *= -1
    wide = pts[:5].clone()
    wide[:, 1] = 5 * wide[:, 0]  # 79 deg to the left: outside the image
    all_pts = torch.cat([pts, behind, wide])
    res = PointsInImageFilter()({"points": all_pts, "calib": calib, "img_shape": (370, 1224)})
    uv, depth = calib.lidar_to_image(all_pts[:, :3].double())
    expected = (depth > 0) & (uv[:, 0] >= 0) & (uv[:, 0] < 1224) & (uv[:, 1] >= 0) & (uv[:, 1] < 370)
    assert expected[800:].sum() == 0 and 0 < expected.sum() <= 800
    torch.testing.assert_close(res["points"], all_pts[expected])
    with pytest.raises(ValueError, match="before geometric augmentations"):
        PointsInImageFilter()({"points": pts, "calib": calib, "img_shape": (370, 1224),
                               "transformation_3d_flow": ["R"]})


# ------------------------------------------------------------------------------- loading
def test_loading_transforms(real_kitti_root, tmp_path):
    t = real_kitti_root / "training"
    res = LoadPointsFromFile(num_features=4, use_dims=[0, 1, 2])({"lidar_path": str(t / "velodyne" / "000000.bin")})
    assert res["points"].shape == (800, 3) and res["points"].dtype == torch.float32 and res["num_pts_feats"] == 3
    with pytest.raises(ValueError, match="use_dims"):
        LoadPointsFromFile(use_dims=[1, 2, 3])
    (tmp_path / "bad.bin").write_bytes(b"\0" * 20)
    with pytest.raises(kitti_io.KittiFormatError, match=r"bad\.bin: size 20 bytes"):
        LoadPointsFromFile()({"lidar_path": str(tmp_path / "bad.bin")})
    res = LoadImageFromFileRGB()({"img_path": str(t / "image_2" / "000000.png"), "img_shape": (370, 1224)})
    assert res["img"].shape == (370, 1224, 3) and res["img"].dtype == np.uint8
    np.testing.assert_array_equal(res["img"], kitti_io.read_image(t / "image_2" / "000000.png"))  # RGB
    with pytest.raises(ValueError, match="info file says 375x1242"):
        LoadImageFromFileRGB()({"img_path": str(t / "image_2" / "000000.png"), "img_shape": (375, 1242)})
    with pytest.raises(KeyError, match="has no 'ann_info'"):
        LoadAnnotations3D()({"sample_idx": "000000"})


# -------------------------------------------------------------------------------- packing
def test_pack_3d_det_inputs():
    res = scene(0, n_boxes=2)
    res.update(img=np.zeros((4, 5, 3), np.uint8), sample_idx="000007", img_shape=(4, 5), pcd_rotation_angle=0.1,
               gt_bboxes=torch.ones(2, 4), gt_bboxes_labels=torch.tensor([0, 1]))
    res["img"][1, 2] = (10, 20, 30)
    out = Pack3DDetInputs(keys=("points", "img", "gt_boxes_3d", "gt_labels_3d", "gt_bboxes", "gt_bboxes_labels"))(res)
    assert torch.equal(out["inputs"]["points"], res["points"])
    img = out["inputs"]["img"]
    assert img.shape == (3, 4, 5) and img.dtype == torch.uint8 and img[:, 1, 2].tolist() == [10, 20, 30]
    sample = out["data_samples"]
    assert isinstance(sample, Det3DDataSample)
    assert sample.gt_instances_3d.bboxes_3d is res["gt_boxes_3d"]
    assert sample.gt_instances_3d.labels_3d.tolist() == [0, 1]
    assert sample.gt_instances.bboxes.shape == (2, 4) and sample.gt_instances.labels.tolist() == [0, 1]
    assert sample.sample_idx == "000007" and sample.img_shape == (4, 5) and sample.pcd_rotation_angle == 0.1
    out = Pack3DDetInputs()({"points": torch.zeros(3, 4)})  # unlabelled frame
    assert len(out["data_samples"].gt_instances_3d) == 0 and "img" not in out["inputs"]
    with pytest.raises(ValueError, match="cannot pack"):
        Pack3DDetInputs(keys=("points", "gt_bboxes_3d"))


# ------------------------------------------------------------------------------ GT sampling
@pytest.fixture
def gt_db_root(tmp_path, kitti_synth):
    """Three database frames whose objects lie at x = 10, 20, 30, 40 (no overlaps among them)."""
    root = tmp_path / "db"
    frames = {
        "000000": ([[10.0, 0.0, -0.9, 4.0, 1.8, 1.6, 0.0], [20.0, 4.0, -0.9, 0.8, 0.6, 1.8, 0.0]],
                   ["Car", "Pedestrian"]),
        "000001": ([[30.0, -4.0, -0.9, 4.0, 1.8, 1.6, 0.5], [40.0, 0.0, -0.9, 4.0, 1.8, 1.6, 0.0]], ["Car", "Car"]),
        "000002": ([[20.0, -8.0, -0.9, 4.0, 1.8, 1.6, 0.0]], ["Car"]),
    }
    for i, (idx, (boxes, names)) in enumerate(frames.items()):
        kitti_synth.write_frame(root, idx, boxes, names, points_per_box=20 + 10 * i, seed=i)
    kitti_synth.write_image_sets(root, train=list(frames))
    infos = create_kitti_infos(root, ("train",), progress=False, log=lambda _m: None)
    create_gt_database(root, infos["train"], progress=False, log=lambda _m: None)
    return root


CLASSES = ("Car", "Pedestrian", "Cyclist")


def _scene_with_car_at_x10(n_points=50):
    rng = np.random.default_rng(0)
    box = [10.5, 0.5, -0.9, 4.0, 1.8, 1.6, 0.2]  # overlaps the database car at x = 10
    pts = np.concatenate([rng.uniform([5, -15, -1.7, 0], [45, 15, 0.5, 1], size=(2000, 4))]).astype(np.float32)
    return {"points": torch.from_numpy(pts), "gt_boxes_3d": lidar_boxes([box]), "gt_labels_3d": torch.tensor([0]),
            "gt_names_3d": ["Car"]}


def test_object_sample_adds_non_colliding_objects_with_their_points(gt_db_root):
    t = ObjectSample("kitti_dbinfos_train.pkl", data_root=str(gt_db_root), classes=CLASSES,
                     sample_groups=dict(Car=10, Pedestrian=2), remove_difficulties=(), seed=0)
    assert [len(t.pools[c]) for c in ("Car", "Pedestrian")] == [4, 1]
    res = _scene_with_car_at_x10()
    scene_points = res["points"].clone()
    res = t(res)
    boxes, labels = res["gt_boxes_3d"], res["gt_labels_3d"]
    # the database car at x = 10 collides with the scene's car; the other three cars and the pedestrian fit
    assert res["num_sampled_objects"] == 4 and len(boxes) == 5
    assert sorted(boxes.tensor[1:, 0].tolist()) == pytest.approx([20.0, 20.0, 30.0, 40.0])
    assert labels.tolist()[0] == 0 and sorted(labels.tolist()[1:]) == [0, 0, 0, 1]
    assert res["gt_names_3d"][0] == "Car" and len(res["gt_names_3d"]) == 5
    iou = box_iou_bev(boxes, boxes)
    assert (iou - torch.diag(torch.diag(iou))).abs().max() == 0  # no two boxes overlap
    # every pasted object brings exactly its database points; scene points inside pasted boxes are gone
    inside = boxes[1:].points_inside(res["points"])
    counts = inside.sum(0).tolist()
    db = {tuple(np.round(e["box3d_lidar"][:2], 3)): e["num_points_in_gt"] for c in t.pools.values() for e in c}
    assert counts == [db[tuple(np.round(b[:2], 3))] for b in boxes.tensor[1:].numpy()]
    kept_scene = scene_points[~boxes[1:].points_inside(scene_points).any(1)]
    assert res["points"].shape[0] == kept_scene.shape[0] + sum(counts)
    torch.testing.assert_close(res["points"][sum(counts):], kept_scene)  # pasted points come first
    assert boxes[:1].points_inside(res["points"]).sum() == boxes[:1].points_inside(scene_points).sum()


def test_object_sample_counts_existing_objects_filters_and_seeds(gt_db_root):
    res = _scene_with_car_at_x10()
    t = ObjectSample(str(gt_db_root / "kitti_dbinfos_train.pkl"), data_root=str(gt_db_root), classes=CLASSES,
                     sample_groups=dict(Car=1))
    assert t(dict(res))["num_sampled_objects"] == 0  # one car already there
    t = ObjectSample("kitti_dbinfos_train.pkl", data_root=str(gt_db_root), classes=CLASSES,
                     sample_groups=dict(Car=3), min_points=dict(Car=30), remove_difficulties=())
    assert sorted(e["num_points_in_gt"] for e in t.pools["Car"]) == [30, 30, 40]
    # the synthetic camera (f = 200 px) sees the cars at x >= 20 less than 25 px high: difficulty -1
    t = ObjectSample("kitti_dbinfos_train.pkl", data_root=str(gt_db_root), classes=CLASSES,
                     sample_groups=dict(Car=3))  # default remove_difficulties=(-1,)
    assert [e["box3d_lidar"][0] for e in t.pools["Car"]] == [10.0] and t.pools["Car"][0]["difficulty"] != -1
    t = ObjectSample("kitti_dbinfos_train.pkl", data_root=str(gt_db_root), classes=CLASSES,
                     sample_groups=dict(Car=3), remove_difficulties=(-1, 0, 1, 2))
    assert t.pools["Car"] == [] and t(dict(res))["num_sampled_objects"] == 0
    a = ObjectSample("kitti_dbinfos_train.pkl", data_root=str(gt_db_root), classes=CLASSES,
                     sample_groups=dict(Car=3), remove_difficulties=(), seed=7)
    b = ObjectSample("kitti_dbinfos_train.pkl", data_root=str(gt_db_root), classes=CLASSES,
                     sample_groups=dict(Car=3), remove_difficulties=(), seed=7)
    for _ in range(3):
        ra, rb = a(dict(res)), b(dict(res))
        assert torch.equal(ra["gt_boxes_3d"].tensor, rb["gt_boxes_3d"].tensor)
        assert torch.equal(ra["points"], rb["points"])


def test_object_sample_errors(gt_db_root):
    with pytest.raises(ValueError, match="'Truck' is not in classes"):
        ObjectSample("kitti_dbinfos_train.pkl", data_root=str(gt_db_root), classes=CLASSES,
                     sample_groups=dict(Truck=2))
    with pytest.raises(FileNotFoundError, match=r"nope\.pkl: GT database info file not found"):
        ObjectSample("nope.pkl", data_root=str(gt_db_root), classes=CLASSES, sample_groups=dict(Car=2))
    with pytest.raises(ValueError, match="no GT database entries for class 'Van'"):
        ObjectSample("kitti_dbinfos_train.pkl", data_root=str(gt_db_root), classes=("Van",),
                     sample_groups=dict(Van=2))
    t = ObjectSample("kitti_dbinfos_train.pkl", data_root=str(gt_db_root), classes=CLASSES, sample_groups=dict(Car=2))
    res = _scene_with_car_at_x10()
    with pytest.raises(ValueError, match="no 2D box"):
        t(dict(res, gt_bboxes=torch.zeros(1, 4)))
    with pytest.raises(ValueError, match="before geometric augmentations"):
        t(dict(res, transformation_3d_flow=["HF"]))
