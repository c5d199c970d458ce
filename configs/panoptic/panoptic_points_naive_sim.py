# The naive baseline: the same model and schedule as panoptic_points_sim.py trained on the points alone, without
# pseudo masks (semantic loss on the labelled pixels only, centre heatmap from the thing points, offsets only at
# the points).
#   python tools/train.py configs/panoptic/panoptic_points_naive_sim.py
_base_ = ["./panoptic_points_sim.py"]

model = dict(panoptic_head=dict(supervision="points_naive"))
