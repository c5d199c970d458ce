"""Models: detectors, encoders, heads.  Importing registers them in ``perception.registry.MODELS``.

* LiDAR: :class:`LidarDetector` = :class:`DynamicVFE` -> a middle encoder (:class:`BEVScatter` for pillars,
  :class:`SSTMiddleEncoder` for SST, :class:`SparseEncoder` for the spconv baseline) -> :class:`BEVBackbone`
  -> :class:`BEVFPN` -> :class:`CenterHead`;
* camera: :mod:`perception.models.camera.trident` (TridentNet) and :mod:`perception.models.camera.panoptic`
  (pointly-supervised panoptic segmentation, and the camera model sharing one backbone).
"""
from .backbones.bev_backbone import BEVBackbone
from .camera import panoptic, trident  # noqa: F401  (registers the camera models)
from .data_preprocessor import Det3DDataPreprocessor
from .dense_heads.center_head import CenterHead
from .detectors.lidar_detector import LidarDetector
from .middle_encoders.bev_scatter import BEVScatter
from .middle_encoders.sparse_encoder import SparseEncoder
from .middle_encoders.sst_middle_encoder import SSTMiddleEncoder
from .necks.bev_fpn import BEVFPN
from .voxel_encoders.dynamic_vfe import DynamicVFE, VoxelFeatures

__all__ = ["BEVBackbone", "BEVFPN", "BEVScatter", "CenterHead", "Det3DDataPreprocessor", "DynamicVFE",
           "LidarDetector", "SSTMiddleEncoder", "SparseEncoder", "VoxelFeatures"]
