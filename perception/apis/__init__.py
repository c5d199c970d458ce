"""High-level inference APIs."""
from .lidar_inference import LidarInferencer, predictions_to_annotations

__all__ = ["LidarInferencer", "predictions_to_annotations"]
