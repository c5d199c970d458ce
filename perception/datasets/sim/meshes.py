"""Procedural triangle meshes: primitives, and the Car / Pedestrian / Cyclist models.

Every function returns ``(vertices (V, 3) float64, triangles (T, 3) int64)``.
Object models are built in their own frame (x forward, y left, z up, origin
on the ground below the object's centre) and are exactly as large as the box
they are labelled with: :func:`tight_box` of their vertices is the label box.
Each model is a list of :class:`Part` (a mesh with a material and a colour),
so the renderer can shade body, glass, tyres and clothes differently.
"""
from __future__ import annotations

import dataclasses
import functools
import math

import numpy as np

from . import materials as M

__all__ = [
    "Part", "box", "hexahedron", "prism_y", "cylinder", "beam", "ellipsoid", "torus", "merge", "transform",
    "tight_box", "car_model", "pedestrian_model", "cyclist_model", "tree_model", "sample_car_paint",
]

Mesh = tuple[np.ndarray, np.ndarray]


@dataclasses.dataclass
class Part:
    """A piece of a model: one material and one base colour (RGB in ``[0, 1]``)."""

    vertices: np.ndarray
    triangles: np.ndarray
    material: int
    color: tuple[float, float, float]


# ----------------------------------------------------------------------------- primitives
_HEXA_FACES = np.array([
    [0, 2, 1], [0, 3, 2],  # bottom (0-3 counter-clockwise seen from above)
    [4, 5, 6], [4, 6, 7],  # top
    [0, 1, 5], [0, 5, 4], [1, 2, 6], [1, 6, 5], [2, 3, 7], [2, 7, 6], [3, 0, 4], [3, 4, 7]])


def hexahedron(corners: np.ndarray) -> Mesh:
    """A solid from 8 corners: bottom face 0-3 counter-clockwise seen from above, top 4-7 above them."""
    corners = np.asarray(corners, dtype=np.float64).reshape(8, 3)
    return corners, _HEXA_FACES.copy()


def box(size, center=(0.0, 0.0, 0.0)) -> Mesh:
    """Axis-aligned box of ``size (sx, sy, sz)`` around ``center``."""
    sx, sy, sz = (float(v) / 2 for v in size)
    c = np.asarray(center, dtype=np.float64)
    signs = np.array([[1, 1], [-1, 1], [-1, -1], [1, -1]], dtype=np.float64)  # ccw seen from above
    bottom = np.column_stack([signs[:, 0] * sx, signs[:, 1] * sy, np.full(4, -sz)])
    top = bottom.copy()
    top[:, 2] = sz
    return hexahedron(np.vstack([bottom, top]) + c)


def prism_y(profile_xz: np.ndarray, y0: float, y1: float) -> Mesh:
    """Extrude a convex polygon in the x-z plane (counter-clockwise) from ``y = y0`` to ``y = y1``."""
    prof = np.asarray(profile_xz, dtype=np.float64)
    k = len(prof)
    v0 = np.column_stack([prof[:, 0], np.full(k, y0), prof[:, 1]])
    v1 = np.column_stack([prof[:, 0], np.full(k, y1), prof[:, 1]])
    verts = np.vstack([v0, v1])
    tris = []
    for i in range(1, k - 1):  # fan caps
        tris.append([0, i + 1, i])
        tris.append([k, k + i, k + i + 1])
    for i in range(k):
        j = (i + 1) % k
        tris.append([i, j, k + j])
        tris.append([i, k + j, k + i])
    return verts, np.asarray(tris, dtype=np.int64)


