"""The LiDAR-to-camera extrinsic as a ``/tf_static`` transform (``tf2_msgs/TFMessage``).

ROS convention: a ``TransformStamped`` with ``header.frame_id = camera`` and ``child_frame_id = lidar`` is the
pose of the LiDAR frame in the camera frame, i.e. the map ``p_camera = R p_lidar + t``: exactly KITTI's
``Tr_velo_to_cam`` (to the unrectified camera frame).  Only a direct parent/child pair is looked up; the node
does not chain transforms.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .errors import MessageError
from .typestore import new_message

__all__ = ["lidar_to_camera_from_tf", "tf_message", "quaternion_to_matrix", "matrix_to_quaternion"]


def quaternion_to_matrix(x: float, y: float, z: float, w: float) -> np.ndarray:
    q = np.array([x, y, z, w], dtype=np.float64)
    norm = np.linalg.norm(q)
    if not np.isfinite(norm) or norm < 1e-9:
        raise MessageError(f"transform.rotation: expected a unit quaternion, got {q.tolist()}")
    x, y, z, w = q / norm
    return np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                     [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                     [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]])


def matrix_to_quaternion(R: np.ndarray) -> tuple[float, float, float, float]:
    """``(x, y, z, w)`` of a rotation matrix (Shepperd's method, numerically stable)."""
    R = np.asarray(R, dtype=np.float64)
    trace = np.trace(R)
    if trace > 0:
        s = 2 * np.sqrt(trace + 1)
        q = [(R[2, 1] - R[1, 2]) / s, (R[0, 2] - R[2, 0]) / s, (R[1, 0] - R[0, 1]) / s, s / 4]
    else:
        i = int(np.argmax(np.diag(R)))
        j, k = (i + 1) % 3, (i + 2) % 3
        s = 2 * np.sqrt(1 + R[i, i] - R[j, j] - R[k, k])
        q = [0.0, 0.0, 0.0, (R[k, j] - R[j, k]) / s]
        q[i], q[j], q[k] = s / 4, (R[j, i] + R[i, j]) / s, (R[k, i] + R[i, k]) / s
    return tuple(float(v) for v in q)


def lidar_to_camera_from_tf(msg: Any, *, camera_frame: str, lidar_frame: str) -> np.ndarray:
    """``(3, 4)`` transform LiDAR -> camera from a TFMessage.

    Raises:
        MessageError: no transform with parent ``camera_frame`` and child ``lidar_frame``.
    """
    for t in msg.transforms:
        if t.header.frame_id == camera_frame and t.child_frame_id == lidar_frame:
            r, p = t.transform.rotation, t.transform.translation
            return np.c_[quaternion_to_matrix(r.x, r.y, r.z, r.w), [p.x, p.y, p.z]]
    pairs = [(t.header.frame_id, t.child_frame_id) for t in msg.transforms]
    raise MessageError(f"TFMessage: no transform from {camera_frame!r} (parent) to {lidar_frame!r} (child); "
                       f"it holds {pairs}")


def tf_message(lidar_to_camera: np.ndarray, *, camera_frame: str, lidar_frame: str, header: Any) -> Any:
    """A TFMessage with the one transform ``camera_frame`` <- ``lidar_frame`` (``header.stamp`` is kept)."""
    m = np.asarray(lidar_to_camera, dtype=np.float64).reshape(3, 4)
    x, y, z, w = matrix_to_quaternion(m[:, :3])
    transform = new_message(
        "geometry_msgs/Transform",
        translation=new_message("geometry_msgs/Vector3", x=m[0, 3], y=m[1, 3], z=m[2, 3]),
        rotation=new_message("geometry_msgs/Quaternion", x=x, y=y, z=z, w=w))
    stamped = new_message("geometry_msgs/TransformStamped",
                          header=new_message("std_msgs/Header", stamp=header.stamp, frame_id=camera_frame),
                          child_frame_id=lidar_frame, transform=transform)
    return new_message("tf2_msgs/TFMessage", transforms=[stamped])
