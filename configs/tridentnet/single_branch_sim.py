# The single-branch baseline of tridentnet_sim.py: the same detector, heads, data and schedule, with a plain
# ResNet-18-like C4 backbone (mmdet ResNet, stage 3 undilated) instead of the trident stage, and one branch that
# learns every object (range [0, inf)).  Same parameters as the TridentNet (the trident stage shares its weights).
#   python tools/train.py configs/tridentnet/single_branch_sim.py
_base_ = ["./tridentnet_sim.py"]

model = dict(
    branch_ranges=((0, None),),
    backbone=dict(_delete_=True, type="mmdet.ResNet", depth=18, base_channels=32, num_stages=3, strides=(1, 2, 2),
                  dilations=(1, 1, 1), out_indices=(2,), frozen_stages=-1, norm_cfg={{_base_.norm_cfg}},
                  norm_eval=False, style="pytorch"),
)
