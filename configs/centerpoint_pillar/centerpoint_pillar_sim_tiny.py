# A few-iteration version of centerpoint_pillar_sim.py for smoke tests and the distributed test:
# a smaller range, thin layers, 4 iterations.  Point data_root at any simulated root, e.g.
#   python tools/train.py configs/centerpoint_pillar/centerpoint_pillar_sim_tiny.py --cfg-options data_root=...
_base_ = ["./centerpoint_pillar_sim.py"]

point_cloud_range = [0.0, -12.8, -3.0, 25.6, 12.8, 1.0]
voxel_size = [0.4, 0.4, 4.0]
model = dict(
    voxel_encoder=dict(feat_channels=[16, 16], point_range=point_cloud_range, voxel_size=voxel_size),
    middle_encoder=dict(point_range=point_cloud_range, voxel_size=voxel_size),
    backbone=dict(in_channels=16, out_channels=[16, 32], layer_nums=[1, 1], strides=[2, 2]),
    neck=dict(in_channels=[16, 32], out_channels=[16, 16], scale_factors=[1, 2]),
    bbox_head=dict(in_channels=32, head_channels=16, point_range=point_cloud_range, voxel_size=voxel_size),
)
max_iters = 4
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
param_scheduler = [dict(type="ConstantLR", factor=1.0, by_epoch=False)]
default_hooks = dict(logger=dict(type="LoggerHook", interval=1),
                     checkpoint=dict(type="CheckpointHook", by_epoch=False, interval=max_iters, save_last=True))
train_dataloader = dict(batch_size=1, num_workers=0, persistent_workers=False)
val_dataloader = dict(num_workers=0)
test_dataloader = dict(num_workers=0)
