# Simulated driving benchmark (tools/make_sim.py), LiDAR-only 3-class detection, KITTI conventions.
# Prepare:  python tools/make_sim.py --out data/sim --frames 500 --seed 0 --workers 2
#           python tools/create_data.py kitti --root data/sim --gt-database
dataset_type = "KittiDataset"
data_root = "data/sim/"
class_names = ("Car", "Pedestrian", "Cyclist")
metainfo = dict(classes=class_names)
# x forward 0..51.2 m, y left -25.6..25.6 m, z -3..1 m (LiDAR frame, LiDAR 1.73 m above the road)
point_cloud_range = [0.0, -25.6, -3.0, 51.2, 25.6, 1.0]

db_sampler = dict(
    type="ObjectSample", db_info_path="kitti_dbinfos_train.pkl", data_root=data_root, classes=class_names,
    sample_groups=dict(Car=10, Pedestrian=6, Cyclist=6), min_points=dict(Car=5, Pedestrian=5, Cyclist=5),
    remove_difficulties=(-1,))
train_pipeline = [
    dict(type="LoadPointsFromFile", num_features=4),
    dict(type="LoadAnnotations3D", with_bbox_3d=True, with_label_3d=True),
    dict(type="PointsInImageFilter"),  # KITTI-style labels exist only in the camera's field of view
    db_sampler,
    dict(type="RandomFlip3D", flip_ratio_bev_horizontal=0.5),
    dict(type="GlobalRotScaleTrans", rot_range=[-0.3927, 0.3927], scale_ratio_range=[0.95, 1.05],
         translation_std=[0.2, 0.2, 0.2]),
    dict(type="PointsRangeFilter", point_cloud_range=point_cloud_range),
    dict(type="ObjectRangeFilter", point_cloud_range=point_cloud_range),
    dict(type="ObjectNameFilter", classes=list(class_names)),
    dict(type="PointShuffle"),
    dict(type="Pack3DDetInputs", keys=["points", "gt_boxes_3d", "gt_labels_3d"]),
]
test_pipeline = [
    dict(type="LoadPointsFromFile", num_features=4),
    dict(type="PointsInImageFilter"),
    dict(type="PointsRangeFilter", point_cloud_range=point_cloud_range),
    dict(type="Pack3DDetInputs", keys=["points"]),
]
train_dataloader = dict(
    batch_size=2, num_workers=2, persistent_workers=True,
    sampler=dict(type="DefaultSampler", shuffle=True),
    dataset=dict(type=dataset_type, data_root=data_root, ann_file="kitti_infos_train.pkl", pipeline=train_pipeline,
                 metainfo=metainfo, modality=dict(use_lidar=True, use_camera=False), filter_empty_gt=True))
val_dataloader = dict(
    batch_size=1, num_workers=1, persistent_workers=False, drop_last=False,
    sampler=dict(type="DefaultSampler", shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, ann_file="kitti_infos_val.pkl", pipeline=test_pipeline,
                 metainfo=metainfo, modality=dict(use_lidar=True, use_camera=False), test_mode=True))
test_dataloader = val_dataloader
val_evaluator = dict(type="KittiMetric", classes=class_names)
test_evaluator = val_evaluator
