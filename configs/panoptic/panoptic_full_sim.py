# The upper bound: the same model and schedule as panoptic_points_sim.py trained on the full panoptic masks
# (training/panoptic/*.png + panoptic.json) instead of the points.
#   python tools/train.py configs/panoptic/panoptic_full_sim.py
_base_ = ["./panoptic_points_sim.py"]

model = dict(panoptic_head=dict(supervision="full"))
train_pipeline = [
    dict(type="LoadImageFromFileRGB"),
    dict(type="LoadPanopticAnnotations", with_map=True),
    dict(type="mmdet.Resize", scale={{_base_.img_scale}}, keep_ratio=True),
    dict(type="mmdet.RandomFlip", prob=0.5),
    dict(type="AlignPanopticToImage"),
    dict(type="PackPanopticInputs"),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
