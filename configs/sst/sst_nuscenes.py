# SST (Fan et al., CVPR 2022) on nuScenes, 10 classes, multi-sweep input: sst_kitti.py's model on nuScenes data.
#   key frame + 9 sweeps, each point [x, y, z, intensity, time lag (s)] -> dynamic pillars 0.32 m over
#   [-51.2, -51.2, -5, 51.2, 51.2, 3] (BEV grid 320 x 320) -> PointNet (DynamicVFE on 5 channels)
#   -> 6 SST blocks (12 x 12 windows, d_model 128) -> stride-1 BEV map -> three 3x3 convs -> CenterHead at stride 1
# The dataset class and the multi-sweep loader come from perception/datasets/nuscenes* (NuScenesDataset,
# LoadPointsFromMultiSweeps).  CenterHead regresses no velocity: nuScenes' mAVE is not addressed by this config.
# Train:  python tools/train.py configs/sst/sst_nuscenes.py
_base_ = ["./sst_kitti.py"]

dataset_type = "NuScenesDataset"
data_root = "data/nuscenes/"
class_names = ("car", "truck", "construction_vehicle", "bus", "trailer", "barrier", "motorcycle", "bicycle",
               "pedestrian", "traffic_cone")
metainfo = dict(classes=class_names)
point_cloud_range = [-51.2, -51.2, -5.0, 51.2, 51.2, 3.0]
voxel_size = [0.32, 0.32, 8.0]
num_sweeps = 10  # the key frame and 9 earlier sweeps
db_sampler = None  # no ground-truth database sampling in this config

model = dict(
    voxel_encoder=dict(in_channels=5, point_range=point_cloud_range, voxel_size=voxel_size),
    middle_encoder=dict(point_range=point_cloud_range, voxel_size=voxel_size),
    bbox_head=dict(num_classes=len(class_names), point_range=point_cloud_range, voxel_size=voxel_size,
                   max_objects=500, test_cfg=dict(topk=500, nms_iou_thr=0.2, max_per_sample=500)),
)

train_pipeline = [
    dict(type="LoadPointsFromFile", num_features=5, use_dims=[0, 1, 2, 3]),  # [x, y, z, intensity] of the key frame
    dict(type="LoadPointsFromMultiSweeps", sweeps_num=num_sweeps - 1),     # + sweeps, + time-lag channel -> 5
    dict(type="LoadAnnotations3D", with_bbox_3d=True, with_label_3d=True),
    dict(type="RandomFlip3D", flip_ratio_bev_horizontal=0.5),
    dict(type="GlobalRotScaleTrans", rot_range=[-0.78539816, 0.78539816], scale_ratio_range=[0.9, 1.1],
         translation_std=[0.5, 0.5, 0.5]),
    dict(type="PointsRangeFilter", point_cloud_range=point_cloud_range),
    dict(type="ObjectRangeFilter", point_cloud_range=point_cloud_range),
    dict(type="ObjectNameFilter", classes=list(class_names)),
    dict(type="PointShuffle"),
    dict(type="Pack3DDetInputs", keys=["points", "gt_boxes_3d", "gt_labels_3d"]),
]
test_pipeline = [
    dict(type="LoadPointsFromFile", num_features=5, use_dims=[0, 1, 2, 3]),
    dict(type="LoadPointsFromMultiSweeps", sweeps_num=num_sweeps - 1),
    dict(type="PointsRangeFilter", point_cloud_range=point_cloud_range),
    dict(type="Pack3DDetInputs", keys=["points"]),
]
modality = dict(use_lidar=True, use_camera=False)
train_dataloader = dict(dataset=dict(_delete_=True, type=dataset_type, data_root=data_root,
                                     ann_file="nuscenes_infos_train.pkl", pipeline=train_pipeline, metainfo=metainfo,
                                     modality=modality, test_mode=False))
val_dataloader = dict(dataset=dict(_delete_=True, type=dataset_type, data_root=data_root,
                                   ann_file="nuscenes_infos_val.pkl", pipeline=test_pipeline, metainfo=metainfo,
                                   modality=modality, test_mode=True))
test_dataloader = val_dataloader
val_evaluator = dict(_delete_=True, type="NuScenesMetric", data_root=data_root, ann_file="nuscenes_infos_val.pkl")
test_evaluator = val_evaluator

# 28130 nuScenes train samples, batch 2: 20 epochs
max_iters = 281300
train_cfg = dict(max_iters=max_iters, val_interval=28130)
param_scheduler = [dict(type="OneCycleLR", eta_max=1e-3, total_steps=max_iters, pct_start=0.4, by_epoch=False,
                        div_factor=10, final_div_factor=1000)]
default_hooks = dict(checkpoint=dict(interval=28130))
