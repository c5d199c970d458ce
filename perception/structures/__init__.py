"""Typed containers for the stack: boxes with frames, calibration, frames.

Conventions (axes, box origin, yaw) are stated once in
:mod:`perception.structures.frames`.
"""
from .box_iou import (bev_intersection_area, box_iou_2d, box_iou_3d, box_iou_3d_aligned, box_iou_bev,
                      box_iou_bev_aligned, polygon_intersection_area)
from .boxes2d import Boxes2D
from .boxes3d import Boxes3D
from .calibration import CalibrationError, KittiCalibration, clip_segment_to_near_plane
from .detections2d import Detections2D
from .frame import Frame, ObjectAnnotations
from .fused_detections import FusedDetections, Sensor
from .frames import CoordFrame, wrap_angle
from .panoptic_result import PanopticResult, PanopticSegment

__all__ = [
    "Boxes2D", "Boxes3D", "CalibrationError", "CoordFrame", "Detections2D", "Frame", "FusedDetections",
    "KittiCalibration", "ObjectAnnotations", "PanopticResult", "PanopticSegment", "Sensor",
    "bev_intersection_area", "box_iou_2d", "box_iou_3d", "box_iou_3d_aligned", "box_iou_bev",
    "box_iou_bev_aligned", "clip_segment_to_near_plane", "polygon_intersection_area", "wrap_angle",
]
