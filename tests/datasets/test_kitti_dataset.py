"""KittiDataset on the real frame and on synthetic frames; Det3DDataSample; a realistic train pipeline."""
import os

import numpy as np
import pytest
import torch
from mmengine.dataset import pseudo_collate
from mmengine.structures import InstanceData

from perception.datasets.create_data import InfoFileError, create_kitti_infos
from perception.datasets.gt_database import create_gt_database
from perception.datasets.kitti_dataset import KittiDataset
from perception.registry import DATASETS
from perception.structures import Boxes3D, CoordFrame, KittiCalibration, ObjectAnnotations
from perception.structures.data_sample import Det3DDataSample

RANGE = [0.0, -40.0, -3.0, 70.4, 40.0, 1.0]
CLASSES = ("Car", "Pedestrian", "Cyclist")


def _infos(root, splits=("train", "val")):
    create_kitti_infos(root, splits, progress=False, log=lambda _m: None)


def train_pipeline(root, with_db=True):
    """The train pipeline of a realistic LiDAR config (SECOND / PointPillars / CenterPoint on KITTI)."""
    pipeline = [
        dict(type="LoadPointsFromFile", num_features=4, use_dims=[0, 1, 2, 3]),
        dict(type="LoadAnnotations3D", with_bbox_3d=True, with_label_3d=True),
        dict(type="PointsInImageFilter"),
        dict(type="ObjectSample", db_info_path="kitti_dbinfos_train.pkl", data_root=str(root), classes=CLASSES,
             sample_groups=dict(Car=15, Pedestrian=10, Cyclist=10),
             min_points=dict(Car=5, Pedestrian=5, Cyclist=5), remove_difficulties=()),
        dict(type="RandomFlip3D", flip_ratio_bev_horizontal=0.5),
        dict(type="GlobalRotScaleTrans", rot_range=[-0.78539816, 0.78539816], scale_ratio_range=[0.95, 1.05],
             translation_std=[0.2, 0.2, 0.2]),
        dict(type="PointsRangeFilter", point_cloud_range=RANGE),
        dict(type="ObjectRangeFilter", point_cloud_range=RANGE),
        dict(type="ObjectNameFilter", classes=list(CLASSES)),
        dict(type="PointShuffle"),
        dict(type="Pack3DDetInputs", keys=["points", "gt_boxes_3d", "gt_labels_3d"]),
    ]
    return pipeline if with_db else [t for t in pipeline if t["type"] != "ObjectSample"]


TEST_PIPELINE = [
    dict(type="LoadPointsFromFile", num_features=4),
    dict(type="LoadImageFromFileRGB"),
    dict(type="PointsInImageFilter"),
    dict(type="PointsRangeFilter", point_cloud_range=RANGE),
    dict(type="Pack3DDetInputs", keys=["points", "img"]),
]


# ---------------------------------------------------------------------------- real frame
def test_parse_data_info_on_the_real_frame(real_kitti_root):
    _infos(real_kitti_root)
    ds = KittiDataset(data_root=str(real_kitti_root), ann_file="kitti_infos_val.pkl",
                      metainfo=dict(classes=("Pedestrian", "Car")), test_mode=True)
    assert len(ds) == 1 and ds.classes == ("Pedestrian", "Car")
    info = ds.get_data_info(0)
    assert info["sample_idx"] == "000000" and info["dataset_idx"] == 0
    assert info["lidar_path"] == os.path.join(str(real_kitti_root), "training/velodyne/000000.bin")
    assert info["img_path"].endswith("training/image_2/000000.png") and info["img_shape"] == (370, 1224)
    assert isinstance(info["calib"], KittiCalibration) and info["num_pts_feats"] == 4
    ann = info["ann_info"]
    assert isinstance(ann["gt_boxes_3d"], Boxes3D) and ann["gt_boxes_3d"].frame is CoordFrame.LIDAR
    assert ann["gt_labels_3d"].dtype == torch.int64 and ann["gt_labels_3d"].tolist() == [0]
    assert ann["gt_names_3d"] == ["Pedestrian"] and ann["gt_bboxes"].shape == (1, 4)
    assert ann["gt_bboxes_labels"].tolist() == [0]
    assert isinstance(info["eval_ann_info"], ObjectAnnotations) and info["eval_ann_info"].names == ["Pedestrian"]
    assert ds.get_cat_ids(0) == [0]


