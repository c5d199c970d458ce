"""The simulated car's calibration: the real KITTI matrices, intrinsics scaled to the image size."""
from __future__ import annotations

import numpy as np

from perception.structures import KittiCalibration

from .config import KITTI_IMAGE_SIZE

__all__ = ["kitti_calibration", "camera_rays"]

# A real KITTI object-detection calibration (recording day 2011_09_26, images 1242x375); the same
# structure as any KITTI ``calib/*.txt``.  Camera 2 (left colour) renders the simulated image.
_P = np.array([
    [[7.070493e02, 0.0, 6.040814e02, 0.0], [0.0, 7.070493e02, 1.805066e02, 0.0], [0.0, 0.0, 1.0, 0.0]],
    [[7.070493e02, 0.0, 6.040814e02, -3.797842e02], [0.0, 7.070493e02, 1.805066e02, 0.0], [0.0, 0.0, 1.0, 0.0]],
    [[7.070493e02, 0.0, 6.040814e02, 4.575831e01], [0.0, 7.070493e02, 1.805066e02, -3.454157e-01],
     [0.0, 0.0, 1.0, 4.981016e-03]],
    [[7.070493e02, 0.0, 6.040814e02, -3.341081e02], [0.0, 7.070493e02, 1.805066e02, 2.330660e00],
     [0.0, 0.0, 1.0, 3.201153e-03]],
])
_R0_RECT = np.array([
    [9.999128e-01, 1.009263e-02, -8.511932e-03],
    [-1.012729e-02, 9.999406e-01, -4.037671e-03],
    [8.470675e-03, 4.123522e-03, 9.999556e-01]])
_TR_VELO_TO_CAM = np.array([
    [6.927964e-03, -9.999722e-01, -2.757829e-03, -2.457729e-02],
    [-1.162982e-03, 2.749836e-03, -9.999955e-01, -6.127237e-02],
    [9.999753e-01, 6.931141e-03, -1.143899e-03, -3.321029e-01]])
_TR_IMU_TO_VELO = np.array([
    [9.999976e-01, 7.553071e-04, -2.035826e-03, -8.086759e-01],
    [-7.854027e-04, 9.998898e-01, -1.482298e-02, 3.195559e-01],
    [2.024406e-03, 1.482454e-02, 9.998881e-01, -7.997231e-01]])


def kitti_calibration(image_width: int = KITTI_IMAGE_SIZE[0], image_height: int = KITTI_IMAGE_SIZE[1]
                      ) -> KittiCalibration:
    """KITTI calibration for an image of ``image_width x image_height``.

    At 1242x375 these are the real matrices.  Other sizes scale the first two
    rows of every ``P`` (focal lengths, principal point and the ``fx * b``
    baseline terms) by ``width / 1242`` and ``height / 375``, i.e. the same
    camera with a resized sensor; the rigid transforms are unchanged.
    """
    sx = image_width / KITTI_IMAGE_SIZE[0]
    sy = image_height / KITTI_IMAGE_SIZE[1]
    p = _P.copy()
    p[:, 0, :] *= sx
    p[:, 1, :] *= sy
    return KittiCalibration(P=p, R0_rect=_R0_RECT.copy(), Tr_velo_to_cam=_TR_VELO_TO_CAM.copy(),
                            Tr_imu_to_velo=_TR_IMU_TO_VELO.copy())


def camera_center_lidar(calib: KittiCalibration, camera: int = 2) -> np.ndarray:
    """Optical centre of camera ``camera`` in the LiDAR frame, ``(3,)``."""
    p = calib.P[camera]
    center_rect = -np.linalg.solve(p[:, :3], p[:, 3])
    m = calib.camera_to_lidar_matrix
    return m[:3, :3] @ center_rect + m[:3, 3]


def camera_rays(calib: KittiCalibration, u: np.ndarray, v: np.ndarray, camera: int = 2
                ) -> tuple[np.ndarray, np.ndarray]:
    """Rays through continuous pixel coordinates ``(u, v)`` (pixel ``i`` spans ``[i, i + 1)``).

    Returns:
        origin ``(3,)`` and unit directions ``(N, 3)``, both in the LiDAR frame.
        A point ``origin + t * dir`` projects with ``P<camera>`` to ``(u, v)``.
    """
    p = calib.P[camera]
    kinv = np.linalg.inv(p[:, :3])
    pix = np.stack([np.asarray(u, np.float64).ravel(), np.asarray(v, np.float64).ravel(),
                    np.ones(np.size(u))], axis=0)
    d_rect = (kinv @ pix).T
    rot = calib.camera_to_lidar_matrix[:3, :3]
    d = d_rect @ rot.T
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    return camera_center_lidar(calib, camera), d
