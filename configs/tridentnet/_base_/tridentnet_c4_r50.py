# The paper's TridentNet C4 with ResNet-50 (ResNet-101: model.backbone.depth=101, shared_head depth=101):
#   stages 1-3 (stage 3 = trident stage, stride 16, dilations 1/2/3, shared weights) -> RPN per branch
#   -> RoIAlign 14x14 -> ResNet stage 4 per RoI (shared_head) -> box head with average pooling.
# Random init (nothing is downloaded).  With ImageNet weights (an mmdet/torchvision resnet50 .pth), initialise the
# backbone and the stage-4 head from the same file:
#   --cfg-options model.backbone.init_cfg.type=Pretrained model.backbone.init_cfg.checkpoint=/path/resnet50.pth
#                 model.roi_head.shared_head.init_cfg.type=Pretrained
#                 model.roi_head.shared_head.init_cfg.checkpoint=/path/resnet50.pth
# or start from a whole detector checkpoint (e.g. a COCO-trained TridentNet C4): load_from=/path/to/ckpt.pth
_base_ = ["./tridentnet_c4_r18.py"]

norm_cfg = dict(type="BN", requires_grad=True)
model = dict(
    backbone=dict(depth=50, base_channels=64, norm_cfg=norm_cfg,
                  init_cfg=dict(type="Kaiming", layer="Conv2d")),
    rpn_head=dict(in_channels=1024, feat_channels=1024,
                  anchor_generator=dict(scales=[1, 2, 4, 8, 16], ratios=[0.5, 1.0, 2.0], strides=[16])),
    roi_head=dict(
        shared_head=dict(type="mmdet.ResLayer", depth=50, stage=3, stride=2, dilation=1, style="pytorch",
                         norm_cfg=norm_cfg, norm_eval=False, init_cfg=dict(type="Kaiming", layer="Conv2d")),
        bbox_roi_extractor=dict(roi_layer=dict(type="RoIAlign", output_size=14, sampling_ratio=0),
                                out_channels=1024),
        bbox_head=dict(_delete_=True, type="mmdet.BBoxHead", with_avg_pool=True, roi_feat_size=7, in_channels=2048,
                       num_classes=3,
                       bbox_coder=dict(type="mmdet.DeltaXYWHBBoxCoder", target_means=[0.0] * 4,
                                       target_stds=[0.1, 0.1, 0.2, 0.2]),
                       reg_class_agnostic=False,
                       loss_cls=dict(type="mmdet.CrossEntropyLoss", use_sigmoid=False, loss_weight=1.0),
                       loss_bbox=dict(type="mmdet.L1Loss", loss_weight=1.0))),
    # the paper's TridentNet R-CNN sampling: 128 RoIs, half positive, no ground truth as proposals
    train_cfg=dict(rpn_proposal=dict(nms_pre=6000, max_per_img=500),
                   rcnn=dict(sampler=dict(num=128, pos_fraction=0.5, add_gt_as_proposals=False))),
    test_cfg=dict(rpn=dict(nms_pre=6000, max_per_img=1000)),
)
# SGD as in the paper (batch 16: 8 GPUs x 2 images)
optim_wrapper = dict(optimizer=dict(_delete_=True, type="SGD", lr=0.02, momentum=0.9, weight_decay=1e-4))
