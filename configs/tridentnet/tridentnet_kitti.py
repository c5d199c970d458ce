# TridentNet on real KITTI 2D (Car / Pedestrian / Cyclist), ResNet-50 C4 (see ./_base_/tridentnet_c4_r50.py for
# the architecture and how to start from ImageNet or COCO weights).
#   Train:  python tools/train.py configs/tridentnet/tridentnet_kitti.py          (a GPU is recommended)
#   Fast:   python tools/test.py configs/tridentnet/tridentnet_kitti.py CKPT --cfg-options model.test_branch_idx=1
#   ResNet-101: --cfg-options model.backbone.depth=101 model.roi_head.shared_head.depth=101
_base_ = ["../_base_/default_runtime.py", "../_base_/datasets/kitti_camera_2d.py", "./_base_/tridentnet_c4_r50.py"]

# Paper ranges [0, 90], [30, 160], [90, inf] (~800x1333 inputs) scaled by sqrt(1242*375 / (800*1333)) ~= 0.66.
model = dict(branch_ranges=((0, 60), (20, 105), (60, None)))

# 3712 KITTI train images; batch 2 per GPU x 8 GPUs: ~24 epochs
max_iters = 5600
train_cfg = dict(max_iters=max_iters, val_interval=1400)
param_scheduler = [
    dict(type="LinearLR", start_factor=0.001, by_epoch=False, begin=0, end=500),
    dict(type="MultiStepLR", by_epoch=False, begin=0, end=max_iters, milestones=[4200, 5200], gamma=0.1),
]