def test_classes_select_training_targets_but_not_eval_annotations(real_kitti_root):
    _infos(real_kitti_root)
    ds = KittiDataset(data_root=str(real_kitti_root), ann_file="kitti_infos_val.pkl",
                      metainfo=dict(classes=("Car",)), test_mode=True)
    info = ds.get_data_info(0)
    assert len(info["ann_info"]["gt_boxes_3d"]) == 0 and info["ann_info"]["gt_labels_3d"].shape == (0,)
    assert info["eval_ann_info"].names == ["Pedestrian"]  # the metric sees every object
    # filter_empty_gt only acts in training mode
    with pytest.raises(ValueError, match=r"no training frame has an object of classes \('Car',\)"):
        KittiDataset(data_root=str(real_kitti_root), ann_file="kitti_infos_train.pkl", metainfo=dict(classes=("Car",)))
    train = KittiDataset(data_root=str(real_kitti_root), ann_file="kitti_infos_train.pkl",
                         metainfo=dict(classes=("Car",)), filter_empty_gt=False)
    assert len(train) == 1


def test_test_pipeline_on_the_real_frame_packs_points_and_image(real_kitti_root):
    _infos(real_kitti_root)
    ds = DATASETS.build(dict(type="KittiDataset", data_root=str(real_kitti_root), ann_file="kitti_infos_val.pkl",
                             pipeline=TEST_PIPELINE, modality=dict(use_lidar=True, use_camera=True), test_mode=True))
    out = ds[0]
    points, img = out["inputs"]["points"], out["inputs"]["img"]
    assert points.dtype == torch.float32 and points.shape[1] == 4 and 0 < points.shape[0] <= 800
    assert img.shape == (3, 370, 1224) and img.dtype == torch.uint8
    sample = out["data_samples"]
    assert isinstance(sample, Det3DDataSample) and sample.sample_idx == "000000"
    assert isinstance(sample.calib, KittiCalibration) and sample.img_shape == (370, 1224)
    assert sample.eval_ann_info.names == ["Pedestrian"]
    # the projection of every kept point lies in the image
    uv, depth = sample.calib.lidar_to_image(points[:, :3].double())
    assert (depth > 0).all() and (uv[:, 0] >= 0).all() and (uv[:, 0] < 1224).all()


def test_realistic_train_pipeline_on_the_real_frame(real_kitti_root):
    _infos(real_kitti_root, ("train",))
    create_gt_database(real_kitti_root, progress=False, log=lambda _m: None)  # empty: no points on the pedestrian
    np.random.seed(0)
    ds = KittiDataset(data_root=str(real_kitti_root), ann_file="kitti_infos_train.pkl", metainfo=dict(classes=CLASSES),
                      pipeline=train_pipeline(real_kitti_root))
    out = ds[0]
    assert out["inputs"]["points"].shape[1] == 4 and out["inputs"]["points"].dtype == torch.float32
    gt = out["data_samples"].gt_instances_3d
    assert gt.labels_3d.tolist() == [1] and isinstance(gt.bboxes_3d, Boxes3D)
    assert out["data_samples"].transformation_3d_flow == ["R", "S", "T"] or \
        out["data_samples"].transformation_3d_flow == ["HF", "R", "S", "T"]


# ----------------------------------------------------------------------------- synthetic
def test_realistic_train_pipeline_with_gt_sampling(synthetic_kitti):
    _infos(synthetic_kitti)
    create_gt_database(synthetic_kitti, progress=False, log=lambda _m: None)
    np.random.seed(1)
    ds = KittiDataset(data_root=str(synthetic_kitti), ann_file="kitti_infos_train.pkl", metainfo=dict(classes=CLASSES),
                      pipeline=train_pipeline(synthetic_kitti))
    assert len(ds) == 2  # frame 000002 has no objects: dropped for training (filter_empty_gt)
    assert [ds.get_data_info(i)["sample_idx"] for i in range(2)] == ["000000", "000001"]
    batch = [ds[i] for i in range(2)]
    for out in batch:
        gt = out["data_samples"].gt_instances_3d
        assert len(gt) >= 2 and gt.labels_3d.dtype == torch.int64
        # pasted objects arrived with their points; every box holds points after augmentation
        assert (gt.bboxes_3d.points_inside(out["inputs"]["points"]).sum(0) > 0).all()
    assert max(len(o["data_samples"].gt_instances_3d) for o in batch) > 2  # something was pasted
    # the model's data preprocessor takes the collated batch
    from perception.models.data_preprocessor import Det3DDataPreprocessor

    data = Det3DDataPreprocessor()(pseudo_collate(batch), training=True)
    assert len(data["inputs"]["points"]) == 2 and len(data["data_samples"]) == 2


