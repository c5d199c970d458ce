"""KITTI calibration: camera projections and the LiDAR <-> camera transform.

Frames are those of :mod:`perception.structures.frames`.  Point methods take
``(N, 3)`` torch tensors or numpy arrays and return the same type and dtype;
internally everything is float64.
"""
from __future__ import annotations

import dataclasses
import os
from typing import Optional, Union

import numpy as np
import torch

__all__ = ["KittiCalibration", "CalibrationError", "clip_segment_to_near_plane"]

ArrayLike = Union[torch.Tensor, np.ndarray]

# Field name -> shape, in file order.  Tr_imu_to_velo is optional (only raw KITTI has it).
_FIELDS = {"P0": (3, 4), "P1": (3, 4), "P2": (3, 4), "P3": (3, 4),
           "R0_rect": (3, 3), "Tr_velo_to_cam": (3, 4), "Tr_imu_to_velo": (3, 4)}
_REQUIRED = ("P0", "P1", "P2", "P3", "R0_rect", "Tr_velo_to_cam")


def clip_segment_to_near_plane(p: np.ndarray, q: np.ndarray, near: float
                               ) -> Optional[tuple[np.ndarray, np.ndarray]]:
    """The part of the camera-frame segment ``p -> q`` (``(3,)`` each, metres) with ``z >= near``.

    An endpoint behind the plane is moved along the segment onto it; ``None`` when both endpoints are behind.
    Clip before projecting: a point behind the camera would project to the wrong side of the image.
    """
    if p[2] < near and q[2] < near:
        return None
    if p[2] < near:
        p = p + (q - p) * (near - p[2]) / (q[2] - p[2])
    elif q[2] < near:
        q = q + (p - q) * (near - q[2]) / (p[2] - q[2])
    return p, q


class CalibrationError(ValueError):
    """A calibration file or value is malformed; the message names file, line and field."""


def _to_tensor(x: ArrayLike) -> tuple[torch.Tensor, bool, torch.dtype | np.dtype]:
    if isinstance(x, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float64)), True, x.dtype
    if isinstance(x, torch.Tensor):
        return x.to(torch.float64), False, x.dtype
    raise TypeError(f"expected a torch.Tensor or numpy array, got {type(x).__name__}")


def _back(x: torch.Tensor, was_numpy: bool, dtype) -> ArrayLike:
    if was_numpy:
        out = x.numpy()
        return out.astype(dtype if np.issubdtype(dtype, np.floating) else np.float64, copy=False)
    return x.to(dtype if dtype.is_floating_point else torch.float64)


def _check_points(x: torch.Tensor, dim: int, what: str) -> None:
    if x.dim() != 2 or x.shape[1] < dim:
        raise ValueError(f"{what} must be (N, {dim}), got shape {tuple(x.shape)}")


