"""Models: detectors, encoders, heads.  Importing registers them in ``perception.registry.MODELS``."""
from .backbones.bev_backbone import BEVBackbone
from .data_preprocessor import Det3DDataPreprocessor
from .dense_heads.center_head import CenterHead
from .detectors.lidar_detector import LidarDetector
from .middle_encoders.bev_scatter import BEVScatter
from .necks.bev_fpn import BEVFPN
from .voxel_encoders.dynamic_vfe import DynamicVFE, VoxelFeatures

__all__ = ["BEVBackbone", "BEVFPN", "BEVScatter", "CenterHead", "Det3DDataPreprocessor", "DynamicVFE",
           "LidarDetector", "VoxelFeatures"]