def test_unlabelled_frames_and_pipeline_refetch(synthetic_kitti):
    _infos(synthetic_kitti)
    ds = KittiDataset(data_root=str(synthetic_kitti), ann_file="kitti_infos_train.pkl",
                      pipeline=train_pipeline(synthetic_kitti, with_db=False)[:2]
                      + [dict(type="ObjectRangeFilter", point_cloud_range=[100, 100, -3, 200, 200, 1]),
                         dict(type="Pack3DDetInputs")])
    assert ds.prepare_data(0) is None  # training: an empty result asks mmengine for another frame
    ds = KittiDataset(data_root=str(synthetic_kitti), ann_file="kitti_infos_train.pkl", test_mode=True,
                      pipeline=train_pipeline(synthetic_kitti, with_db=False)[:2]
                      + [dict(type="ObjectRangeFilter", point_cloud_range=[100, 100, -3, 200, 200, 1]),
                         dict(type="Pack3DDetInputs")])
    assert len(ds) == 3 and len(ds[2]["data_samples"].gt_instances_3d) == 0  # test mode keeps everything


# -------------------------------------------------------------------------------- errors
def test_missing_and_invalid_info_files_are_named(tmp_path, synthetic_kitti):
    with pytest.raises(FileNotFoundError, match=r"kitti_infos_train\.pkl: info file not found"):
        KittiDataset(data_root=str(tmp_path), ann_file="kitti_infos_train.pkl")
    (tmp_path / "x.pkl").write_bytes(b"garbage")
    with pytest.raises(InfoFileError, match=r"x\.pkl: not a readable info pickle"):
        KittiDataset(data_root=str(tmp_path), ann_file="x.pkl")
    _infos(synthetic_kitti)
    os.remove(synthetic_kitti / "training" / "velodyne" / "000001.bin")
    with pytest.raises(FileNotFoundError, match=r"velodyne/000001\.bin: point cloud file of frame 000001 not found"):
        KittiDataset(data_root=str(synthetic_kitti), ann_file="kitti_infos_train.pkl")
    os.remove(synthetic_kitti / "training" / "image_2" / "000003.png")
    ds = KittiDataset(data_root=str(synthetic_kitti), ann_file="kitti_infos_val.pkl")  # lidar only: fine
    assert len(ds) == 1
    with pytest.raises(FileNotFoundError, match=r"image_2/000003\.png: image file of frame 000003 not found"):
        KittiDataset(data_root=str(synthetic_kitti), ann_file="kitti_infos_val.pkl",
                     modality=dict(use_lidar=True, use_camera=True))
    from perception.datasets import kitti_io

    kitti_io.write_image_set(synthetic_kitti / "ImageSets" / "test.txt", [])
    _infos(synthetic_kitti, ("test",))
    assert len(KittiDataset(data_root=str(synthetic_kitti), ann_file="kitti_infos_test.pkl", test_mode=True)) == 0
    with pytest.raises(ValueError, match="unknown modality"):
        KittiDataset(data_root=str(synthetic_kitti), ann_file="kitti_infos_val.pkl", modality=dict(use_radar=True))


# ------------------------------------------------------------------------- data sample
def test_det3d_data_sample_with_boxes3d_in_instance_data():
    boxes = Boxes3D(torch.arange(21.0).reshape(3, 7), frame=CoordFrame.LIDAR)
    inst = InstanceData(bboxes_3d=boxes, labels_3d=torch.tensor([0, 1, 2]), scores_3d=torch.tensor([0.9, 0.1, 0.5]))
    sample = Det3DDataSample(metainfo=dict(sample_idx="000001"))
    sample.pred_instances_3d = inst
    sample.gt_instances_3d = inst[inst.labels_3d > 0]
    assert isinstance(sample.gt_instances_3d.bboxes_3d, Boxes3D)
    assert sample.gt_instances_3d.bboxes_3d.tensor[:, 0].tolist() == [7.0, 14.0]
    picked = inst[torch.tensor([2, 0])]
    assert picked.bboxes_3d.tensor[:, 0].tolist() == [14.0, 0.0] and picked.labels_3d.tolist() == [2, 0]
    assert len(inst[1:]) == 2 and len(inst[inst.scores_3d > 1]) == 0
    cat = InstanceData.cat([inst, picked])
    assert len(cat) == 5 and cat.bboxes_3d.frame is CoordFrame.LIDAR
    moved = sample.to(torch.float64)
    assert moved.pred_instances_3d.bboxes_3d.tensor.dtype == torch.float64
    cpu = sample.cpu()
    assert isinstance(cpu.pred_instances_3d.bboxes_3d, Boxes3D) and cpu.sample_idx == "000001"
    with pytest.raises(AssertionError):
        sample.gt_instances_3d = "not instance data"
