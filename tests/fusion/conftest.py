"""Hand-built scenes for the fusion tests: a KITTI-like camera and boxes whose projections are known.

Tests get the helpers through the ``scene`` fixture (``scene.lidar(...)``, ``scene.camera(...)``, ...).
"""
import types
import numpy as np
import pytest
import torch

from perception.fusion import project_to_image
from perception.structures import Boxes2D, Boxes3D, CoordFrame, Detections2D, KittiCalibration, ObjectAnnotations

IMAGE_SIZE = (375, 1242)  # (height, width)
CLASSES = ("Car", "Pedestrian", "Cyclist")
SIZES = {"Car": (3.9, 1.6, 1.53), "Pedestrian": (0.8, 0.6, 1.76), "Cyclist": (1.76, 0.6, 1.74)}


def make_calib() -> KittiCalibration:
    """KITTI camera 2 intrinsics; LiDAR at the camera (x forward = camera z, y left = -camera x, z up = -camera y)."""
    p2 = np.array([[721.5377, 0.0, 609.5593, 0.0], [0.0, 721.5377, 172.854, 0.0], [0.0, 0.0, 1.0, 0.0]])
    velo_to_cam = np.array([[0.0, -1.0, 0.0, 0.0], [0.0, 0.0, -1.0, 0.0], [1.0, 0.0, 0.0, 0.0]])
    return KittiCalibration(P=np.stack([p2] * 4), R0_rect=np.eye(3), Tr_velo_to_cam=velo_to_cam)


def lidar_objects(rows, scores) -> ObjectAnnotations:
    """``rows``: ``(name, x, y)`` LiDAR-frame ground positions (box bottom at z = -1.7); typical class sizes."""
    boxes = [[x, y, -1.7 + SIZES[n][2] / 2, *SIZES[n], 0.0] for n, x, y in rows]
    n = len(rows)
    return ObjectAnnotations(names=[r[0] for r in rows], boxes3d=Boxes3D(torch.tensor(boxes).reshape(n, 7),
                             frame=CoordFrame.LIDAR), boxes2d=Boxes2D(torch.zeros(n, 4)), truncated=torch.zeros(n),
                             occluded=torch.zeros(n, dtype=torch.long), alpha=torch.zeros(n),
                             scores=torch.tensor(scores, dtype=torch.float32))


def camera_detections(boxes, names, scores) -> Detections2D:
    return Detections2D(boxes=Boxes2D(torch.as_tensor(boxes, dtype=torch.float32).reshape(-1, 4)),
                        scores=torch.tensor(scores, dtype=torch.float32), names=list(names))


def projections(objects: ObjectAnnotations, calib: KittiCalibration) -> torch.Tensor:
    proj = project_to_image(objects.boxes3d, calib, IMAGE_SIZE)
    assert proj.in_image.all()
    return proj.boxes


@pytest.fixture
def calib() -> KittiCalibration:
    return make_calib()


@pytest.fixture
def scene():
    return types.SimpleNamespace(image_size=IMAGE_SIZE, classes=CLASSES, calib=make_calib(), lidar=lidar_objects,
                                 camera=camera_detections, projections=projections)
