"""Late fusion of LiDAR 3D detections, camera 2D detections and panoptic segments into
:class:`perception.structures.FusedDetections` (see :mod:`perception.fusion.late_fusion`)."""
from .association import Association, ProjectedBoxes, associate, pair_affinity, project_to_image, segment_boxes
from .candidates import FEATURES, Candidates, build_candidates
from .clocs_fuser import ClocsFuser
from .late_fusion import KITTI_CLASS_HEIGHTS, FusionInputs, LateFusion
from .rule_scorer import RuleScorer

__all__ = ["Association", "Candidates", "ClocsFuser", "FEATURES", "FusionInputs", "KITTI_CLASS_HEIGHTS", "LateFusion",
           "ProjectedBoxes", "RuleScorer", "associate", "build_candidates", "pair_affinity", "project_to_image",
           "segment_boxes"]
