# Real KITTI object detection, camera-only 2D: camera-2 images (~1242x375) with the 2D label boxes, 3 classes.
# Prepare: the official training/{image_2,calib,label_2,velodyne} and ImageSets/{train,val}.txt under data/kitti/,
#          then  python tools/create_data.py kitti --root data/kitti
# Same pipelines and metrics as sim_camera_2d.py, at full resolution.
_base_ = ["./sim_camera_2d.py"]

data_root = "data/kitti/"
img_scale = (1242, 375)  # (w, h): KITTI's own size (images are 1224..1242 wide)

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
train_dataloader = dict(dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_dataloader = val_dataloader
