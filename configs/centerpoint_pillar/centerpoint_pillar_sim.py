# CenterPoint-style pillar detector on the simulated benchmark: the foundation's LiDAR baseline.
#   dynamic pillars 0.32 m -> PointNet (DynamicVFE) -> dense BEV -> 2-stage conv backbone -> FPN -> CenterHead
# Trains on 2 CPU cores in about an hour:  python tools/train.py configs/centerpoint_pillar/centerpoint_pillar_sim.py
_base_ = ["../_base_/default_runtime.py", "../_base_/datasets/sim_lidar_3class.py"]

voxel_size = [0.32, 0.32, 4.0]
model = dict(
    type="LidarDetector",
    data_preprocessor=dict(type="Det3DDataPreprocessor"),
    voxel_encoder=dict(type="DynamicVFE", in_channels=4, feat_channels=[32, 64],
                       point_range={{_base_.point_cloud_range}}, voxel_size=voxel_size),
    middle_encoder=dict(type="BEVScatter", point_range={{_base_.point_cloud_range}}, voxel_size=voxel_size),
    backbone=dict(type="BEVBackbone", in_channels=64, out_channels=[64, 128], layer_nums=[2, 3], strides=[2, 2]),
    neck=dict(type="BEVFPN", in_channels=[64, 128], out_channels=[64, 64], scale_factors=[1, 2]),
    bbox_head=dict(
        type="CenterHead", in_channels=128, num_classes=3, point_range={{_base_.point_cloud_range}},
        voxel_size=voxel_size, stride=2, head_channels=64,
        loss_heatmap=dict(type="mmdet.GaussianFocalLoss", loss_weight=1.0),
        loss_reg=dict(type="mmdet.L1Loss", loss_weight=0.25),
        code_weights=[1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.5, 0.5],
        test_cfg=dict(topk=100, score_thr=0.1, nms_iou_thr=0.1, max_per_sample=100)),
)

max_iters = 3000
train_cfg = dict(type="IterBasedTrainLoop", max_iters=max_iters, val_interval=max_iters)
val_cfg = dict(type="ValLoop")
test_cfg = dict(type="TestLoop")
optim_wrapper = dict(type="OptimWrapper", optimizer=dict(type="AdamW", lr=2e-3, betas=(0.95, 0.99), weight_decay=0.01),
                     clip_grad=dict(max_norm=10, norm_type=2))
param_scheduler = [dict(type="OneCycleLR", eta_max=2e-3, total_steps=max_iters, pct_start=0.3, by_epoch=False,
                        div_factor=10, final_div_factor=100)]
default_hooks = dict(checkpoint=dict(type="CheckpointHook", by_epoch=False, interval=1000, max_keep_ckpts=2,
                                     save_last=True))
