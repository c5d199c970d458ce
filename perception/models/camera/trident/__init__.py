"""TridentNet 2D detector (Li et al., "Scale-Aware Trident Networks for Object Detection", ICCV 2019).

Parts (one concept per module), registered in :mod:`perception.registry`:

* :class:`TridentConv2d`        one conv weight, a dilation per branch (``trident_conv``);
* :class:`TridentStageResNet`   mmdet ResNet whose last (or chosen) stage is a weight-shared trident stage
                                (``MODELS``);
* :class:`ScaleRange`           a branch's valid box-scale range ``sqrt(w h)`` in input pixels;
* :class:`ScaleAwareAssigner`   scale-aware training for any assigner: out-of-range objects get no positive
                                anchor (RPN) or proposal (R-CNN) in a branch, they are ignored (``TASK_UTILS``);
* :func:`merge_branch_detections`  test-time range filter + class-wise NMS across branches;
* :class:`TridentRCNN`          the detector: Faster R-CNN (C4) over the branches, TridentNet-Fast via
                                ``test_branch_idx`` (``MODELS``).

Configs: ``configs/tridentnet/``.  To run a detection head next to another head on one backbone pass, use
``TridentRCNN.extract_feat`` + ``predict_from_feat`` / ``loss_from_feat`` (see :class:`TridentRCNN`).
"""
from .branch_merge import merge_branch_detections
from .scale_aware_assigner import ScaleAwareAssigner, ScaleAwareAssignResult
from .scale_range import ScaleRange, box_scale, parse_scale_ranges
from .trident_conv import TridentConv2d
from .trident_rcnn import TridentRCNN
from .trident_resnet import TridentStageResNet

__all__ = ["ScaleAwareAssignResult", "ScaleAwareAssigner", "ScaleRange", "TridentConv2d", "TridentRCNN",
           "TridentStageResNet", "box_scale", "merge_branch_detections", "parse_scale_ranges"]
