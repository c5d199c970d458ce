"""Thin wrapper over :class:`open3d.t.geometry.RaycastingScene` (ray casting on the CPU).

The BVH is always built single-threaded, so the first hit of every ray is the
same however many threads cast the rays (results are byte-identical across
runs and worker counts).
"""
from __future__ import annotations

import dataclasses

import numpy as np

__all__ = ["Raycaster", "Hits"]


@dataclasses.dataclass
class Hits:
    """First hits of ``N`` rays: ``t`` (inf for a miss), ``tri`` (-1 for a miss), unit ``normal`` (N, 3)."""

    t: np.ndarray
    tri: np.ndarray
    normal: np.ndarray

    @property
    def hit(self) -> np.ndarray:
        return self.tri >= 0


class Raycaster:
    """Ray casting against one triangle mesh."""

    def __init__(self, vertices: np.ndarray, triangles: np.ndarray, nthreads: int = 0):
        import open3d as o3d

        self._o3d = o3d
        self.nthreads = int(nthreads)
        self.scene = o3d.t.geometry.RaycastingScene(nthreads=1)
        self.scene.add_triangles(o3d.core.Tensor(np.ascontiguousarray(vertices, dtype=np.float32)),
                                 o3d.core.Tensor(np.ascontiguousarray(triangles, dtype=np.uint32)))

    def _rays(self, origins: np.ndarray, directions: np.ndarray):
        origins = np.broadcast_to(np.asarray(origins, np.float32), directions.shape)
        rays = np.concatenate([origins, np.asarray(directions, np.float32)], axis=1)
        return self._o3d.core.Tensor(np.ascontiguousarray(rays))

    def cast(self, origins: np.ndarray, directions: np.ndarray) -> Hits:
        """First hits of rays ``origins + t * directions`` (``t`` in units of ``|direction|``)."""
        if len(directions) == 0:
            return Hits(np.zeros(0, np.float32), np.zeros(0, np.int64), np.zeros((0, 3), np.float32))
        out = self.scene.cast_rays(self._rays(origins, directions), nthreads=self.nthreads)
        t = out["t_hit"].numpy()
        hit = np.isfinite(t)
        tri = np.where(hit, out["primitive_ids"].numpy().astype(np.int64), -1)
        return Hits(t, tri, out["primitive_normals"].numpy())

    def occluded(self, origins: np.ndarray, directions: np.ndarray, tnear: float = 0.0,
                 tfar: float = float("inf")) -> np.ndarray:
        """``(N,)`` bool: the ray segment ``[tnear, tfar]`` hits something."""
        if len(directions) == 0:
            return np.zeros(0, dtype=bool)
        out = self.scene.test_occlusions(self._rays(origins, directions), tnear=tnear, tfar=tfar,
                                         nthreads=self.nthreads)
        return out.numpy().astype(bool)
