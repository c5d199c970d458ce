# SECOND-style sparse-convolution baseline (spconv) on the simulated benchmark, for comparison with configs/sst/.
#   dynamic voxels 0.16 x 0.16 x 0.2 m -> PointNet (DynamicVFE) -> 3D sparse convs (stride 4 in BEV, z folded into
#   channels) -> the pillar baseline's 2-stage BEV backbone + FPN -> CenterHead at stride 4 (0.64 m cells, as the
#   pillar baseline's stride 2 on 0.32 m pillars)
# Train:  python tools/train.py configs/second/second_sim.py        (work_dirs/second_sim/)
# Test:   python tools/test.py configs/second/second_sim.py work_dirs/second_sim/iter_2000.pth
_base_ = ["../centerpoint_pillar/centerpoint_pillar_sim.py"]
custom_imports = dict(imports=["perception.models.middle_encoders.sparse_encoder"], allow_failed_imports=False)

voxel_size = [0.16, 0.16, 0.2]  # grid (nz, ny, nx) = (20, 320, 320) over the sim range
model = dict(
    voxel_encoder=dict(feat_channels=[16], voxel_size=voxel_size),
    # z: 20 -> 10 -> 5 -> output conv (3, 1, 1) / (2, 1, 1) -> 2, so the BEV map has 64 * 2 channels at 80 x 80
    middle_encoder=dict(_delete_=True, type="SparseEncoder", in_channels=16, point_range={{_base_.point_cloud_range}},
                        voxel_size=voxel_size, base_channels=16, stage_channels=[[16], [32, 32], [64, 64]],
                        stage_strides=[1, 2, 2], out_channels=64, algo="auto"),
    backbone=dict(in_channels=128, strides=[1, 2]),
    bbox_head=dict(voxel_size=voxel_size, stride=4),
)

max_iters = 2000
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
param_scheduler = [dict(type="OneCycleLR", eta_max=2e-3, total_steps=max_iters, pct_start=0.3, by_epoch=False,
                        div_factor=10, final_div_factor=100)]
