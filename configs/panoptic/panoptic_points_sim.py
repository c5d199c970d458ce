# Pointly-supervised panoptic segmentation (Fan et al., ECCV 2022) on the simulated benchmark, trained from the
# point labels only (training/point_labels.json: one labelled pixel per thing instance and per stuff region).
#   Train:  python tools/train.py configs/panoptic/panoptic_points_sim.py
#   Test:   python tools/test.py configs/panoptic/panoptic_points_sim.py work_dirs/panoptic_points_sim/iter_N.pth
# Model: ResNet-18 at half width (from scratch) -> Panoptic-FPN-style fusion at stride 4 -> Panoptic-DeepLab
# branches (semantic, centre, offset) + the point-supervised guide branch and instance embedding that feed the
# pseudo-label parser (minimum traversing distance).  Images are resized to 621x188 (half of 1242x375); PQ is
# computed at the original size.  Variants: panoptic_full_sim.py (full masks, the upper bound) and
# panoptic_points_naive_sim.py (points only, no pseudo masks, the naive baseline).  See docs/panoptic.md.
_base_ = ["../_base_/default_runtime.py"]

custom_imports = dict(imports=["perception.models.camera.panoptic",
                               "perception.datasets.transforms.panoptic_load_points",
                               "perception.datasets.transforms.panoptic_load_annotations",
                               "perception.datasets.transforms.panoptic_align",
                               "perception.datasets.transforms.panoptic_pack",
                               "perception.evaluation.panoptic_quality"],
                      allow_failed_imports=False)

img_scale = (621, 188)  # (w, h)
supervision = "points"

model = dict(
    type="PanopticSegmentor",
    data_preprocessor=dict(type="mmdet.DetDataPreprocessor", mean=[123.675, 116.28, 103.53],
                           std=[58.395, 57.12, 57.375], bgr_to_rgb=False, pad_size_divisor=32),
    backbone=dict(type="mmdet.ResNet", depth=18, base_channels=32, num_stages=4, out_indices=(0, 1, 2, 3),
                  strides=(1, 2, 2, 2), dilations=(1, 1, 1, 1), frozen_stages=-1,
                  norm_cfg=dict(type="BN", requires_grad=True), norm_eval=False, style="pytorch"),
    panoptic_head=dict(
        type="PanopticHead",
        supervision=supervision,
        in_channels=(32, 64, 128, 256), in_strides=(4, 8, 16, 32),
        channels=32, head_channels=32, embedding_dims=8,
        point_expand=dict(thing=3, stuff=11),  # guide's point windows: 3x3 px (things), 11x11 px (stuff)
        warmup_iters=300,        # pseudo-label losses ramp up while the guide branch learns
        semantic_top_k=0.2,
        target_cfg=dict(sigma=4.0, small_instance_area=256, small_instance_weight=3.0),
        # traversing cost per grid step: step + semantic * |dp|/2 + boundary * edge + embedding * (1 - cos)/2;
        # stuff regions are claimed by class probability alone (stuff_distance=0); see docs/panoptic.md
        pseudo_label_cfg=dict(step=0.01, semantic=1.0, boundary=0.1, embedding=0.5, class_cost=1.0,
                              stuff_distance=0.0, min_class_prob=0.5),
        affinity_cfg=dict(theta=2.0, threshold=0.3),
        postprocess_cfg=dict(center_threshold=0.1, nms_kernel=7, top_k=100, thing_min_area=4,
                             stuff_min_area=64)),
)

dataset_type = "KittiDataset"
data_root = "data/sim/"
metainfo = dict(classes=("Car", "Pedestrian", "Cyclist"))
modality = dict(use_lidar=False, use_camera=True)
train_pipeline = [
    dict(type="LoadImageFromFileRGB"),
    dict(type="LoadPointLabels"),
    dict(type="mmdet.Resize", scale=img_scale, keep_ratio=True),
    dict(type="mmdet.RandomFlip", prob=0.5),
    dict(type="AlignPanopticToImage"),
    dict(type="PackPanopticInputs"),
]
test_pipeline = [
    dict(type="LoadImageFromFileRGB"),
    dict(type="LoadPanopticAnnotations", with_map=False),  # segments_info for the metric (it reads the PNG)
    dict(type="mmdet.Resize", scale=img_scale, keep_ratio=True),
    dict(type="PackPanopticInputs"),
]
train_dataloader = dict(
    batch_size=4, num_workers=1, persistent_workers=True,
    sampler=dict(type="InfiniteSampler", shuffle=True),
    dataset=dict(type=dataset_type, data_root=data_root, ann_file="kitti_infos_train.pkl", pipeline=train_pipeline,
                 metainfo=metainfo, modality=modality, filter_empty_gt=False))
val_dataloader = dict(
    batch_size=2, num_workers=1, persistent_workers=False, drop_last=False,
    sampler=dict(type="DefaultSampler", shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, ann_file="kitti_infos_val.pkl", pipeline=test_pipeline,
                 metainfo=metainfo, modality=modality, test_mode=True))
test_dataloader = val_dataloader
val_evaluator = dict(type="PanopticQualityMetric")
test_evaluator = val_evaluator

max_iters = 1200
train_cfg = dict(type="IterBasedTrainLoop", max_iters=max_iters, val_interval=max_iters)
val_cfg = dict(type="ValLoop")
test_cfg = dict(type="TestLoop")
optim_wrapper = dict(type="OptimWrapper", optimizer=dict(type="AdamW", lr=2e-3, weight_decay=1e-4),
                     clip_grad=dict(max_norm=10, norm_type=2))
param_scheduler = [
    dict(type="LinearLR", start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(type="PolyLR", power=0.9, eta_min=1e-5, by_epoch=False, begin=100, end=max_iters),
]
default_hooks = dict(checkpoint=dict(type="CheckpointHook", by_epoch=False, interval=400, max_keep_ckpts=1,
                                     save_last=True))
