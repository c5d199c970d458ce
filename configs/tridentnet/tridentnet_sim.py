# TridentNet (Li et al., ICCV 2019) on the simulated benchmark, camera-only 2D detection, trained from scratch.
#   ResNet-18-like (half width) C4 backbone whose stage 3 (stride 16) is a trident stage: 3 branches, shared
#   weights, dilations 1/2/3 -> RPN and R-CNN (2-fc head on 7x7 RoIAlign) per branch, scale-aware training,
#   branches merged with NMS at test time.
#   Train:  python tools/train.py configs/tridentnet/tridentnet_sim.py
#   Test:   python tools/test.py configs/tridentnet/tridentnet_sim.py work_dirs/tridentnet_sim/iter_N.pth
# TridentNet-Fast (branch 1 only): configs/tridentnet/tridentnet_fast_sim.py, same checkpoint.
# With pretrained weights (none are downloaded here): --cfg-options load_from=/path/to/checkpoint.pth
# (an mmdet ResNet-18 ImageNet state dict loads into `backbone` with base_channels=64; set
# model.backbone.base_channels=64 and the channel numbers below to 256).
_base_ = ["../_base_/default_runtime.py", "../_base_/datasets/sim_camera_2d.py", "./_base_/tridentnet_c4_r18.py"]
