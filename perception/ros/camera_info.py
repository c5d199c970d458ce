"""``sensor_msgs/CameraInfo`` + the LiDAR-to-camera extrinsic -> :class:`KittiCalibration`.

A CameraInfo carries the intrinsics of one camera: ``P`` (3 x 4, rectified camera frame -> pixels) and ``R``
(3 x 3, rectifying rotation).  The models project with KITTI conventions, so the node builds a
:class:`KittiCalibration` whose camera 2 (the one the models use) is this camera: ``P[2] = CameraInfo.P``
(the other three slots hold the same matrix; nothing reads them), ``R0_rect = CameraInfo.R`` (identity when
the driver leaves it all zero) and ``Tr_velo_to_cam`` = the extrinsic, a rigid transform from the point
cloud's frame to the unrectified camera frame, which CameraInfo does not carry: it is the node's
``lidar_to_camera`` parameter (or the ``Tr_velo_to_cam`` of a KITTI calibration file).
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from perception.structures import KittiCalibration
from perception.structures.calibration import CalibrationError

from .errors import MessageError
from .typestore import new_message

__all__ = ["calibration_from_camera_info", "camera_info_matrix", "camera_info_from_calibration", "parse_lidar_to_camera"]


def parse_lidar_to_camera(value: Sequence[float] | np.ndarray, where: str = "lidar_to_camera") -> np.ndarray:
    """``(3, 4)`` float64 from 12 (row-major 3 x 4) or 16 (4 x 4 with last row ``0 0 0 1``) numbers."""
    m = np.asarray(value, dtype=np.float64).reshape(-1)
    if m.size == 16:
        if not np.allclose(m[12:], [0, 0, 0, 1]):
            raise ValueError(f"{where}: a 4 x 4 transform must end with the row 0 0 0 1, got {m[12:].tolist()}")
        m = m[:12]
    if m.size != 12:
        raise ValueError(f"{where}: expected 12 (3 x 4 row-major) or 16 (4 x 4) numbers, got {m.size}")
    if not np.isfinite(m).all():
        raise ValueError(f"{where}: contains non-finite values")
    m = m.reshape(3, 4)
    if not np.allclose(m[:, :3] @ m[:, :3].T, np.eye(3), atol=1e-4):
        raise ValueError(f"{where}: the 3 x 3 part is not a rotation")
    return m


def camera_info_matrix(msg: Any, name: str) -> np.ndarray:
    """Field ``name`` (``K``, ``R``, ``P``, ``D``) of a CameraInfo as flat float64: ROS 1 spells them in upper
    case, ROS 2 in lower case."""
    value = getattr(msg, name) if hasattr(msg, name) else getattr(msg, name.lower(), None)
    if value is None:
        raise MessageError(f"CameraInfo: no field {name!r} (or {name.lower()!r})")
    return np.asarray(value, dtype=np.float64).reshape(-1)


def calibration_from_camera_info(msg: Any, lidar_to_camera: np.ndarray) -> KittiCalibration:
    """The KITTI calibration of ``msg`` (a CameraInfo) with the ``(3, 4)`` extrinsic ``lidar_to_camera``.

    Raises:
        MessageError: ``P`` all zero (an uncalibrated camera), ``P``/``R`` of the wrong size or not finite.
    """
    P = camera_info_matrix(msg, "P")
    R = camera_info_matrix(msg, "R")
    if P.size != 12 or R.size != 9:
        raise MessageError(f"CameraInfo: P must hold 12 numbers and R 9, got {P.size} and {R.size}")
    if not (np.isfinite(P).all() and np.isfinite(R).all()):
        raise MessageError("CameraInfo.P/R: contain non-finite values")
    if not P.any():
        raise MessageError("CameraInfo.P: all zero (uncalibrated camera); expected the 3 x 4 projection matrix")
    R0 = R.reshape(3, 3) if R.any() else np.eye(3)
    try:
        return KittiCalibration(P=np.repeat(P.reshape(1, 3, 4), 4, axis=0), R0_rect=R0,
                                Tr_velo_to_cam=lidar_to_camera)
    except CalibrationError as err:
        raise MessageError(f"CameraInfo: {err}") from err


def camera_info_from_calibration(calib: KittiCalibration, *, width: int, height: int, header: Any) -> Any:
    """A CameraInfo of camera 2 of ``calib`` (``plumb_bob`` with zero distortion, as KITTI's rectified images)."""
    P = calib.P[2]
    return new_message("sensor_msgs/CameraInfo", header=header, height=int(height), width=int(width),
                       distortion_model="plumb_bob", D=np.zeros(5), K=P[:, :3].reshape(-1).copy(),
                       R=calib.R0_rect.reshape(-1).copy(), P=P.reshape(-1).copy())
