# SST (single-stride sparse transformer, Fan et al. CVPR 2022) on the simulated benchmark, sized for 2 CPU cores.
#   dynamic pillars 0.32 m -> PointNet (DynamicVFE) -> 4 SST blocks (8x8 windows, regular + shifted, d_model 64)
#   -> stride-1 BEV map (160 x 160) -> two 3x3 convs (SST's "attached convs") -> CenterHead at stride 1
# The voxel encoder, head losses and data are the pillar baseline's (configs/centerpoint_pillar/).
# Train:  python tools/train.py configs/sst/sst_sim.py        (work_dirs/sst_sim/)
# Test:   python tools/test.py configs/sst/sst_sim.py work_dirs/sst_sim/iter_2000.pth
_base_ = ["../centerpoint_pillar/centerpoint_pillar_sim.py"]
custom_imports = dict(imports=["perception.models.middle_encoders.sst_middle_encoder"], allow_failed_imports=False)

voxel_size = [0.32, 0.32, 4.0]  # pillars: nz = 1, BEV grid 160 x 160 over the 51.2 m x 51.2 m range
d_model = 64
model = dict(
    voxel_encoder=dict(feat_channels=[32, d_model]),
    middle_encoder=dict(
        type="SSTMiddleEncoder", in_channels=d_model, d_model=d_model, nhead=4, num_blocks=4,
        dim_feedforward=2 * d_model, window_shape=[8, 8],
        # SST's drop strategy: buckets of 16 / 32 / 48 tokens in training (windows with more voxels keep 48
        # random ones), and a 64 = 8 x 8 x 1 bucket at test time, so nothing is dropped when evaluating.
        train_bucket_caps=[16, 32, 48], test_bucket_caps=[16, 32, 48, 64],
        dropout=0.0, activation="gelu"),
    backbone=dict(in_channels=d_model, out_channels=[d_model], layer_nums=[1], strides=[1]),
    neck=None,  # one stride: nothing to merge
    bbox_head=dict(in_channels=d_model, stride=1, head_channels=32),
)

max_iters = 2000
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
optim_wrapper = dict(optimizer=dict(lr=1e-3, betas=(0.9, 0.999), weight_decay=0.05))
param_scheduler = [dict(type="OneCycleLR", eta_max=1e-3, total_steps=max_iters, pct_start=0.3, by_epoch=False,
                        div_factor=10, final_div_factor=100)]
