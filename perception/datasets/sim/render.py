"""Camera rendering: one ray per pixel, procedural textures, Lambert + ambient shading, sun shadows.

The image is rendered through camera 2 of the calibration (rays from its
optical centre through pixel centres), so the image, the labels' 3D boxes and
the LiDAR agree exactly.  Besides the RGB image it returns the category and
instance of the surface seen at every pixel (the panoptic ground truth).
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np

from perception.structures import KittiCalibration

from . import categories as C
from . import materials as M
from .calib import camera_rays
from .config import SimConfig
from .raycast import Raycaster
from .scene import Scene

__all__ = ["Lighting", "CameraRender", "sample_lighting", "pixel_rays", "render_camera", "value_noise"]


@dataclasses.dataclass
class Lighting:
    """Sun and sky of a frame (LiDAR frame directions)."""

    sun_dir: np.ndarray  # unit vector toward the sun
    sun: float  # direct light strength
    ambient: float  # sky light strength
    overcast: float  # 0 clear .. 1 grey sky
    cloud_cover: float
    exposure: float
    haze: float  # metres: 1/e distance of the aerial perspective


def sample_lighting(rng: np.random.Generator) -> Lighting:
    elev = math.radians(rng.uniform(18, 62))
    azim = rng.uniform(-math.pi, math.pi)
    overcast = float(rng.random() < 0.2) * rng.uniform(0.6, 1.0)
    sun = (1.0 - 0.75 * overcast) * rng.uniform(0.8, 1.0)
    return Lighting(sun_dir=np.array([math.cos(elev) * math.cos(azim), math.cos(elev) * math.sin(azim), math.sin(elev)]),
                    sun=float(sun), ambient=float(rng.uniform(0.38, 0.5) + 0.35 * overcast), overcast=float(overcast),
                    cloud_cover=float(rng.uniform(0.0, 0.6)), exposure=float(rng.uniform(0.95, 1.15)),
                    haze=float(rng.uniform(350, 900)))


@dataclasses.dataclass
class CameraRender:
    """A rendered frame.

    Attributes:
        image: ``(H, W, 3)`` uint8 RGB.
        category: ``(H, W)`` uint8 category id seen at each pixel (``SKY`` for misses).
        instance: ``(H, W)`` int32 thing instance (0 for stuff).
        depth: ``(H, W)`` float32 distance along the ray (inf for sky).
    """

    image: np.ndarray
    category: np.ndarray
    instance: np.ndarray
    depth: np.ndarray


# ------------------------------------------------------------------------------- noise
def _hash(ix: np.ndarray, iy: np.ndarray, iz: np.ndarray | int = 0, seed: int = 0) -> np.ndarray:
    """Deterministic lattice hash -> float in [0, 1)."""
    h = (ix.astype(np.int64) * 73856093) ^ (np.asarray(iy, np.int64) * 19349663) ^ \
        (np.asarray(iz, np.int64) * 83492791) ^ (seed * 2654435761)
    h = (h ^ (h >> 13)) * 1274126177
    h = h ^ (h >> 16)
    return (h & 0xFFFF).astype(np.float32) / 65536.0


def cell_noise(x: np.ndarray, y: np.ndarray, z: np.ndarray | None = None, scale: float = 1.0, seed: int = 0
               ) -> np.ndarray:
    """Blocky noise in [0, 1): one random value per lattice cell of size ``1 / scale``."""
    ix = np.floor(x * scale).astype(np.int64)
    iy = np.floor(y * scale).astype(np.int64)
    iz = 0 if z is None else np.floor(z * scale).astype(np.int64)
    return _hash(ix, iy, iz, seed)


def value_noise(x: np.ndarray, y: np.ndarray, scale: float = 1.0, seed: int = 0) -> np.ndarray:
    """Smooth 2D value noise in [0, 1)."""
    x = x * scale
    y = y * scale
    x0, y0 = np.floor(x), np.floor(y)
    fx, fy = (x - x0).astype(np.float32), (y - y0).astype(np.float32)
    fx, fy = fx * fx * (3 - 2 * fx), fy * fy * (3 - 2 * fy)
    ix, iy = x0.astype(np.int64), y0.astype(np.int64)
    a, b = _hash(ix, iy, 0, seed), _hash(ix + 1, iy, 0, seed)
    c, d = _hash(ix, iy + 1, 0, seed), _hash(ix + 1, iy + 1, 0, seed)
    return (a + (b - a) * fx) * (1 - fy) + (c + (d - c) * fx) * fy


# ---------------------------------------------------------------------------------- sky
def sky_color(d: np.ndarray, light: Lighting) -> np.ndarray:
    """``(N, 3)`` sky radiance for unit directions ``d`` (LiDAR frame)."""
    up = np.clip(d[:, 2], -0.2, 1.0).astype(np.float32)
    k = np.sqrt(np.clip(up, 0, 1))[:, None]
    horizon = np.array([0.80, 0.86, 0.93], np.float32)
    zenith = np.array([0.30, 0.50, 0.85], np.float32)
    grey = np.array([0.78, 0.80, 0.82], np.float32)
    col = horizon * (1 - k) + zenith * k
    col = col * (1 - light.overcast) + grey * (0.95 - 0.15 * k) * light.overcast
    glow = np.clip(d @ light.sun_dir, 0, 1).astype(np.float32)
    col = col + (0.35 * glow ** 24 + 0.12 * glow ** 4)[:, None] * (1 - light.overcast) * np.array([1.0, 0.95, 0.85], np.float32)
    if light.cloud_cover > 0:
        z = np.maximum(d[:, 2], 0.03)
        px, py = d[:, 0] / z, d[:, 1] / z
        n = 0.65 * value_noise(px, py, 1.6, 11) + 0.35 * value_noise(px, py, 4.0, 12)
        cloud = np.clip((n - (1 - light.cloud_cover)) * 3.0, 0, 1) * (1 - light.overcast)
        cloud *= np.clip(d[:, 2] * 8, 0, 1)
        col = col * (1 - cloud[:, None]) + np.array([0.93, 0.94, 0.96], np.float32) * cloud[:, None]
    return col.astype(np.float32)


# ------------------------------------------------------------------------------ textures
def _texture(scene: Scene, mat: np.ndarray, tri: np.ndarray, p: np.ndarray, n: np.ndarray, albedo: np.ndarray,
             dist: np.ndarray, road_paint: np.ndarray | None) -> np.ndarray:
    """Modulate ``albedo (N, 3)`` by procedural textures; ``p`` LiDAR-frame points, ``n`` normals."""
    pm = scene.lidar_to_map(p)
    x, y, z = pm[:, 0], pm[:, 1], pm[:, 2]
    fine = np.clip(6.0 / np.maximum(dist, 1e-3), 0.0, 1.0)  # fade pixel-scale noise with distance

    sel = mat == M.ASPHALT
    if sel.any():
        xs, ys = x[sel], y[sel]
        g = 1.0 + 0.10 * (value_noise(xs, ys, 0.25, 1) - 0.5) + 0.12 * (cell_noise(xs, ys, None, 9.0, 2) - 0.5) * fine[sel]
        g += 0.05 * (value_noise(xs, ys, 1.5, 3) - 0.5)
        a = albedo[sel] * g[:, None]
        if road_paint is not None:
            paint = road_paint[sel]
            a[paint] = 0.82 + 0.06 * (cell_noise(xs[paint], ys[paint], None, 5.0, 4)[:, None] - 0.5)
        albedo[sel] = a
    sel = mat == M.SIDEWALK
    if sel.any():
        xs, ys = x[sel], y[sel]
        tile = 0.5
        fx, fy = np.remainder(xs, tile) / tile, np.remainder(ys, tile) / tile
        joint = ((fx < 0.05) | (fy < 0.05)) & (fine[sel] > 0.25)
        g = 1.0 + 0.08 * (cell_noise(xs, ys, None, 1 / tile, 5) - 0.5) + 0.05 * (value_noise(xs, ys, 0.4, 6) - 0.5)
        g = np.where(joint, 0.82, g)
        albedo[sel] *= g[:, None]
    sel = (mat == M.GRASS) | (mat == M.TREELINE)
    if sel.any():
        xs, ys = x[sel], y[sel]
        g = 1.0 + 0.25 * (value_noise(xs, ys + z[sel], 0.35, 7) - 0.5) + 0.25 * (cell_noise(xs, ys, None, 6.0, 8) - 0.5) * fine[sel]
        albedo[sel] *= g[:, None]
    sel = mat == M.FOLIAGE
    if sel.any():
        xs, ys, zs = x[sel], y[sel], z[sel]
        g = 0.75 + 0.5 * cell_noise(xs, ys, zs, 4.0, 9) * (0.4 + 0.6 * fine[sel])
        g *= 0.85 + 0.3 * cell_noise(xs, ys, zs, 0.8, 10)
        albedo[sel] *= g[:, None]
    sel = (mat == M.BARK) | (mat == M.KERB) | (mat == M.ROOF)
    if sel.any():
        g = 1.0 + 0.15 * (cell_noise(x[sel], y[sel], z[sel], 3.0, 13) - 0.5)
        albedo[sel] *= g[:, None]
    sel = (mat == M.FACADE) & (np.abs(n[:, 2]) < 0.3)
    if sel.any():
        idx = np.flatnonzero(sel)
        nrm = n[idx]
        # coordinate along the facade: map-frame xy projected on the face's horizontal tangent
        tan_l = np.stack([-nrm[:, 1], nrm[:, 0]], axis=1)
        tan_m = tan_l @ scene.map_rotation.T
        u = np.abs(x[idx] * tan_m[:, 0] + y[idx] * tan_m[:, 1])
        v = z[idx]
        b = scene.tri_param[tri[idx]]
        params = np.array([[bl.floor_height, bl.window_spacing, bl.window_width, bl.window_height, bl.sill,
                            bl.ground_floor, bl.height] for bl in scene.buildings], np.float64)
        wc = np.array([bl.window_color for bl in scene.buildings], np.float32)
        fc = np.array([bl.frame_color for bl in scene.buildings], np.float32)
        fh, sp, ww, wh, sill, gf, hgt = params[b].T
        fu = np.remainder(u, sp) - (sp - ww) / 2
        fz = np.remainder(v, fh) - sill
        floor_no = np.floor(v / fh)
        win = (fu >= 0) & (fu <= ww) & (fz >= 0) & (fz <= wh) & (v > 0.4) & (v < hgt - 0.6)
        shop = (gf > 0.55) & (floor_no == 0) & (v > 0.4) & (v < fh - 0.5) & (np.remainder(u, 2 * sp) < 1.6 * sp)
        win = np.where(floor_no == 0, shop | (win & (gf <= 0.55)), win)
        frame = win & ((fu < 0.07) | (fu > ww - 0.07) | (fz < 0.07) | (fz > wh - 0.07))
        glass = win & ~frame
        a = albedo[idx]
        a *= (1.0 + 0.06 * (cell_noise(x[idx], y[idx], v, 2.0, 14) - 0.5))[:, None]
        a[frame] = fc[b[frame]]
        a[glass] = wc[b[glass]] * (0.8 + 0.4 * cell_noise(floor_no[glass], np.floor(u[glass] / sp[glass]), None, 1.0, 15))[:, None]
        albedo[idx] = a
    return albedo


# ------------------------------------------------------------------------------- render
def pixel_rays(calib: KittiCalibration, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """Origin ``(3,)`` and ``(H * W, 3)`` unit directions through pixel centres, row-major."""
    vv, uu = np.meshgrid(np.arange(height) + 0.5, np.arange(width) + 0.5, indexing="ij")
    return camera_rays(calib, uu.ravel(), vv.ravel())


def render_camera(scene: Scene, caster: Raycaster, calib: KittiCalibration, config: SimConfig,
                  rng: np.random.Generator, light: Lighting | None = None) -> CameraRender:
    """Render camera 2: RGB image plus per-pixel category and instance."""
    w, h = config.image_width, config.image_height
    light = sample_lighting(rng) if light is None else light
    origin, dirs = pixel_rays(calib, w, h)
    hits = caster.cast(origin, dirs)
    n_pix = w * h
    hit = hits.hit
    idx = np.flatnonzero(hit)
    tri = hits.tri[idx]
    t = hits.t[idx].astype(np.float64)
    d = dirs[idx]
    p = origin + d * t[:, None]
    nrm = hits.normal[idx].astype(np.float64)
    flip = np.einsum("ij,ij->i", nrm, d) > 0
    nrm[flip] *= -1
    mat = scene.tri_material[tri]
    albedo = scene.tri_color[tri].copy()
    road = mat == M.ASPHALT
    paint = np.zeros(len(idx), dtype=bool)
    if road.any():
        paint[road] = scene.marking_mask(p[road])
    albedo = _texture(scene, mat, tri, p, nrm, albedo, t, paint)

    # direct sun with shadows, hemispheric sky light
    ndl = np.clip(nrm @ light.sun_dir, 0, None)
    lit = ndl > 0
    if config.shadows and light.sun > 0.3:
        cand = np.flatnonzero(lit)
        occl = caster.occluded(p[cand] + nrm[cand] * 0.02, np.broadcast_to(light.sun_dir, (len(cand), 3)), 0.0, 500.0)
        shade = np.ones(len(idx))
        shade[cand[occl]] = 0.0
        ndl = ndl * shade
    hemi = 0.62 + 0.38 * np.clip(nrm[:, 2], -1, 1)
    sun_col = np.array([1.0, 0.97, 0.90])
    radiance = albedo * (light.ambient * hemi[:, None] + light.sun * ndl[:, None] * sun_col * 1.1)
    # mirror-like reflections (car paint, glass) and lit lamps
    spec = M.SPECULAR[mat]
    has_spec = np.flatnonzero(spec > 0)
    if len(has_spec):
        dd, nn = d[has_spec], nrm[has_spec]
        r = dd - 2 * np.einsum("ij,ij->i", dd, nn)[:, None] * nn
        env = sky_color(r, light)
        env[r[:, 2] < 0] = 0.25
        cos_i = np.clip(-np.einsum("ij,ij->i", dd, nn), 0, 1)
        fres = spec[has_spec] + (1 - spec[has_spec]) * (1 - cos_i) ** 5 * 0.5
        radiance[has_spec] = radiance[has_spec] * (1 - fres[:, None]) + env * fres[:, None]
        hl = np.clip(r @ light.sun_dir, 0, 1) ** 60 * light.sun * 1.5
        radiance[has_spec] += hl[:, None]
    radiance += (M.EMISSIVE[mat][:, None] * albedo)
    # aerial perspective
    haze_col = np.array([0.80, 0.86, 0.93]) * (1 - light.overcast) + np.array([0.76, 0.78, 0.80]) * light.overcast
    fog = 1.0 - np.exp(-t / light.haze)
    radiance = radiance * (1 - fog[:, None]) + haze_col * fog[:, None]

    img = np.empty((n_pix, 3), np.float32)
    miss = np.flatnonzero(~hit)
    img[miss] = sky_color(dirs[miss], light)
    img[idx] = radiance
    img = np.clip(img * light.exposure, 0, 1).reshape(h, w, 3)
    img = np.power(img, 1 / 1.1)  # mild tone curve
    image = _camera_effects(img, rng)

    category = np.full(n_pix, C.SKY, np.uint8)
    category[idx] = scene.tri_category[tri]
    instance = np.zeros(n_pix, np.int32)
    instance[idx] = scene.tri_instance[tri]
    depth = np.full(n_pix, np.inf, np.float32)
    depth[idx] = t
    return CameraRender(image=image, category=category.reshape(h, w), instance=instance.reshape(h, w),
                        depth=depth.reshape(h, w))


def _camera_effects(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Lens softness and sensor noise; returns uint8."""
    import cv2

    img = cv2.GaussianBlur(img.astype(np.float32), (3, 3), 0.55)
    noise = rng.normal(0.0, 1.6 / 255.0, size=img.shape).astype(np.float32)
    return np.clip((img + noise) * 255.0 + 0.5, 0, 255).astype(np.uint8)
