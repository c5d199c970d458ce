"""The spinning LiDAR: KITTI's Velodyne HDL-64E, simulated by ray casting.

Geometry (HDL-64E S2 as mounted on KITTI's car):

* 64 lasers in two blocks: the upper block's 32 lasers span +2.0 to -8.33 deg
  (1/3 deg apart), the lower block's 32 span -8.83 to -24.8 deg (~0.52 deg
  apart) - the non-uniform vertical spacing seen in KITTI scans;
* 360 deg of azimuth; the default step 0.1728 deg (2083 firings per laser per
  turn) is the real sensor at 10 Hz, whose ~1.3 M firings/s give 133 k
  firings per turn and ~100-130 k returns.  The spec sheet's 0.08-0.09 deg is
  the 5 Hz figure; set ``SimConfig.azimuth_step_deg=0.0864`` to simulate it;
* mounted ``lidar_height`` (1.73 m) above the road, origin of the LiDAR frame.

Returns: first hit within ``max_range``; Gaussian range noise; random dropout
(more at long range, on dark surfaces and through glass); intensity from the
material's reflectivity (retro-reflective plates and lane paint are bright),
the incidence angle and the range, in KITTI's ``[0, 1]`` scale.
"""
from __future__ import annotations

import dataclasses
import functools

import numpy as np

from . import materials as M
from .config import SimConfig
from .raycast import Raycaster
from .scene import Scene

__all__ = ["hdl64_elevations", "beam_elevations", "lidar_directions", "LidarScan", "simulate_lidar"]


def hdl64_elevations() -> np.ndarray:
    """``(64,)`` laser elevations in degrees, top to bottom (upper block then lower block)."""
    upper = np.linspace(2.0, -8.33, 32)
    lower = np.linspace(-8.83, -24.8, 32)
    return np.concatenate([upper, lower])


def beam_elevations(num_beams: int) -> np.ndarray:
    """Elevations of ``num_beams`` lasers: all 64, or evenly spread ones of the HDL-64E table."""
    table = hdl64_elevations()
    if num_beams == 64:
        return table
    idx = np.round(np.linspace(0, 63, num_beams)).astype(int)
    return table[idx]


@functools.lru_cache(maxsize=8)
def _directions(num_beams: int, azimuth_step_deg: float) -> np.ndarray:
    elev = np.radians(beam_elevations(num_beams))
    n_az = int(round(360.0 / azimuth_step_deg))
    # start behind the car and turn counter-clockwise seen from above, like the sensor's scan order
    az = np.radians(-180.0 + np.arange(n_az) * (360.0 / n_az))
    ce, se = np.cos(elev)[:, None], np.sin(elev)[:, None]
    d = np.stack([ce * np.cos(az)[None], ce * np.sin(az)[None], np.broadcast_to(se, (len(elev), n_az))], axis=-1)
    d = d.reshape(-1, 3).astype(np.float32)
    d.setflags(write=False)
    return d


def lidar_directions(config: SimConfig) -> np.ndarray:
    """``(num_beams * n_azimuth, 3)`` unit ray directions, laser-major."""
    return _directions(config.num_beams, float(config.azimuth_step_deg))


@dataclasses.dataclass
class LidarScan:
    """One LiDAR sweep.

    Attributes:
        points: ``(P, 4)`` float32 ``[x, y, z, intensity]`` in the LiDAR frame.
        instance: ``(P,)`` int32 thing instance hit by each return (0 for stuff).
        category: ``(P,)`` uint8 category id of each return.
        num_rays: rays fired.
    """

    points: np.ndarray
    instance: np.ndarray
    category: np.ndarray
    num_rays: int


def simulate_lidar(scene: Scene, caster: Raycaster, config: SimConfig, rng: np.random.Generator) -> LidarScan:
    dirs = lidar_directions(config)
    hits = caster.cast(np.zeros(3, np.float32), dirs)
    keep = hits.hit & (hits.t <= config.max_range) & (hits.t > 0.9)
    idx = np.flatnonzero(keep)
    tri = hits.tri[idx]
    r = hits.t[idx].astype(np.float64)
    d = dirs[idx].astype(np.float64)
    mat = scene.tri_material[tri]
    refl = M.REFLECTIVITY[mat].astype(np.float64)
    road = mat == M.ASPHALT
    if road.any():
        hit_pts = d[road] * r[road, None]
        paint = scene.marking_mask(hit_pts)
        refl_road = refl[road]
        refl_road[paint] = M.LANE_MARKING_REFLECTIVITY
        refl[road] = refl_road
    cos_inc = np.abs(np.einsum("ij,ij->i", d, hits.normal[idx].astype(np.float64)))
    rel = r / config.max_range
    intensity = refl * (0.45 + 0.75 * cos_inc) * (1.0 - 0.3 * rel)
    intensity = np.clip(intensity + rng.normal(0.0, 0.02, size=len(idx)), 0.0, 0.99)
    # dropout: base rate, weak far returns, transmission through glass
    p_drop = config.dropout + 0.25 * rel ** 2 + 0.5 * np.clip(0.08 - intensity, 0, None) / 0.08 * rel \
        + M.TRANSMISSION[mat]
    survive = rng.random(len(idx)) >= p_drop
    r_noisy = r + rng.normal(0.0, config.range_noise_std, size=len(idx))
    xyz = d * r_noisy[:, None]
    points = np.column_stack([xyz, intensity]).astype(np.float32)[survive]
    return LidarScan(points=points, instance=scene.tri_instance[tri][survive].astype(np.int32),
                     category=scene.tri_category[tri][survive], num_rays=len(dirs))