def _orthonormal(axis: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    axis = axis / np.linalg.norm(axis)
    helper = np.array([0.0, 0.0, 1.0]) if abs(axis[2]) < 0.9 else np.array([1.0, 0.0, 0.0])
    a = np.cross(axis, helper)
    a /= np.linalg.norm(a)
    return a, np.cross(axis, a)


def cylinder(p0, p1, radius: float, segments: int = 12, caps: bool = True) -> Mesh:
    """Cylinder from ``p0`` to ``p1``."""
    p0, p1 = np.asarray(p0, np.float64), np.asarray(p1, np.float64)
    a, b = _orthonormal(p1 - p0)
    ang = np.arange(segments) * (2 * np.pi / segments)
    ring = radius * (np.cos(ang)[:, None] * a + np.sin(ang)[:, None] * b)
    verts = np.vstack([p0 + ring, p1 + ring, p0[None], p1[None]])
    tris = []
    n = segments
    for i in range(n):
        j = (i + 1) % n
        tris += [[i, j, n + j], [i, n + j, n + i]]
        if caps:
            tris += [[2 * n, j, i], [2 * n + 1, n + i, n + j]]
    return verts, np.asarray(tris, dtype=np.int64)


def beam(p0, p1, width: float, depth: float | None = None, up=(0.0, 0.0, 1.0)) -> Mesh:
    """A box from ``p0`` to ``p1`` with a ``width x depth`` cross-section (limbs, bicycle tubes)."""
    p0, p1 = np.asarray(p0, np.float64), np.asarray(p1, np.float64)
    depth = width if depth is None else depth
    axis = p1 - p0
    length = np.linalg.norm(axis)
    axis = axis / length
    up = np.asarray(up, np.float64)
    side = np.cross(axis, up)
    if np.linalg.norm(side) < 1e-6:
        side = np.cross(axis, np.array([1.0, 0.0, 0.0]))
    side /= np.linalg.norm(side)
    other = np.cross(side, axis)
    hw, hd = width / 2, depth / 2
    offs = [(-hw, -hd), (hw, -hd), (hw, hd), (-hw, hd)]
    corners = [p0 + s * side + o * other for s, o in offs] + [p1 + s * side + o * other for s, o in offs]
    return hexahedron(np.asarray(corners))


@functools.lru_cache(maxsize=4)
def _icosphere(subdiv: int) -> Mesh:
    t = (1.0 + 5 ** 0.5) / 2
    verts = [[-1, t, 0], [1, t, 0], [-1, -t, 0], [1, -t, 0], [0, -1, t], [0, 1, t], [0, -1, -t], [0, 1, -t],
             [t, 0, -1], [t, 0, 1], [-t, 0, -1], [-t, 0, 1]]
    faces = [[0, 11, 5], [0, 5, 1], [0, 1, 7], [0, 7, 10], [0, 10, 11], [1, 5, 9], [5, 11, 4], [11, 10, 2],
             [10, 7, 6], [7, 1, 8], [3, 9, 4], [3, 4, 2], [3, 2, 6], [3, 6, 8], [3, 8, 9], [4, 9, 5],
             [2, 4, 11], [6, 2, 10], [8, 6, 7], [9, 8, 1]]
    verts = [np.asarray(v, np.float64) / np.linalg.norm(v) for v in verts]
    for _ in range(subdiv):
        cache: dict[tuple[int, int], int] = {}

        def mid(i, j):
            key = (min(i, j), max(i, j))
            if key not in cache:
                m = verts[i] + verts[j]
                verts.append(m / np.linalg.norm(m))
                cache[key] = len(verts) - 1
            return cache[key]

        new = []
        for a, b, c in faces:
            ab, bc, ca = mid(a, b), mid(b, c), mid(c, a)
            new += [[a, ab, ca], [b, bc, ab], [c, ca, bc], [ab, bc, ca]]
        faces = new
    v = np.asarray(verts)
    f = np.asarray(faces, dtype=np.int64)
    v.setflags(write=False)
    f.setflags(write=False)
    return v, f


def ellipsoid(center, radii, subdiv: int = 1, rng: np.random.Generator | None = None, bumps: float = 0.0) -> Mesh:
    """Ellipsoid (optionally with random radial bumps, for tree crowns and bushes)."""
    v, f = _icosphere(subdiv)
    v = v.copy()
    if rng is not None and bumps > 0:
        v *= 1.0 + bumps * rng.uniform(-1.0, 1.0, size=(len(v), 1))
    return v * np.asarray(radii, np.float64) + np.asarray(center, np.float64), f.copy()


def torus(center, radius: float, tube: float, nu: int = 16, nv: int = 5) -> Mesh:
    """Torus in the x-z plane (axis along y): a bicycle tyre."""
    u = np.arange(nu) * (2 * np.pi / nu)
    v = np.arange(nv) * (2 * np.pi / nv)
    uu, vv = np.meshgrid(u, v, indexing="ij")
    r = radius + tube * np.cos(vv)
    verts = np.stack([r * np.cos(uu), tube * np.sin(vv), r * np.sin(uu)], axis=-1).reshape(-1, 3)
    tris = []
    for i in range(nu):
        for j in range(nv):
            a = i * nv + j
            b = ((i + 1) % nu) * nv + j
            c = ((i + 1) % nu) * nv + (j + 1) % nv
            d = i * nv + (j + 1) % nv
            tris += [[a, b, c], [a, c, d]]
    return verts + np.asarray(center, np.float64), np.asarray(tris, dtype=np.int64)


def merge(meshes: list[Mesh]) -> Mesh:
    verts, tris, off = [], [], 0
    for v, t in meshes:
        verts.append(v)
        tris.append(t + off)
        off += len(v)
    return np.vstack(verts), np.vstack(tris)


def transform(vertices: np.ndarray, yaw: float, translation) -> np.ndarray:
    """Rotate about +z by ``yaw`` then translate."""
    c, s = math.cos(yaw), math.sin(yaw)
    rot = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    return vertices @ rot.T + np.asarray(translation, np.float64)


def tight_box(parts: list[Part]) -> tuple[np.ndarray, np.ndarray]:
    """``(center (3,), size (3,))`` of the axis-aligned box around all parts (model frame)."""
    v = np.vstack([p.vertices for p in parts])
    lo, hi = v.min(axis=0), v.max(axis=0)
    return (lo + hi) / 2, hi - lo


# ------------------------------------------------------------------------------- colours
_CAR_PAINTS = (  # (weight, rgb) - roughly the colour mix of European traffic
    (0.22, (0.82, 0.83, 0.84)), (0.18, (0.56, 0.58, 0.60)), (0.18, (0.07, 0.07, 0.08)),
    (0.10, (0.30, 0.31, 0.33)), (0.10, (0.10, 0.20, 0.45)), (0.07, (0.55, 0.08, 0.07)),
    (0.04, (0.12, 0.30, 0.18)), (0.04, (0.62, 0.55, 0.42)), (0.03, (0.80, 0.60, 0.10)),
    (0.04, (0.35, 0.12, 0.10)))
_SKIN = ((0.93, 0.76, 0.64), (0.85, 0.64, 0.50), (0.70, 0.50, 0.36), (0.50, 0.34, 0.24), (0.33, 0.22, 0.15))
_CLOTHES = ((0.10, 0.10, 0.12), (0.20, 0.22, 0.35), (0.15, 0.25, 0.45), (0.55, 0.10, 0.10), (0.85, 0.85, 0.82),
            (0.35, 0.35, 0.35), (0.55, 0.45, 0.30), (0.20, 0.35, 0.20), (0.80, 0.55, 0.15), (0.45, 0.20, 0.45),
            (0.60, 0.65, 0.75), (0.25, 0.18, 0.12))
_TROUSERS = ((0.12, 0.14, 0.22), (0.08, 0.08, 0.09), (0.30, 0.30, 0.32), (0.45, 0.40, 0.30), (0.20, 0.28, 0.45))
_HAIR = ((0.08, 0.06, 0.05), (0.25, 0.16, 0.08), (0.55, 0.42, 0.25), (0.40, 0.40, 0.40), (0.15, 0.12, 0.10))


def _jitter(rgb, rng: np.random.Generator, amount: float = 0.04) -> tuple[float, float, float]:
    c = np.clip(np.asarray(rgb) * (1 + rng.uniform(-amount, amount)) + rng.uniform(-amount, amount, 3) / 2, 0, 1)
    return tuple(float(x) for x in c)


def _pick(options, rng: np.random.Generator):
    return options[int(rng.integers(len(options)))]


def sample_car_paint(rng: np.random.Generator) -> tuple[float, float, float]:
    weights = np.array([w for w, _ in _CAR_PAINTS])
    i = int(rng.choice(len(_CAR_PAINTS), p=weights / weights.sum()))
    return _jitter(_CAR_PAINTS[i][1], rng, 0.05)


# ---------------------------------------------------------------------------------- cars
def car_model(length: float, width: float, height: float, rng: np.random.Generator) -> list[Part]:
    """A car filling ``length x width x height`` exactly (x forward, origin on the ground at the centre).

    Lower body (painted, a side profile with a sloped bonnet), a narrower glass
    house with a painted roof, four wheels, lamps and number plates.  Body style
    (saloon / hatchback / estate-van) varies with ``rng``.
    """
    l, w, h = float(length), float(width), float(height)
    paint = sample_car_paint(rng)
    style = rng.choice(3, p=[0.45, 0.35, 0.20])  # saloon, hatchback, estate/van-like
    r_wheel = float(np.clip(0.30 + 0.1 * (h - 1.5) + rng.normal(0, 0.01), 0.28, 0.38))
    clear = 0.16 + 0.04 * rng.random()
    belt = h * (0.56 + 0.04 * rng.random())
    hx = l / 2
    inset = 0.03  # lamps and plates sit in this slab at both ends
    # lower body side profile (x, z): rear-bottom, front-bottom, bumper, bonnet edge, rear deck
    nose = hx - inset
    bonnet_z = belt - 0.06
    lower = np.array([
        [-hx + inset, clear], [nose, clear], [nose, belt - 0.28], [nose - 0.12, bonnet_z],
        [-hx + inset + 0.05, belt], [-hx + inset, belt - 0.10]])
    # glass house profile
    if style == 0:
        front_base, roof_front, roof_back, back_base = 0.18 * l, 0.02 * l, -0.24 * l, -0.36 * l
    elif style == 1:
        front_base, roof_front, roof_back, back_base = 0.16 * l, 0.00 * l, -0.36 * l, -0.45 * l
    else:
        front_base, roof_front, roof_back, back_base = 0.20 * l, 0.06 * l, -0.44 * l, -hx + inset + 0.02
    y_body = w / 2
    y_house = w / 2 - 0.12 - 0.04 * rng.random()
    parts = [Part(*prism_y(lower[::-1], -y_body, y_body), M.PAINT, paint)]
    # glass sides + windscreens, then a thin painted roof on top
    roof_t = 0.05
    glass = np.array([[back_base, belt], [front_base, belt],
                      [roof_front + (front_base - roof_front) * roof_t / (h - belt), h - roof_t],
                      [roof_back + (back_base - roof_back) * roof_t / (h - belt), h - roof_t]])
    parts.append(Part(*prism_y(glass[::-1], -y_house, y_house), M.GLASS, (0.10, 0.12, 0.14)))
    roof = np.array([glass[3], glass[2], [roof_front, h], [roof_back, h]])
    parts.append(Part(*prism_y(roof[::-1], -y_house, y_house), M.PAINT, paint))
    # wheels: outer faces at the body sides
    axle = 0.34 * l - 0.02
    tyre_w = 0.21
    for x in (axle, -axle + 0.04):
        for side in (1, -1):
            y_out = side * (w / 2 - 0.005)
            y_in = side * (w / 2 - 0.005 - tyre_w)
            parts.append(Part(*cylinder((x, y_in, r_wheel), (x, y_out, r_wheel), r_wheel, 12), M.TIRE,
                              (0.04, 0.04, 0.045)))
    # rear lamps, rear plate, headlamps, front plate (inside the box's end slabs)
    lamp_z0, lamp_z1 = belt - 0.24, belt - 0.08
    for side in (1, -1):
        yc = side * (w / 2 - 0.16)
        parts.append(Part(*box((inset, 0.26, lamp_z1 - lamp_z0), (-hx + inset / 2, yc, (lamp_z0 + lamp_z1) / 2)),
                          M.TAIL_LIGHT, (0.75, 0.05, 0.04)))
        parts.append(Part(*box((inset, 0.24, 0.10), (hx - inset / 2, yc, belt - 0.22)), M.HEAD_LIGHT,
                          (0.90, 0.90, 0.85)))
    parts.append(Part(*box((inset, 0.52, 0.11), (-hx + inset / 2, 0.0, lamp_z0 - 0.12)), M.PLATE, (0.92, 0.92, 0.90)))
    parts.append(Part(*box((inset, 0.52, 0.11), (hx - inset / 2, 0.0, clear + 0.14)), M.PLATE, (0.92, 0.92, 0.90)))
    # dark bumpers at both ends
    parts.append(Part(*box((inset, w - 0.1, 0.12), (-hx + inset / 2, 0.0, clear + 0.10)), M.TRIM, (0.08, 0.08, 0.09)))
    return parts


# --------------------------------------------------------------------------- pedestrians
def pedestrian_model(height: float, rng: np.random.Generator, *, walking: bool = True) -> list[Part]:
    """A person of ``height`` (m): legs (walking stride or standing), torso, arms, head with hair."""
    H = float(height)
    skin = _jitter(_pick(_SKIN, rng), rng)
    top = _jitter(_pick(_CLOTHES, rng), rng)
    legs_c = _jitter(_pick(_TROUSERS, rng), rng)
    hair = _jitter(_pick(_HAIR, rng), rng)
    hip_z = 0.53 * H
    shoulder_z = 0.82 * H
    torso_w = 0.36 + 0.08 * rng.random()
    torso_d = 0.20 + 0.06 * rng.random()
    leg_w = 0.14
    stride = math.radians(rng.uniform(17, 30)) if walking else math.radians(rng.uniform(3, 9))
    phase = rng.choice([-1.0, 1.0])
    parts = []
    for side, sgn in ((1, phase), (-1, -phase)):
        yh = side * (torso_w / 2 - leg_w / 2 - 0.01)
        hip = np.array([0.0, yh, hip_z])
        foot = hip + hip_z * np.array([math.sin(sgn * stride), 0.0, -math.cos(sgn * stride)])
        parts.append(Part(*beam(hip, foot, leg_w, 0.16), M.CLOTH, legs_c))
        toe = foot + np.array([0.20 * math.cos(sgn * stride * 0.3), 0.0, 0.0])
        parts.append(Part(*beam(foot + [0.0, 0.0, 0.04], toe + [0.0, 0.0, 0.04], 0.10, 0.08), M.TRIM,
                          (0.10, 0.09, 0.08)))
        # arm swings against the leg on the same side
        sh = np.array([0.0, side * (torso_w / 2 + 0.05), shoulder_z - 0.03])
        arm_swing = -sgn * stride * 0.8
        hand = sh + 0.36 * H * np.array([math.sin(arm_swing), 0.0, -math.cos(arm_swing)])
        parts.append(Part(*beam(sh, hand, 0.09, 0.10), M.CLOTH, top))
    parts.append(Part(*hexahedron(np.array([
        [torso_d / 2, torso_w / 2 - 0.03, hip_z - 0.04], [-torso_d / 2, torso_w / 2 - 0.03, hip_z - 0.04],
        [-torso_d / 2, -torso_w / 2 + 0.03, hip_z - 0.04], [torso_d / 2, -torso_w / 2 + 0.03, hip_z - 0.04],
        [torso_d / 2, torso_w / 2 + 0.02, shoulder_z], [-torso_d / 2, torso_w / 2 + 0.02, shoulder_z],
        [-torso_d / 2, -torso_w / 2 - 0.02, shoulder_z], [torso_d / 2, -torso_w / 2 - 0.02, shoulder_z]])),
        M.CLOTH, top))
    parts.append(Part(*cylinder((0, 0, shoulder_z - 0.01), (0, 0, shoulder_z + 0.05), 0.05, 8), M.SKIN, skin))
    head_r = 0.105 * H / 1.75
    head_c = (0.01, 0.0, H - head_r * 1.15)
    parts.append(Part(*ellipsoid(head_c, (head_r, head_r * 0.85, head_r * 1.15), 1), M.SKIN, skin))
    parts.append(Part(*ellipsoid((head_c[0] - 0.02, 0.0, head_c[2] + 0.03), (head_r * 1.02, head_r * 0.9, head_r * 1.12), 1),
                      M.HAIR, hair))
    return _on_ground(parts)


def _on_ground(parts: list[Part]) -> list[Part]:
    """Shift a model vertically so that its lowest vertex touches ``z = 0``."""
    z0 = min(float(p.vertices[:, 2].min()) for p in parts)
    for p in parts:
        p.vertices = p.vertices - np.array([0.0, 0.0, z0])
    return parts


# ------------------------------------------------------------------------------ cyclists
def cyclist_model(rng: np.random.Generator) -> list[Part]:
    """A bicycle (tyres, frame, fork, handlebar, saddle) with a rider leaning forward."""
    R = 0.33 + 0.02 * rng.random()  # wheel radius
    tube_r = 0.025
    base = 0.52 + 0.04 * rng.random()  # half wheelbase
    frame_c = _jitter(_pick(((0.6, 0.05, 0.05), (0.1, 0.1, 0.1), (0.1, 0.25, 0.55), (0.8, 0.8, 0.8),
                             (0.15, 0.4, 0.2)), rng), rng)
    rider_h = float(np.clip(rng.normal(1.75, 0.07), 1.6, 1.92))
    top = _jitter(_pick(_CLOTHES, rng), rng)
    legs_c = _jitter(_pick(_TROUSERS, rng), rng)
    skin = _jitter(_pick(_SKIN, rng), rng)
    helmet = _jitter(_pick(((0.9, 0.9, 0.9), (0.1, 0.1, 0.1), (0.8, 0.2, 0.1), (0.2, 0.4, 0.8)), rng), rng)
    hub_z = R + tube_r
    rear, front = np.array([-base, 0, hub_z]), np.array([base, 0, hub_z])
    bb = np.array([-0.05, 0.0, hub_z - 0.04])
    seat = np.array([-0.25, 0.0, hub_z + 0.55 * rider_h / 1.75])
    head_tube = np.array([base - 0.14, 0.0, hub_z + 0.42])
    bar = np.array([base - 0.18, 0.0, hub_z + 0.58])
    parts = [Part(*torus(rear, R, tube_r), M.TIRE, (0.05, 0.05, 0.05)),
             Part(*torus(front, R, tube_r), M.TIRE, (0.05, 0.05, 0.05))]
    for a, b in ((rear, bb), (bb, seat), (rear, seat - [0.02, 0, 0.08]), (bb, head_tube),
                 (seat - [0.0, 0, 0.08], head_tube), (front, head_tube), (head_tube, bar)):
        parts.append(Part(*beam(a, b, 0.04), M.BIKE, frame_c))
    bar_half = 0.27 + 0.03 * rng.random()
    parts.append(Part(*beam(bar + [0, -bar_half, 0], bar + [0, bar_half, 0], 0.035), M.BIKE, (0.1, 0.1, 0.1)))
    parts.append(Part(*box((0.26, 0.14, 0.06), seat + [0, 0, 0.03]), M.TRIM, (0.08, 0.08, 0.08)))
    # rider
    hip = seat + np.array([0.0, 0.0, 0.08])
    lean = math.radians(rng.uniform(25, 45))
    torso_len = 0.30 * rider_h
    shoulder = hip + torso_len * np.array([math.sin(lean), 0.0, math.cos(lean)])
    for side, up in ((1, 1.0), (-1, -1.0)):
        y = side * 0.10
        pedal = bb + np.array([0.17 * up * 0.5, y, 0.17 * up])
        knee = (hip + pedal) / 2 + np.array([0.22, 0.0, 0.10])
        parts.append(Part(*beam(hip + [0, y, 0], knee + [0, y, 0], 0.14), M.CLOTH, legs_c))
        parts.append(Part(*beam(knee + [0, y, 0], pedal + [0, 0, 0.02], 0.12), M.CLOTH, legs_c))
        hand = bar + np.array([0.0, side * (bar_half - 0.06), 0.02])
        parts.append(Part(*beam(shoulder + [0, side * 0.20, -0.02], hand, 0.08), M.CLOTH, top))
    parts.append(Part(*beam(hip, shoulder, 0.36, 0.22, up=(1.0, 0.0, 0.0)), M.CLOTH, top))
    head_r = 0.11
    head = shoulder + np.array([0.10, 0.0, 0.17])
    parts.append(Part(*ellipsoid(head, (head_r, head_r * 0.85, head_r * 1.1), 1), M.SKIN, skin))
    parts.append(Part(*ellipsoid(head + [-0.01, 0, 0.04], (head_r * 1.2, head_r * 1.0, head_r * 0.9), 1),
                      M.HELMET, helmet))
    return _on_ground(parts)


# ------------------------------------------------------------------------------- trees
def tree_model(rng: np.random.Generator, height: float) -> list[Part]:
    """A tree: trunk and a bumpy ellipsoid crown (origin at the trunk's foot)."""
    trunk_h = height * rng.uniform(0.30, 0.45)
    trunk_r = 0.08 + 0.012 * height
    crown_rz = (height - trunk_h) / 2 * 1.1
    crown_r = crown_rz * rng.uniform(0.6, 1.0)
    green = (0.16 + 0.10 * rng.random(), 0.28 + 0.14 * rng.random(), 0.08 + 0.06 * rng.random())
    return [
        Part(*cylinder((0, 0, -0.2), (0, 0, trunk_h + crown_rz * 0.5), trunk_r, 8), M.BARK,
             (0.30 + 0.05 * rng.random(), 0.22, 0.15)),
        Part(*ellipsoid((0, 0, height - crown_rz), (crown_r, crown_r, crown_rz), 2, rng, 0.12), M.FOLIAGE, green),
    ]
