# TridentNet on nuScenes CAM_FRONT, 10 classes, ResNet-50 C4 (./_base_/tridentnet_c4_r50.py), COCO-style AP.
# The dataset side (NuScenesDataset with camera 2D targets) is described in ../_base_/datasets/nuscenes_camera_2d.py.
#   Train:  python tools/train.py configs/tridentnet/tridentnet_nuscenes.py      (a GPU is recommended)
_base_ = ["../_base_/default_runtime.py", "../_base_/datasets/nuscenes_camera_2d.py", "./_base_/tridentnet_c4_r50.py"]

# Inputs 1333x750 are about the paper's 800x1333: its ranges as they are.
model = dict(branch_ranges=((0, 90), (30, 160), (90, None)), roi_head=dict(bbox_head=dict(num_classes=10)))

# 28130 nuScenes train samples; batch 2 per GPU x 8 GPUs: 12 epochs
max_iters = 21100
train_cfg = dict(max_iters=max_iters, val_interval=7000)
param_scheduler = [
    dict(type="LinearLR", start_factor=0.001, by_epoch=False, begin=0, end=500),
    dict(type="MultiStepLR", by_epoch=False, begin=0, end=max_iters, milestones=[14000, 19300], gamma=0.1),
]
