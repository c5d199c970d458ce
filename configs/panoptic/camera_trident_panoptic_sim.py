# The camera model: TridentNet 2D detection (configs/tridentnet/tridentnet_sim.py) and pointly-supervised panoptic
# segmentation (configs/panoptic/panoptic_points_sim.py) on ONE shared trident backbone, one forward pass.
#   Train:  python tools/train.py configs/panoptic/camera_trident_panoptic_sim.py
#   Test:   python tools/test.py configs/panoptic/camera_trident_panoptic_sim.py work_dirs/camera_trident_panoptic_sim/iter_N.pth
# The backbone returns C2, C3 (stride 4, 8; once per image) and the trident stage C4 (stride 16, one copy per
# branch); the detector (RPN + R-CNN per branch, scale-aware) reads C4, the panoptic head reads C2, C3 and the C4
# of branch 1 (dilation 2, the branch TridentNet-Fast keeps).  TridentNet-Fast + panoptic at test time:
#   --cfg-options model.detector.test_branch_idx=1
# Training data: the KITTI 2D boxes (detector) and the point labels (panoptic head).
_base_ = ["../tridentnet/tridentnet_sim.py"]

custom_imports = dict(imports=["perception.datasets.transforms.camera_boxes", "perception.models.camera.trident",
                               "perception.evaluation.kitti_2d", "perception.evaluation.coco_2d",
                               "perception.models.camera.panoptic",
                               "perception.datasets.transforms.panoptic_load_points",
                               "perception.datasets.transforms.panoptic_load_annotations",
                               "perception.datasets.transforms.panoptic_align",
                               "perception.datasets.transforms.panoptic_pack",
                               "perception.evaluation.panoptic_quality"],
                      allow_failed_imports=False)

c2_c3_c4 = (32, 64, 128)  # BasicBlock stages with base_channels=32

model = dict(
    _delete_=True,
    type="CameraModel",
    data_preprocessor={{_base_.model.data_preprocessor}},
    detector={{_base_.model}},          # TridentRCNN exactly as configs/tridentnet/tridentnet_sim.py
    backbone_out_indices=(0, 1, 2),     # C2, C3 for the panoptic head; C4 (last) for the detector
    panoptic_levels=(0, 1, 2),
    panoptic_branch=1,
    loss_weights=dict(detector=1.0, panoptic=1.0),
    panoptic_head=dict(
        type="PanopticHead", supervision="points", in_channels=c2_c3_c4, in_strides=(4, 8, 16),
        channels=32, head_channels=32, embedding_dims=8, point_expand=dict(thing=3, stuff=11), warmup_iters=300,
        semantic_top_k=0.2,
        target_cfg=dict(sigma=4.0, small_instance_area=256, small_instance_weight=3.0),
        pseudo_label_cfg=dict(step=0.01, semantic=1.0, boundary=0.1, embedding=0.5, class_cost=1.0,
                              stuff_distance=0.0, min_class_prob=0.5),
        postprocess_cfg=dict(center_threshold=0.1, nms_kernel=7, top_k=100, thing_min_area=4, stuff_min_area=64)),
)

img_scale = (828, 250)
train_pipeline = [
    dict(type="LoadImageFromFileRGB"),
    dict(type="LoadAnnotations3D", with_bbox_3d=False, with_label_3d=False, with_bbox=True, with_label=True),
    dict(type="CameraBoxesToDet"),
    dict(type="LoadPointLabels"),
    dict(type="mmdet.Resize", scale=img_scale, keep_ratio=True),
    dict(type="mmdet.RandomFlip", prob=0.5),
    dict(type="AlignPanopticToImage"),
    dict(type="PackPanopticInputs",
         meta_keys=("img_path", "ori_shape", "img_shape", "scale_factor", "flip", "flip_direction", "sample_idx")),
]
test_pipeline = [
    dict(type="LoadImageFromFileRGB"),
    dict(type="LoadPanopticAnnotations", with_map=False),
    dict(type="mmdet.Resize", scale=img_scale, keep_ratio=True),
    dict(type="PackPanopticInputs",
         meta_keys=("img_path", "ori_shape", "img_shape", "scale_factor", "sample_idx", "dataset_idx", "calib",
                    "eval_ann_info", "panoptic_path")),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = [dict(type="Kitti2DMetric"), dict(type="Coco2DMetric"), dict(type="PanopticQualityMetric")]
test_evaluator = val_evaluator
