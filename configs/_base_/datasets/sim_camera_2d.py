# Simulated benchmark, camera-only 2D detection: camera-2 images (1242x375) with KITTI 2D boxes.
# Prepare:  python tools/make_sim.py --out data/sim --frames 500 --seed 0 --workers 2
#           python tools/create_data.py kitti --root data/sim
# Images are resized to img_scale (the model's "input pixels", in which TridentNet's branch ranges are given);
# detections are rescaled to the original 1242x375 pixels before evaluation.
custom_imports = dict(imports=["perception.datasets.transforms.camera_boxes", "perception.models.camera.trident",
                               "perception.evaluation.kitti_2d", "perception.evaluation.coco_2d"],
                      allow_failed_imports=False)
dataset_type = "KittiDataset"
data_root = "data/sim/"
class_names = ("Car", "Pedestrian", "Cyclist")
metainfo = dict(classes=class_names)
img_scale = (828, 250)  # (w, h): 2/3 of 1242x375
modality = dict(use_lidar=False, use_camera=True)

train_pipeline = [
    dict(type="LoadImageFromFileRGB"),
    dict(type="LoadAnnotations3D", with_bbox_3d=False, with_label_3d=False, with_bbox=True, with_label=True),
    dict(type="CameraBoxesToDet"),
    dict(type="mmdet.Resize", scale=img_scale, keep_ratio=True),
    dict(type="mmdet.RandomFlip", prob=0.5),
    dict(type="mmdet.PackDetInputs",
         meta_keys=("img_path", "ori_shape", "img_shape", "scale_factor", "flip", "flip_direction", "sample_idx")),
]
test_pipeline = [
    dict(type="LoadImageFromFileRGB"),
    dict(type="mmdet.Resize", scale=img_scale, keep_ratio=True),
    dict(type="mmdet.PackDetInputs",
         meta_keys=("img_path", "ori_shape", "img_shape", "scale_factor", "sample_idx", "dataset_idx", "calib",
                    "eval_ann_info")),
]
train_dataloader = dict(
    batch_size=2, num_workers=1, persistent_workers=True,
    sampler=dict(type="DefaultSampler", shuffle=True),
    dataset=dict(type=dataset_type, data_root=data_root, ann_file="kitti_infos_train.pkl", pipeline=train_pipeline,
                 metainfo=metainfo, modality=modality, filter_empty_gt=True))
val_dataloader = dict(
    batch_size=1, num_workers=1, persistent_workers=False, drop_last=False,
    sampler=dict(type="DefaultSampler", shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, ann_file="kitti_infos_val.pkl", pipeline=test_pipeline,
                 metainfo=metainfo, modality=modality, test_mode=True))
test_dataloader = val_dataloader
# KITTI 2D AP (easy/moderate/hard, R11/R40; headline kitti2d/Overall_2D_moderate_R40) and COCO AP with
# small/medium/large (coco/bbox_mAP_s/_m/_l; areas in original 1242x375 pixels).
val_evaluator = [dict(type="Kitti2DMetric"), dict(type="Coco2DMetric")]
test_evaluator = val_evaluator
