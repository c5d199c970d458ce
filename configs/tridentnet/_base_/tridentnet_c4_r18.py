# TridentNet C4 model (ResNet-18-like, half width; trident stage 3 at stride 16) and its schedule, shared by the
# configs of this folder.  Channel numbers assume BasicBlocks with base_channels=32 (stage 3: 128 channels).
norm_cfg = dict(type="BN", requires_grad=True)
c4_channels = 128  # BasicBlock stage 3 with base_channels=32
# Valid ranges of the branches, sqrt(w*h) in input pixels (828x250): the paper's [0, 90], [30, 160], [90, inf]
# (for ~800x1333 inputs) scaled by sqrt(828*250 / (800*1333)) ~= 0.44.  On the simulated training set that is
# 71% / 70% / 29% of the objects for the small / middle / large branch.
branch_ranges = ((0, 40), (13, 70), (40, None))

model = dict(
    type="TridentRCNN",
    branch_ranges=branch_ranges,
    test_branch_idx=-1,       # -1: all three branches merged (full TridentNet); 1: TridentNet-Fast
    test_range_filter=True,   # full inference drops a branch's detections outside its range (the paper)
    data_preprocessor=dict(type="mmdet.DetDataPreprocessor", mean=[123.675, 116.28, 103.53],
                           std=[58.395, 57.12, 57.375], bgr_to_rgb=False, pad_size_divisor=32),
    backbone=dict(type="perception.TridentStageResNet", depth=18, base_channels=32, num_stages=3, strides=(1, 2, 2),
                  dilations=(1, 1, 1), out_indices=(2,), frozen_stages=-1, norm_cfg=norm_cfg, norm_eval=False,
                  style="pytorch", trident_dilations=(1, 2, 3), trident_stage=-1),
    rpn_head=dict(
        type="mmdet.RPNHead", in_channels=c4_channels, feat_channels=c4_channels,
        anchor_generator=dict(type="mmdet.AnchorGenerator", scales=[0.5, 1, 2, 4, 8], ratios=[0.5, 1.0, 2.0],
                              strides=[16]),  # anchors 8..128 px (objects: 4..200 px at 828x250)
        bbox_coder=dict(type="mmdet.DeltaXYWHBBoxCoder", target_means=[0.0] * 4, target_stds=[1.0] * 4),
        loss_cls=dict(type="mmdet.CrossEntropyLoss", use_sigmoid=True, loss_weight=1.0),
        loss_bbox=dict(type="mmdet.L1Loss", loss_weight=1.0)),
    roi_head=dict(
        type="mmdet.StandardRoIHead",
        bbox_roi_extractor=dict(type="mmdet.SingleRoIExtractor",
                                roi_layer=dict(type="RoIAlign", output_size=7, sampling_ratio=2),
                                out_channels=c4_channels, featmap_strides=[16]),
        bbox_head=dict(
            type="mmdet.Shared2FCBBoxHead", in_channels=c4_channels, fc_out_channels=256, roi_feat_size=7,
            num_classes=3,
            bbox_coder=dict(type="mmdet.DeltaXYWHBBoxCoder", target_means=[0.0] * 4, target_stds=[0.1, 0.1, 0.2, 0.2]),
            reg_class_agnostic=False,
            loss_cls=dict(type="mmdet.CrossEntropyLoss", use_sigmoid=False, loss_weight=1.0),
            loss_bbox=dict(type="mmdet.L1Loss", loss_weight=1.0))),
    # Scale-aware training: ScaleAwareAssigner gives a branch no positive anchor/proposal for ground truth
    # outside its range; such would-be positives are ignored (neither positive nor background), as in the paper.
    train_cfg=dict(
        rpn=dict(
            assigner=dict(type="perception.ScaleAwareAssigner", out_of_range="ignore",
                          assigner=dict(type="mmdet.MaxIoUAssigner", pos_iou_thr=0.7, neg_iou_thr=0.3,
                                        min_pos_iou=0.3, match_low_quality=True, ignore_iof_thr=-1)),
            sampler=dict(type="mmdet.RandomSampler", num=256, pos_fraction=0.5, neg_pos_ub=-1,
                         add_gt_as_proposals=False),
            allowed_border=-1, pos_weight=-1, debug=False),
        rpn_proposal=dict(nms_pre=2000, max_per_img=300, nms=dict(type="nms", iou_threshold=0.7), min_bbox_size=0),
        rcnn=dict(
            assigner=dict(type="perception.ScaleAwareAssigner", out_of_range="ignore",
                          assigner=dict(type="mmdet.MaxIoUAssigner", pos_iou_thr=0.5, neg_iou_thr=0.5,
                                        min_pos_iou=0.5, match_low_quality=False, ignore_iof_thr=-1)),
            sampler=dict(type="mmdet.RandomSampler", num=128, pos_fraction=0.5, neg_pos_ub=-1,
                         add_gt_as_proposals=True),
            pos_weight=-1, debug=False)),
    test_cfg=dict(
        rpn=dict(nms_pre=1000, max_per_img=300, nms=dict(type="nms", iou_threshold=0.7), min_bbox_size=0),
        # also the cross-branch merge: class-wise NMS at 0.5, 100 detections per image
        rcnn=dict(score_thr=0.05, nms=dict(type="nms", iou_threshold=0.5), max_per_img=100)),
)

max_iters = 1500  # 7.5 epochs of the 400 training images: about 55 min on 2 CPU cores
train_cfg = dict(type="IterBasedTrainLoop", max_iters=max_iters, val_interval=max_iters)
val_cfg = dict(type="ValLoop")
test_cfg = dict(type="TestLoop")
# From scratch on 400 images: AdamW converged faster than SGD (lr 0.02, momentum 0.9) in a 300-iteration check
# (COCO AP 0.030 vs 0.010 on the simulated val set).
optim_wrapper = dict(type="OptimWrapper", optimizer=dict(type="AdamW", lr=5e-4, weight_decay=0.05),
                     clip_grad=dict(max_norm=10, norm_type=2))
param_scheduler = [
    dict(type="LinearLR", start_factor=0.01, by_epoch=False, begin=0, end=300),
    dict(type="MultiStepLR", by_epoch=False, begin=0, end=max_iters, milestones=[1100, 1350], gamma=0.1),
]
