# SST (Fan et al., CVPR 2022) on real KITTI, 3 classes: the full-size single-stride sparse transformer.
#   dynamic pillars 0.32 m over [0, -40, -3, 70.4, 40, 1] (BEV grid 250 x 220) -> PointNet (DynamicVFE, 64 -> 128)
#   -> 6 SST blocks (12 x 12 windows, regular + shifted, d_model 128, 8 heads) -> stride-1 BEV map
#   -> three 3x3 convs (SST's attached convs) -> CenterHead at stride 1
# Prepare:  python tools/create_data.py kitti --root data/kitti --gt-database
# Train:    python tools/train.py configs/sst/sst_kitti.py
_base_ = ["./sst_sim.py"]

data_root = "data/kitti/"
class_names = ("Car", "Pedestrian", "Cyclist")
point_cloud_range = [0.0, -40.0, -3.0, 70.4, 40.0, 1.0]
voxel_size = [0.32, 0.32, 4.0]
d_model = 128

model = dict(
    voxel_encoder=dict(feat_channels=[64, d_model], point_range=point_cloud_range, voxel_size=voxel_size),
    middle_encoder=dict(
        point_range=point_cloud_range, voxel_size=voxel_size, in_channels=d_model, d_model=d_model, nhead=8,
        num_blocks=6, dim_feedforward=2 * d_model, window_shape=[12, 12],
        # SST's drop strategy: 30 / 60 / 100-token buckets in training, a 144 = 12 x 12 x 1 bucket at test time
        train_bucket_caps=[30, 60, 100], test_bucket_caps=[30, 60, 100, 144]),
    backbone=dict(in_channels=d_model, out_channels=[d_model], layer_nums=[2], strides=[1]),
    bbox_head=dict(in_channels=d_model, head_channels=64, point_range=point_cloud_range, voxel_size=voxel_size),
)

db_sampler = dict(
    type="ObjectSample", db_info_path="kitti_dbinfos_train.pkl", data_root=data_root, classes=class_names,
    sample_groups=dict(Car=12, Pedestrian=6, Cyclist=6), min_points=dict(Car=5, Pedestrian=10, Cyclist=10),
    remove_difficulties=(-1,))
train_pipeline = [
    dict(type="LoadPointsFromFile", num_features=4),
    dict(type="LoadAnnotations3D", with_bbox_3d=True, with_label_3d=True),
    dict(type="PointsInImageFilter"),
    db_sampler,
    dict(type="RandomFlip3D", flip_ratio_bev_horizontal=0.5),
    dict(type="GlobalRotScaleTrans", rot_range=[-0.78539816, 0.78539816], scale_ratio_range=[0.95, 1.05],
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
train_dataloader = dict(batch_size=2, dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_dataloader = val_dataloader

# 3712 KITTI train frames, batch 2: 40 epochs
max_iters = 74240
train_cfg = dict(max_iters=max_iters, val_interval=7424)
optim_wrapper = dict(optimizer=dict(lr=1e-3))
param_scheduler = [dict(type="OneCycleLR", eta_max=1e-3, total_steps=max_iters, pct_start=0.4, by_epoch=False,
                        div_factor=10, final_div_factor=1000)]
default_hooks = dict(checkpoint=dict(interval=7424))