@dataclasses.dataclass(frozen=True)
class KittiCalibration:
    """The matrices of a KITTI ``calib/*.txt`` file (float64 numpy).

    Attributes:
        P: ``(4, 3, 4)`` projection matrices of cameras 0-3, rectified camera
            frame to image pixels (homogeneous).
        R0_rect: ``(3, 3)`` rectifying rotation of camera 0.
        Tr_velo_to_cam: ``(3, 4)`` rigid transform LiDAR -> (unrectified) camera 0.
        Tr_imu_to_velo: ``(3, 4)`` rigid transform IMU -> LiDAR, or ``None``.
    """

    P: np.ndarray
    R0_rect: np.ndarray
    Tr_velo_to_cam: np.ndarray
    Tr_imu_to_velo: np.ndarray | None = None

    def __post_init__(self):
        for name, shape in (("P", (4, 3, 4)), ("R0_rect", (3, 3)), ("Tr_velo_to_cam", (3, 4))):
            value = np.asarray(getattr(self, name), dtype=np.float64)
            if value.shape != shape:
                raise CalibrationError(f"{name} must have shape {shape}, got {value.shape}")
            if not np.isfinite(value).all():
                raise CalibrationError(f"{name} contains non-finite values")
            object.__setattr__(self, name, value)
        if self.Tr_imu_to_velo is not None:
            object.__setattr__(self, "Tr_imu_to_velo", np.asarray(self.Tr_imu_to_velo, np.float64).reshape(3, 4))

    # ------------------------------------------------------------------ file IO
    @classmethod
    def from_file(cls, path: str | os.PathLike) -> "KittiCalibration":
        """Parse a KITTI calibration file; errors name the file, line and field."""
        path = os.fspath(path)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{path}: calibration file not found")
        values: dict[str, np.ndarray] = {}
        with open(path, encoding="utf-8") as f:
            for lineno, line in enumerate(f, start=1):
                line = line.strip()
                if not line:
                    continue
                if ":" not in line:
                    raise CalibrationError(f"{path}:{lineno}: expected 'NAME: v1 v2 ...', got {line[:60]!r}")
                name, rest = line.split(":", 1)
                name = name.strip()
                if name == "R_rect":  # the raw-data spelling
                    name = "R0_rect"
                if name not in _FIELDS:
                    continue  # tolerate extra fields (e.g. raw KITTI's S_xx, K_xx)
                shape = _FIELDS[name]
                try:
                    numbers = np.array([float(v) for v in rest.split()], dtype=np.float64)
                except ValueError as exc:
                    raise CalibrationError(f"{path}:{lineno}: field {name}: non-numeric value ({exc})") from None
                if numbers.size != shape[0] * shape[1]:
                    raise CalibrationError(
                        f"{path}:{lineno}: field {name}: expected {shape[0] * shape[1]} numbers "
                        f"(a {shape[0]}x{shape[1]} matrix), got {numbers.size}")
                if not np.isfinite(numbers).all():
                    raise CalibrationError(f"{path}:{lineno}: field {name}: non-finite value")
                values[name] = numbers.reshape(shape)
        missing = [name for name in _REQUIRED if name not in values]
        if missing:
            raise CalibrationError(f"{path}: missing field(s) {', '.join(missing)} "
                                   f"(a KITTI calib file has lines 'P0:' .. 'P3:', 'R0_rect:', 'Tr_velo_to_cam:')")
        return cls(P=np.stack([values[f"P{i}"] for i in range(4)]), R0_rect=values["R0_rect"],
                   Tr_velo_to_cam=values["Tr_velo_to_cam"], Tr_imu_to_velo=values.get("Tr_imu_to_velo"))

    def to_text(self) -> str:
        """The calibration in KITTI file format."""
        def fmt(m: np.ndarray) -> str:
            return " ".join(f"{v:.12e}" for v in m.reshape(-1))
        lines = [f"P{i}: {fmt(self.P[i])}" for i in range(4)]
        lines.append(f"R0_rect: {fmt(self.R0_rect)}")
        lines.append(f"Tr_velo_to_cam: {fmt(self.Tr_velo_to_cam)}")
        if self.Tr_imu_to_velo is not None:
            lines.append(f"Tr_imu_to_velo: {fmt(self.Tr_imu_to_velo)}")
        return "\n".join(lines) + "\n"

    # --------------------------------------------------------------- matrices
    @property
    def P2(self) -> np.ndarray:
        return self.P[2]

    @property
    def lidar_to_camera_matrix(self) -> np.ndarray:
        """``(4, 4)`` homogeneous LiDAR -> rectified camera transform (R0_rect @ Tr_velo_to_cam)."""
        r0 = np.eye(4)
        r0[:3, :3] = self.R0_rect
        tr = np.eye(4)
        tr[:3, :4] = self.Tr_velo_to_cam
        return r0 @ tr

    @property
    def camera_to_lidar_matrix(self) -> np.ndarray:
        return np.linalg.inv(self.lidar_to_camera_matrix)

    def intrinsics(self, camera: int = 2) -> np.ndarray:
        """``(3, 3)`` intrinsic matrix of ``camera`` (left 3x3 of its P)."""
        return self.P[camera][:, :3].copy()

    # ---------------------------------------------------------------- points
    def _transform(self, points: ArrayLike, matrix: np.ndarray, what: str) -> ArrayLike:
        x, was_np, dtype = _to_tensor(points)
        _check_points(x, 3, what)
        m = torch.as_tensor(matrix, dtype=torch.float64, device=x.device)
        out = x[:, :3] @ m[:3, :3].T + m[:3, 3]
        return _back(out, was_np, dtype)

    def lidar_to_camera(self, points: ArrayLike) -> ArrayLike:
        """``(N, 3)`` LiDAR points -> rectified camera frame."""
        return self._transform(points, self.lidar_to_camera_matrix, "lidar points")

    def camera_to_lidar(self, points: ArrayLike) -> ArrayLike:
        """``(N, 3)`` rectified camera points -> LiDAR frame."""
        return self._transform(points, self.camera_to_lidar_matrix, "camera points")

    def camera_to_image(self, points: ArrayLike, camera: int = 2) -> tuple[ArrayLike, ArrayLike]:
        """Project ``(N, 3)`` rectified camera points with ``P<camera>``.

        Returns:
            uv: ``(N, 2)`` pixel coordinates (meaningless where depth <= 0),
            depth: ``(N,)`` homogeneous depth ``w`` (the point's distance in
            front of camera ``camera``); points behind have ``depth <= 0``.
        """
        x, was_np, dtype = _to_tensor(points)
        _check_points(x, 3, "camera points")
        p = torch.as_tensor(self.P[camera], dtype=torch.float64, device=x.device)
        h = x[:, :3] @ p[:, :3].T + p[:, 3]
        depth = h[:, 2]
        safe = torch.where(depth.abs() > 1e-9, depth, torch.full_like(depth, 1e-9))
        uv = h[:, :2] / safe[:, None]
        return _back(uv, was_np, dtype), _back(depth, was_np, dtype)

    def lidar_to_image(self, points: ArrayLike, camera: int = 2) -> tuple[ArrayLike, ArrayLike]:
        """``(N, 3)`` LiDAR points -> ``(uv (N, 2), depth (N,))``, see :meth:`camera_to_image`."""
        return self.camera_to_image(self.lidar_to_camera(points), camera)

    def image_to_camera(self, uv: ArrayLike, depth: ArrayLike, camera: int = 2) -> ArrayLike:
        """Back-project pixels to the rectified camera frame.

        Args:
            uv: ``(N, 2)`` pixel coordinates.
            depth: ``(N,)`` rectified-camera ``z`` of each point.
        Returns:
            ``(N, 3)`` points whose projection with ``P<camera>`` is ``uv``.
        """
        u, was_np, dtype = _to_tensor(uv)
        z, _, _ = _to_tensor(depth)
        _check_points(u, 2, "uv")
        p = torch.as_tensor(self.P[camera], dtype=torch.float64, device=u.device)
        n = u.shape[0]
        a = torch.zeros(n, 3, 3, dtype=torch.float64, device=u.device)
        a[:, :, 0] = p[:, 0]
        a[:, :, 1] = p[:, 1]
        a[:, 0, 2], a[:, 1, 2], a[:, 2, 2] = -u[:, 0], -u[:, 1], -1.0
        rhs = -(p[:, 2][None, :] * z.reshape(-1, 1) + p[:, 3][None, :])
        xyw = torch.linalg.solve(a, rhs[..., None])[..., 0] if n else u.new_zeros(0, 3)
        out = torch.stack([xyw[:, 0], xyw[:, 1], z.reshape(-1)], dim=1)
        return _back(out, was_np, dtype)

    def image_to_lidar(self, uv: ArrayLike, depth: ArrayLike, camera: int = 2) -> ArrayLike:
        return self.camera_to_lidar(self.image_to_camera(uv, depth, camera))
