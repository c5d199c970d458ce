# Learned (CLOCs-style) late fusion of SST, TridentNet-Fast and the pointly-supervised panoptic model.
# The same file trains the fuser (``model``, ``train_dataloader``) and runs it (``scorer``, ``scorer_checkpoint``):
#
#   python tools/make_sim.py --out data/sim_fusion_val --frames 2000 --seed 2 --workers 2         # the tuning split
#   python tools/cache_detections.py --data-root data/sim_fusion_val --split trainval \
#       --out work_dirs/fusion/tune_dets.pt                                                      # once, ~7 min
#   python tools/train.py configs/fusion/fusion_clocs_sim.py --work-dir work_dirs/fusion_clocs_sim   # ~1 min
#
# It learns from the tuning split's cached SST 3D and TridentNet-Fast 2D detections: frames the detectors never
# trained on (on their own training frames both detectors are better than anywhere else, and the fuser would
# learn to trust them too much).
_base_ = ["../_base_/default_runtime.py", "./_base_/fusion_sim_models.py"]

# identity_classes: cross-fitted on the tuning split (tools/tune_fusion.py configs/fusion/fusion_clocs_sim.py --clocs
# --folds 4 --cache work_dirs/fusion/tune_dets.pt, 2,000 frames): on held-out quarters the learned correction helped
# 3D a little and hurt 2D in most quarters (worst-case gains averaged over the 4 quarters: Car -1.26,
# Pedestrian -1.36, Cyclist -0.12), so every class keeps SST's scores and the learned row differs from LiDAR-only
# only by the association (2D boxes, camera-only objects).  Set identity_classes=() to use the correction anyway.
# The training target is CLOCs' (the 3D box is a true positive). target="mean" (with 2D true positives) was tried in
# the fifth session: cross-fitted gains Car +0.13, Cyclist +0.19, but on both held-out splits the correction then
# did worse than SST's scores (docs/results.md), so the shipped fuser keeps the 3D target.
model = dict(type="ClocsFuser", class_names={{_base_.class_names}}, hidden=(32, 32),
             identity_classes=("Car", "Pedestrian", "Cyclist"))
scorer = model
scorer_checkpoint = "checkpoints/fusion_clocs_sim.pth"

train_dataloader = dict(
    batch_size=8, num_workers=0, persistent_workers=False,
    sampler=dict(type="DefaultSampler", shuffle=True),
    collate_fn=dict(type="pseudo_collate"),
    dataset=dict(type="FusionPairsDataset", cache_file="work_dirs/fusion/tune_dets.pt", lidar_model="sst",
                 camera_model="tridentnet_fast", class_names={{_base_.class_names}}, fusion={{_base_.fusion}}))

max_iters = 1000
train_cfg = dict(type="IterBasedTrainLoop", max_iters=max_iters, val_interval=max_iters + 1)
optim_wrapper = dict(type="OptimWrapper", optimizer=dict(type="AdamW", lr=3e-3, weight_decay=1e-4))
param_scheduler = [dict(type="CosineAnnealingLR", T_max=max_iters, by_epoch=False, eta_min=1e-5)]
default_hooks = dict(checkpoint=dict(interval=max_iters), logger=dict(interval=100))
