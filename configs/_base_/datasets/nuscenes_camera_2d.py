# nuScenes, camera-only 2D detection of the 10 detection classes in CAM_FRONT images (1600x900).
# Needs NuScenesDataset (perception/datasets/nuscenes*) with modality use_camera=True to give, per sample:
#   img_path (CAM_FRONT image), ann_info.gt_bboxes (N, 4) [x1, y1, x2, y2] image pixels + gt_bboxes_labels (N,)
#   (the projected 3D boxes of `classes`, clipped to the image), eval_ann_info (ObjectAnnotations-like: names,
#   boxes2d, dontcare) and dataset_idx -- the same keys KittiDataset gives.  Evaluation: COCO-style AP only.
_base_ = ["./sim_camera_2d.py"]

dataset_type = "NuScenesDataset"
data_root = "data/nuscenes/"
class_names = ("car", "truck", "construction_vehicle", "bus", "trailer", "barrier", "motorcycle", "bicycle",
               "pedestrian", "traffic_cone")
metainfo = dict(classes=class_names)
img_scale = (1333, 750)  # (w, h)
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
         meta_keys=("img_path", "ori_shape", "img_shape", "scale_factor", "sample_idx", "dataset_idx",
                    "eval_ann_info")),
]
train_dataloader = dict(dataset=dict(_delete_=True, type=dataset_type, data_root=data_root,
                                     ann_file="nuscenes_infos_train.pkl", pipeline=train_pipeline, metainfo=metainfo,
                                     modality=modality, test_mode=False))
val_dataloader = dict(dataset=dict(_delete_=True, type=dataset_type, data_root=data_root,
                                   ann_file="nuscenes_infos_val.pkl", pipeline=test_pipeline, metainfo=metainfo,
                                   modality=modality, test_mode=True))
test_dataloader = val_dataloader
# nuScenes has no DontCare regions nor KITTI neighbour classes
val_evaluator = [dict(type="Coco2DMetric", neighbour_classes={})]
test_evaluator = val_evaluator
