"""High-level inference APIs."""
from .camera_inference import CameraDetector
from .lidar_inference import LidarInferencer, predictions_to_annotations

__all__ = ["CameraDetector", "LidarInferencer", "predictions_to_annotations"]
