"""High-level inference APIs."""
from .camera_inference import CameraDetector
from .fusion_inference import FusionDetector
from .lidar_inference import LidarInferencer, predictions_to_annotations

__all__ = ["CameraDetector", "FusionDetector", "LidarInferencer", "predictions_to_annotations"]
