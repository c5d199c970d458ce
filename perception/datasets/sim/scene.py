"""Scene sampling: road layout, stuff (road, sidewalks, buildings, vegetation) and things.

A scene is sampled in the *map* frame (see :mod:`.roads`) and handed out in
the ego's LiDAR frame (x forward, y left, z up, origin at the LiDAR,
``lidar_height`` above the road).  Everything is one triangle soup with
per-triangle attributes (category, instance, material, colour, texture
parameter), ready for :class:`open3d.t.geometry.RaycastingScene`.

Layouts: ``straight`` (one road), ``curve`` (a circular arc, radius 90-400 m)
and ``intersection`` (the ego road crossed by a perpendicular road: both arms
or one).  Roads have 1-2 lanes each way (or one-way), optional parking strips
along the kerbs, sidewalks, then a grass or paved verge with buildings,
trees and hedges.  Things are placed with realistic sizes and poses (cars in
lanes or parked along the kerb, pedestrians on sidewalks or crossing,
cyclists at the road edge), 3-70 m from the LiDAR, without collisions.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Optional

import numpy as np

from . import categories as C
from . import materials as M
from . import meshes
from .config import SimConfig
from .roads import Marking, Road

__all__ = ["Thing", "Building", "Scene", "sample_scene"]

# Ego car footprint in the LiDAR frame: x from rear to front bumper, half width (the LiDAR sits
# above the rear half of the roof, as on KITTI's VW Passat).
_EGO_X = (-2.9, 2.0)
_EGO_HALF_W = 1.0


@dataclasses.dataclass
class Thing:
    """One object instance.

    Attributes:
        instance: 1-based instance number (``tri_instance`` of its triangles).
        category_id: :mod:`.categories` id (``CAR``, ``PEDESTRIAN``, ``CYCLIST``).
        box: ``(7,)`` ``[x, y, z, l, w, h, yaw]`` geometric centre, LiDAR frame; exactly the
            tight box of the object's mesh.
        tri_range: ``(start, stop)`` of its triangles in the scene arrays.
        kind: how it was placed (``lane``, ``parked``, ``cross_lane``, ``sidewalk``, ``crossing``, ``road_edge``).
    """

    instance: int
    category_id: int
    box: np.ndarray
    tri_range: tuple[int, int]
    kind: str

    @property
    def name(self) -> str:
        return C.CATEGORY_BY_ID[self.category_id].name


@dataclasses.dataclass
class Building:
    """Texture parameters of one building's facades (indexed by ``tri_param``)."""

    height: float
    floor_height: float
    window_spacing: float
    window_width: float
    window_height: float
    sill: float
    ground_floor: float
    window_color: tuple[float, float, float]
    frame_color: tuple[float, float, float]


@dataclasses.dataclass
class Scene:
    """A sampled scene in the LiDAR frame.

    Attributes:
        vertices: ``(V, 3)`` float32; triangles: ``(T, 3)`` int32.
        tri_category, tri_instance, tri_material, tri_param: ``(T,)`` per-triangle attributes
            (``tri_instance`` 0 for stuff; ``tri_param`` indexes ``buildings`` for facades).
        tri_color: ``(T, 3)`` float32 base colour in ``[0, 1]``.
        things: the object instances.
        roads: road geometry (map frame), used for markings.
        map_rotation, map_translation: map point = ``R @ p_xy + t`` for LiDAR-frame ``p_xy``;
            map height = LiDAR z + ``lidar_height``.
        layout: ``straight``, ``curve`` or ``intersection``.
    """

    vertices: np.ndarray
    triangles: np.ndarray
    tri_category: np.ndarray
    tri_instance: np.ndarray
    tri_material: np.ndarray
    tri_param: np.ndarray
    tri_color: np.ndarray
    things: list[Thing]
    roads: list[Road]
    buildings: list[Building]
    map_rotation: np.ndarray
    map_translation: np.ndarray
    lidar_height: float
    layout: str

    def lidar_to_map(self, points: np.ndarray) -> np.ndarray:
        """``(N, 3)`` LiDAR points -> map frame."""
        xy = points[:, :2] @ self.map_rotation.T + self.map_translation
        return np.column_stack([xy, points[:, 2] + self.lidar_height])

    def thing_mesh(self, thing: Thing) -> tuple[np.ndarray, np.ndarray]:
        """Vertices and triangles of one thing alone (re-indexed)."""
        tris = self.triangles[thing.tri_range[0]:thing.tri_range[1]]
        used, inverse = np.unique(tris, return_inverse=True)
        return self.vertices[used], inverse.reshape(tris.shape).astype(np.int32)

    def marking_mask(self, points: np.ndarray) -> np.ndarray:
        """``(N,)`` bool: LiDAR-frame points on road paint."""
        xy = self.lidar_to_map(points)[:, :2]
        out = np.zeros(len(xy), dtype=bool)
        for road in self.roads:
            out |= road.marking_mask(xy)
        return out


class _Builder:
    """Accumulates triangles with attributes (map frame)."""

    def __init__(self):
        self.verts: list[np.ndarray] = []
        self.tris: list[np.ndarray] = []
        self.attrs: list[tuple[int, int, int, int, tuple[float, float, float], int]] = []
        self.n_verts = 0
        self.n_tris = 0

    def add(self, mesh, *, category: int, material: int, color, instance: int = 0, param: int = 0) -> None:
        v, t = mesh
        self.verts.append(np.asarray(v, np.float64))
        self.tris.append(np.asarray(t, np.int64) + self.n_verts)
        self.attrs.append((len(t), category, instance, material, tuple(color), param))
        self.n_verts += len(v)
        self.n_tris += len(t)

    def arrays(self):
        verts = np.vstack(self.verts)
        tris = np.vstack(self.tris).astype(np.int32)
        counts = np.array([a[0] for a in self.attrs])
        rep = lambda idx, dtype: np.repeat(np.array([a[idx] for a in self.attrs], dtype=dtype), counts, axis=0)
        return (verts, tris, rep(1, np.uint8), rep(2, np.int32), rep(3, np.uint8), rep(5, np.int32),
                rep(4, np.float32))


# ------------------------------------------------------------------------ footprints
def _rect(center, yaw: float, length: float, width: float) -> np.ndarray:
    """``(4, 2)`` corners of an oriented rectangle."""
    c, s = math.cos(yaw), math.sin(yaw)
    f, l = np.array([c, s]) * length / 2, np.array([-s, c]) * width / 2
    return np.asarray(center, np.float64)[:2] + np.array([f + l, f - l, -f - l, -f + l])


def _rects_overlap(a: np.ndarray, b: np.ndarray) -> bool:
    """Separating-axis test of two convex quads."""
    for poly in (a, b):
        for i in range(4):
            e = poly[(i + 1) % 4] - poly[i]
            axis = np.array([-e[1], e[0]])
            pa, pb = a @ axis, b @ axis
            if pa.max() < pb.min() or pb.max() < pa.min():
                return False
    return True


class _Occupancy:
    """Footprints taken so far (oriented rectangles), with a bounding-circle prefilter."""

    def __init__(self):
        self.rects: list[np.ndarray] = []
        self.centres = np.zeros((0, 2))
        self.radii = np.zeros(0)

    def free(self, rect: np.ndarray) -> bool:
        c = rect.mean(axis=0)
        r = float(np.sqrt(((rect - c) ** 2).sum(axis=1).max()))
        if not self.rects:
            return True
        near = np.flatnonzero(np.hypot(*(self.centres - c).T) <= self.radii + r)
        return not any(_rects_overlap(rect, self.rects[i]) for i in near)

    def add(self, rect: np.ndarray) -> None:
        c = rect.mean(axis=0)
        self.rects.append(rect)
        self.centres = np.vstack([self.centres, c])
        self.radii = np.append(self.radii, np.sqrt(((rect - c) ** 2).sum(axis=1).max()))


# ---------------------------------------------------------------------------- layout
def _make_road(rng, origin, heading, curvature, s_range, *, lanes_right, lanes_left, lane_width,
               park_right, park_left, sidewalks=(2.5, 2.5), kerb=0.13) -> Road:
    lw = lane_width
    pw = 2.2
    t_right = -(lanes_right * lw + (pw if park_right else 0.0))
    t_left = lanes_left * lw + (pw if park_left else 0.0)
    road = Road(origin=tuple(origin), heading=heading, curvature=curvature, s_range=s_range, t_right=t_right,
                t_left=t_left, lane_width=lw, sidewalk_right=sidewalks[0], sidewalk_left=sidewalks[1],
                kerb_height=kerb)
    road.lanes = [(-(i + 0.5) * lw, 1) for i in range(lanes_right)] + [((i + 0.5) * lw, -1) for i in range(lanes_left)]
    if park_right:
        road.parking.append((t_right + pw / 2, 1, pw))
    if park_left:
        road.parking.append((t_left - pw / 2, -1, pw))
    phase = float(rng.uniform(0, 9))
    if lanes_left > 0:
        if rng.random() < 0.5:
            road.markings.append(Marking(0.0, 0.12, "solid"))
        else:
            road.markings.append(Marking(0.0, 0.12, "dashed", 3.0, 6.0, phase))
    for i in range(1, lanes_right):
        road.markings.append(Marking(-i * lw, 0.12, "dashed", 3.0, 6.0, phase))
    for i in range(1, lanes_left):
        road.markings.append(Marking(i * lw, 0.12, "dashed", 3.0, 6.0, phase))
    edge_kind = "solid" if rng.random() < 0.6 else "dashed"
    if park_right:
        road.markings.append(Marking(-lanes_right * lw, 0.12, edge_kind, 1.0, 1.0, phase))
    elif rng.random() < 0.5:
        road.markings.append(Marking(t_right + 0.35, 0.12, "solid"))
    if lanes_left > 0:
        if park_left:
            road.markings.append(Marking(lanes_left * lw, 0.12, edge_kind, 1.0, 1.0, phase))
        elif rng.random() < 0.5:
            road.markings.append(Marking(t_left - 0.35, 0.12, "solid"))
    return road


@dataclasses.dataclass
class _Layout:
    kind: str
    main: Road
    arms: list[Road]  # cross-road arms (intersection only), each starting at a kerb of the main road
    junction: Optional[tuple[float, float]]  # (s0, s1) of the junction on the main road
    ego_t: float


def _sample_layout(rng: np.random.Generator, config: SimConfig) -> _Layout:
    w = np.asarray(config.layout_weights, np.float64)
    kind = ("straight", "curve", "intersection")[int(rng.choice(3, p=w / w.sum()))]
    lanes_right = int(rng.choice([1, 2], p=[0.65, 0.35]))
    lanes_left = int(rng.choice([0, 1, 2], p=[0.15, 0.6, 0.25]))
    lane_width = float(rng.uniform(3.0, 3.7))
    park_right = bool(rng.random() < 0.55)
    park_left = bool(lanes_left > 0 and rng.random() < 0.45)
    sidewalks = (float(rng.uniform(1.8, 4.5)), float(rng.uniform(1.8, 4.5)))
    kerb = float(rng.uniform(0.10, 0.16))
    curvature = 0.0
    s_range = (-110.0, 260.0)
    if kind == "curve":
        curvature = float(rng.choice([-1, 1]) / rng.uniform(90, 400))
        s_range = (-90.0, 200.0)
    main = _make_road(rng, (0.0, 0.0), 0.0, curvature, s_range, lanes_right=lanes_right, lanes_left=lanes_left,
                      lane_width=lane_width, park_right=park_right, park_left=park_left, sidewalks=sidewalks,
                      kerb=kerb)
    ego_lane = int(rng.integers(lanes_right))
    ego_t = -(ego_lane + 0.5) * lane_width
    arms: list[Road] = []
    junction = None
    if kind == "intersection":
        xc = float(rng.uniform(14, 45))
        c_lanes = int(rng.choice([1, 2], p=[0.7, 0.3]))
        c_lw = float(rng.uniform(3.0, 3.5))
        c_side = (float(rng.uniform(1.8, 3.5)), float(rng.uniform(1.8, 3.5)))
        half = c_lanes * c_lw
        which = rng.choice(3, p=[0.6, 0.2, 0.2])  # both arms, left only, right only
        junction = (xc - half, xc + half)
        for side in (1, -1):
            if (side == 1 and which == 2) or (side == -1 and which == 1):
                continue
            kerb_t = main.t_left if side == 1 else main.t_right
            # each arm leaves the main road's kerb; its own +s points away from the main road
            arm = _make_road(rng, (xc, kerb_t), side * math.pi / 2, 0.0, (0.0, 150.0), lanes_right=c_lanes,
                             lanes_left=c_lanes, lane_width=c_lw, park_right=False, park_left=False,
                             sidewalks=c_side, kerb=kerb)
            arm.markings = [m for m in arm.markings if m.kind == "dashed" or m.t == 0.0]
            sw_main = main.sidewalk_left if side == 1 else main.sidewalk_right
            arm.crosswalks.append((sw_main + 0.5, sw_main + 4.0))
            arm.stop_lines.append((sw_main + 4.6, 0.0, -half))  # incoming lanes (toward the junction): t < 0
            arm.marking_gaps.append((0.0, sw_main + 5.0))
            arms.append(arm)
        main.marking_gaps.append((xc - half - 5.0, xc + half + 5.0))
        sw_cross = max(c_side)
        main.crosswalks.append((xc - half - sw_cross - 3.5, xc - half - sw_cross))
        main.stop_lines.append((xc - half - sw_cross - 4.2, 0.0, main.t_right))
        if rng.random() < 0.5:
            main.crosswalks.append((xc + half + sw_cross, xc + half + sw_cross + 3.5))
    return _Layout(kind, main, arms, junction, ego_t)


# ------------------------------------------------------------------------ stuff
_FACADES = ((0.78, 0.72, 0.62), (0.85, 0.82, 0.75), (0.62, 0.35, 0.26), (0.70, 0.68, 0.66), (0.55, 0.52, 0.50),
            (0.82, 0.74, 0.55), (0.90, 0.88, 0.84), (0.60, 0.50, 0.40), (0.45, 0.40, 0.38), (0.74, 0.78, 0.80))
_ROOFS = ((0.45, 0.18, 0.12), (0.28, 0.27, 0.27), (0.35, 0.22, 0.18), (0.20, 0.20, 0.22))


def _road_clear(xy: np.ndarray, roads: list[Road], margin: float) -> bool:
    """True when no point lies on a road or its sidewalks (plus ``margin``)."""
    for road in roads:
        s, t = road.to_st(xy)
        ins = (s >= road.s_range[0] - margin) & (s <= road.s_range[1] + margin)
        lo = road.t_right - road.sidewalk_right - margin
        hi = road.t_left + road.sidewalk_left + margin
        if (ins & (t > lo) & (t < hi)).any():
            return False
    return True


def _rect_samples(rect: np.ndarray) -> np.ndarray:
    a, b, c, d = rect
    u = np.linspace(0, 1, 5)
    uu, vv = np.meshgrid(u, u)
    uu, vv = uu.ravel()[:, None], vv.ravel()[:, None]
    return (1 - uu) * (1 - vv) * a + uu * (1 - vv) * b + uu * vv * c + (1 - uu) * vv * d


def _build_stuff(rng: np.random.Generator, lay: _Layout, b: _Builder, occ: _Occupancy,
                 buildings: list[Building]) -> None:
    main = lay.main
    roads = [main] + lay.arms
    grass = (0.24 + 0.06 * rng.random(), 0.36 + 0.08 * rng.random(), 0.14)
    asphalt = (0.30 + 0.08 * rng.random(),) * 3
    pave = 0.55 + 0.12 * rng.random()
    pave_c = (pave, pave * 0.98, pave * 0.95)
    kerb_c = (pave * 1.05, pave * 1.05, pave * 1.03)
    # base plane (far ground) and a distant tree line that closes the horizon
    big = 450.0
    b.add((np.array([[-big, -big, -0.03], [big, -big, -0.03], [big, big, -0.03], [-big, big, -0.03]]),
           np.array([[0, 1, 2], [0, 2, 3]])), category=C.VEGETATION, material=M.GRASS, color=grass)
    n_ring = 120
    ang = np.arange(n_ring) * 2 * np.pi / n_ring
    rad = 230.0 + 20 * rng.random()
    heights = 10 + 10 * rng.random(n_ring) + 6 * np.sin(ang * rng.integers(2, 6) + rng.uniform(0, 6))
    ring_lo = np.column_stack([rad * np.cos(ang), rad * np.sin(ang), np.full(n_ring, -1.0)])
    ring_hi = np.column_stack([rad * np.cos(ang), rad * np.sin(ang), heights])
    i = np.arange(n_ring)
    j = (i + 1) % n_ring
    b.add((np.vstack([ring_lo, ring_hi]), np.vstack([np.stack([i, j, n_ring + j], 1), np.stack([i, n_ring + j, n_ring + i], 1)])),
          category=C.VEGETATION, material=M.TREELINE, color=(0.20, 0.30, 0.16))

    kerb_h = main.kerb_height
    verge = 30.0
    for road in roads:
        s0, s1 = road.s_range
        b.add(road.strip(s0, s1, road.t_right, road.t_left, 0.0), category=C.ROAD, material=M.ASPHALT,
              color=asphalt, param=0)
        is_arm = road is not main
        for side in (-1, 1):
            edge = road.t_left if side == 1 else road.t_right
            sw = road.sidewalk_left if side == 1 else road.sidewalk_right
            # stretches of this side that are not cut by a crossing road
            if is_arm:
                main_sw = main.sidewalk_left if road.heading > 0 else main.sidewalk_right
                spans_sw = [(main_sw, s1)]
                spans_verge = [(main_sw + verge, s1)]
            else:
                cut = []
                for arm in lay.arms:
                    arm_side = 1 if arm.heading > 0 else -1
                    if arm_side == side:
                        xc = arm.origin[0]
                        cut.append((xc + arm.t_right, xc + arm.t_left, max(arm.sidewalk_left, arm.sidewalk_right)))
                if cut:
                    a0, a1, csw = cut[0]
                    spans_sw = [(s0, a0), (a1, s1)]
                    spans_verge = [(s0, a0 - csw), (a1 + csw, s1)]
                else:
                    spans_sw = [(s0, s1)]
                    spans_verge = [(s0, s1)]
            t_sw = (edge, edge + side * sw)
            for a, c in spans_sw:
                b.add(road.strip(a, c, min(t_sw), max(t_sw), kerb_h), category=C.SIDEWALK, material=M.SIDEWALK,
                      color=pave_c)
                b.add(road.wall(a, c, edge, 0.0, kerb_h), category=C.SIDEWALK, material=M.KERB, color=kerb_c)
                for s_end in (a, c):
                    b.add(road.end_cap(s_end, edge, edge + side * sw, 0.0, kerb_h), category=C.SIDEWALK,
                          material=M.KERB, color=kerb_c)
            paved = rng.random() < 0.35
            v_cat, v_mat, v_col = (C.SIDEWALK, M.SIDEWALK, pave_c) if paved else (C.VEGETATION, M.GRASS, grass)
            t_v = (edge + side * sw, edge + side * (sw + verge))
            for a, c in spans_verge:
                if c - a < 0.5:
                    continue
                b.add(road.strip(a, c, min(t_v), max(t_v), kerb_h), category=v_cat, material=v_mat, color=v_col)
                for s_end in (a, c):
                    b.add(road.end_cap(s_end, t_v[0], t_v[1], 0.0, kerb_h), category=v_cat, material=v_mat,
                          color=v_col)
            _line_side(rng, road, roads, side, edge, sw, kerb_h, b, occ, buildings, is_arm)


def _line_side(rng, road: Road, roads: list[Road], side: int, edge: float, sw: float, kerb_h: float,
               b: _Builder, occ: _Occupancy, buildings: list[Building], is_arm: bool) -> None:
    """Buildings, trees and hedges along one side of a road."""
    s0, s1 = road.s_range
    s_lo = max(s0, -70.0)
    s_hi = min(s1, 160.0)
    if is_arm:
        s_lo = max(s_lo, 2.0)
    setback = float(rng.uniform(0.0, 6.0)) if rng.random() < 0.8 else float(rng.uniform(6.0, 14.0))
    dense = rng.random()
    s = s_lo + float(rng.uniform(0, 10))
    facade_t = edge + side * (sw + setback)
    while s < s_hi:
        width = float(rng.uniform(8, 26))
        gap = float(rng.uniform(0, 4)) if rng.random() < 0.75 else float(rng.uniform(6, 20))
        if rng.random() < 0.15 + 0.25 * (1 - dense):  # an empty lot (trees only)
            s += width + gap
            continue
        depth = float(rng.uniform(8, 18))
        height = float(rng.uniform(5, 22)) if rng.random() < 0.7 else float(rng.uniform(3.5, 7))
        sc = s + width / 2
        heading = float(road.heading_at(sc))
        centre = road.point([sc], [facade_t + side * depth / 2])[0]
        rect = _rect(centre, heading, width, depth)
        # arcs: push the facade out until no corner reaches the sidewalk
        _, tc = road.to_st(rect)
        need = (abs(edge) + sw + 0.3) - (side * tc).min()
        if need > 0:
            nrm = np.array([-math.sin(heading), math.cos(heading)]) * side
            centre = centre + nrm * need
            rect = rect + nrm * need
        if _road_clear(_rect_samples(rect), roads, 0.3) and occ.free(rect):
            occ.add(rect)
            _add_building(rng, b, centre, heading, width, depth, height, buildings)
        s += width + gap
    # trees on the outer part of the sidewalk, hedges along the verge
    if rng.random() < 0.65 and sw >= 2.0:
        spacing = float(rng.uniform(7, 15))
        tree_h = float(rng.uniform(5, 11))
        s = s_lo + float(rng.uniform(0, spacing))
        t_tree = edge + side * (sw - 0.7)
        while s < s_hi:
            p = road.point([s], [t_tree])[0]
            rect = _rect(p, 0.0, 0.7, 0.7)
            if _road_clear(p[None], [r for r in roads if r is not road], 0.5) and occ.free(rect):
                occ.add(rect)
                parts = meshes.tree_model(rng, tree_h * rng.uniform(0.85, 1.15))
                for part in parts:
                    b.add((meshes.transform(part.vertices, 0.0, (p[0], p[1], kerb_h)), part.triangles),
                          category=C.VEGETATION, material=part.material, color=part.color)
            s += spacing * rng.uniform(0.8, 1.2)
    if setback >= 1.6 and rng.random() < 0.5:
        t_h = edge + side * (sw + 0.5 + 0.4)
        s = s_lo + float(rng.uniform(0, 10))
        col = (0.14 + 0.06 * rng.random(), 0.30 + 0.08 * rng.random(), 0.10)
        while s < s_hi:
            length = float(rng.uniform(4, 14))
            if rng.random() < 0.6:
                sc = s + length / 2
                heading = float(road.heading_at(sc))
                p = road.point([sc], [t_h])[0]
                h = float(rng.uniform(0.7, 1.5))
                rect = _rect(p, heading, length, 0.8)
                if _road_clear(_rect_samples(rect), [r for r in roads if r is not road], 0.3) and occ.free(rect):
                    occ.add(rect)
                    v, t = meshes.box((length, 0.8, h), (0.0, 0.0, h / 2))
                    b.add((meshes.transform(v, heading, (p[0], p[1], kerb_h)), t), category=C.VEGETATION,
                          material=M.FOLIAGE, color=col)
            s += length + float(rng.uniform(1, 8))
    # trees on the verge behind (parks, gardens)
    for _ in range(int(rng.integers(0, 6))):
        s = float(rng.uniform(s_lo, s_hi))
        t = edge + side * (sw + float(rng.uniform(1.5, 20)))
        p = road.point([s], [t])[0]
        rect = _rect(p, 0.0, 1.0, 1.0)
        if _road_clear(p[None], roads, 1.0) and occ.free(rect):
            occ.add(rect)
            for part in meshes.tree_model(rng, float(rng.uniform(4, 14))):
                b.add((meshes.transform(part.vertices, 0.0, (p[0], p[1], kerb_h)), part.triangles),
                      category=C.VEGETATION, material=part.material, color=part.color)


def _add_building(rng, b: _Builder, centre, heading, width, depth, height, buildings: list[Building]) -> None:
    idx = len(buildings)
    floor_h = float(rng.uniform(2.8, 3.6))
    spacing = float(rng.uniform(2.2, 4.0))
    buildings.append(Building(
        height=float(height), floor_height=floor_h, window_spacing=spacing, window_width=float(rng.uniform(0.35, 0.6)) * spacing,
        window_height=float(rng.uniform(0.4, 0.6)) * floor_h, sill=float(rng.uniform(0.22, 0.32)) * floor_h,
        ground_floor=float(rng.uniform(0.0, 1.0)),
        window_color=tuple(float(x) for x in (0.10, 0.13, 0.17) + rng.uniform(-0.03, 0.05, 3)),
        frame_color=(0.85, 0.85, 0.83) if rng.random() < 0.6 else (0.25, 0.22, 0.2)))
    col = meshes._jitter(_FACADES[int(rng.integers(len(_FACADES)))], rng, 0.06)
    v, t = meshes.box((width, depth, height + 0.5), (0.0, 0.0, (height + 0.5) / 2 - 0.5))
    b.add((meshes.transform(v, heading, (centre[0], centre[1], 0.0)), t), category=C.BUILDING, material=M.FACADE,
          color=col, param=idx)
    if height < 12 and rng.random() < 0.6:  # pitched roof
        rh = float(rng.uniform(2.0, 4.5))
        prof = np.array([[-depth / 2, height], [depth / 2, height], [0.0, height + rh]])  # (y, z) profile
        pv, pt = meshes.prism_y(prof, -width / 2, width / 2)
        pv = pv[:, [1, 0, 2]]  # extrude along x instead
        roof_c = meshes._jitter(_ROOFS[int(rng.integers(len(_ROOFS)))], rng, 0.05)
        b.add((meshes.transform(pv, heading, (centre[0], centre[1], 0.0)), pt), category=C.BUILDING,
              material=M.ROOF, color=roof_c, param=idx)


# ------------------------------------------------------------------------ things
def _sample_car_dims(rng) -> tuple[float, float, float]:
    length = float(np.clip(rng.normal(3.9, 0.4), 3.2, 5.2))
    width = float(np.clip(rng.normal(1.6, 0.1) + 0.05 * (length - 3.9), 1.4, 1.95))
    height = float(np.clip(rng.normal(1.55, 0.1), 1.35, 1.95))
    return length, width, height


def _place_things(rng: np.random.Generator, config: SimConfig, lay: _Layout, ego_xy: np.ndarray,
                  ego_heading: float, b: _Builder, occ: _Occupancy) -> list[tuple]:
    """Sample things; returns ``(category_id, kind, tri_start, tri_stop, centre_map (3,), dims (3,), yaw_map)``."""
    main = lay.main
    roads = [main] + lay.arms
    r_lo, r_hi = config.object_range
    placed = []

    def in_range(p) -> bool:
        d = float(np.hypot(*(p[:2] - ego_xy)))
        return r_lo <= d <= r_hi

    def on_other_road(xy, road: Road) -> bool:
        for other in roads:
            if other is road:
                continue
            s, t = other.to_st(xy[None])
            if other.s_range[0] <= s[0] <= other.s_range[1] and other.t_right - 0.3 <= t[0] <= other.t_left + 0.3:
                return True
        return False

    def try_place(category: int, kind: str, make_parts, pose_fn, margin: float, tries: int = 25) -> bool:
        parts = make_parts()
        centre_l, size = meshes.tight_box(parts)
        for _ in range(tries):
            pose = pose_fn()
            if pose is None:
                continue
            xy, z, yaw = pose
            c, s = math.cos(yaw), math.sin(yaw)
            centre = np.array([xy[0] + c * centre_l[0] - s * centre_l[1], xy[1] + s * centre_l[0] + c * centre_l[1],
                               z + centre_l[2]])
            if not in_range(centre):
                continue
            rect = _rect(centre, yaw, size[0] + 2 * margin, size[1] + 2 * margin)
            if not occ.free(rect):
                continue
            occ.add(_rect(centre, yaw, size[0], size[1]))
            start = b.n_tris
            for part in parts:
                b.add((meshes.transform(part.vertices, yaw, (xy[0], xy[1], z)), part.triangles), category=category,
                      material=part.material, color=part.color, instance=len(placed) + 1)
            placed.append((category, kind, start, b.n_tris, centre, size, yaw))
            return True
        return False

    s_front = (-25.0, 75.0)

    def lane_pose(road: Road, t_c: float, direction: int, s_rng, lateral: float, yaw_sd: float):
        s = float(rng.uniform(*s_rng))
        t = t_c + float(rng.uniform(-lateral, lateral))
        xy = road.point([s], [t])[0]
        yaw = float(road.heading_at(s)) + (0.0 if direction > 0 else math.pi) + float(rng.normal(0, yaw_sd))
        return xy, 0.0, yaw

    # cars
    n_cars = int(rng.integers(config.num_cars[0], config.num_cars[1] + 1))
    for _ in range(n_cars):
        options = [("lane", 1.0)]
        if main.parking:
            options.append(("parked", 1.2))
        if lay.arms:
            options.append(("cross_lane", 0.8))
        names = [o[0] for o in options]
        p = np.array([o[1] for o in options])
        kind = names[int(rng.choice(len(names), p=p / p.sum()))]
        dims = _sample_car_dims(rng)
        model = lambda d=dims: meshes.car_model(*d, rng)
        if kind == "lane":
            lane = main.lanes[int(rng.integers(len(main.lanes)))]
            pose = lambda lane=lane: lane_pose(main, lane[0], lane[1], s_front, 0.3, math.radians(1.5))
        elif kind == "parked":
            strip = main.parking[int(rng.integers(len(main.parking)))]
            t_kerb = strip[0] + np.sign(strip[0]) * (strip[2] / 2 - dims[1] / 2 - 0.2)
            direction = strip[1] if rng.random() < 0.85 else -strip[1]
            def pose(t=t_kerb, d=direction):
                out = lane_pose(main, t, d, s_front, 0.1, math.radians(3.0))
                if lay.junction is not None:
                    s_c, _ = main.to_st(out[0][None])
                    if lay.junction[0] - 8.0 <= s_c[0] <= lay.junction[1] + 8.0:
                        return None
                return out
        else:
            arm = lay.arms[int(rng.integers(len(lay.arms)))]
            lane = arm.lanes[int(rng.integers(len(arm.lanes)))]
            pose = lambda arm=arm, lane=lane: lane_pose(arm, lane[0], lane[1], (1.0, 60.0), 0.3, math.radians(1.5))
        try_place(C.CAR, kind, model, pose, margin=0.5)

    # pedestrians
    n_ped = int(rng.integers(config.num_pedestrians[0], config.num_pedestrians[1] + 1))
    for _ in range(n_ped):
        height = float(np.clip(rng.normal(1.75, 0.1), 1.45, 2.0))
        walking = bool(rng.random() < 0.8)
        model = lambda h=height, w=walking: meshes.pedestrian_model(h, rng, walking=w)
        road = roads[int(rng.integers(len(roads)))] if rng.random() < 0.4 else main
        s_rng = s_front if road is main else (1.0, 50.0)
        if rng.random() < 0.78:  # on a sidewalk
            side = 1 if rng.random() < 0.5 else -1
            edge = road.t_left if side == 1 else road.t_right
            sw = road.sidewalk_left if side == 1 else road.sidewalk_right

            def pose(road=road, edge=edge, sw=sw, side=side, s_rng=s_rng):
                s = float(rng.uniform(*s_rng))
                t = edge + side * float(rng.uniform(0.45, max(0.5, sw - 0.45)))
                xy = road.point([s], [t])[0]
                if on_other_road(xy, road):
                    return None
                if rng.random() < 0.7:
                    yaw = float(road.heading_at(s)) + (0.0 if rng.random() < 0.5 else math.pi) + rng.normal(0, 0.3)
                else:
                    yaw = float(rng.uniform(-math.pi, math.pi))
                return xy, road.kerb_height, yaw
            try_place(C.PEDESTRIAN, "sidewalk", model, pose, margin=0.25)
        else:  # crossing the road, on a zebra crossing when there is one

            def pose(road=road, s_rng=s_rng):
                if road.crosswalks and rng.random() < 0.7:
                    c0, c1 = road.crosswalks[int(rng.integers(len(road.crosswalks)))]
                    s = float(rng.uniform(c0 + 0.5, c1 - 0.5))
                else:
                    s = float(rng.uniform(*s_rng))
                t = float(rng.uniform(road.t_right + 0.5, road.t_left - 0.5))
                xy = road.point([s], [t])[0]
                yaw = float(road.heading_at(s)) + (math.pi / 2 if rng.random() < 0.5 else -math.pi / 2)
                return xy, 0.0, yaw + float(rng.normal(0, 0.2))
            try_place(C.PEDESTRIAN, "crossing", model, pose, margin=0.25)

    # cyclists: at the right edge of the outermost lane of either direction
    n_cyc = int(rng.integers(config.num_cyclists[0], config.num_cyclists[1] + 1))
    for _ in range(n_cyc):
        model = lambda: meshes.cyclist_model(rng)
        road = main if (not lay.arms or rng.random() < 0.75) else lay.arms[int(rng.integers(len(lay.arms)))]
        s_rng = s_front if road is main else (1.0, 50.0)
        directions = sorted({d for _, d in road.lanes})
        direction = directions[int(rng.integers(len(directions)))]
        outer = [t for t, d in road.lanes if d == direction]
        t_edge = (min(outer) - road.lane_width / 2 + 0.75) if direction > 0 else (max(outer) + road.lane_width / 2 - 0.75)
        pose = lambda road=road, t=t_edge, d=direction, s_rng=s_rng: lane_pose(road, t, d, s_rng, 0.15,
                                                                               math.radians(3.0))
        try_place(C.CYCLIST, "road_edge", model, pose, margin=0.4)
    return placed


# ----------------------------------------------------------------------------- entry
def sample_scene(rng: np.random.Generator, config: SimConfig) -> Scene:
    """Sample one scene (layout, stuff and things) and express it in the LiDAR frame."""
    lay = _sample_layout(rng, config)
    b = _Builder()
    occ = _Occupancy()
    buildings: list[Building] = []
    # ego pose in the map frame: in its lane, heading along the road (small jitter)
    ego_xy = np.array([0.0, lay.ego_t + float(rng.uniform(-0.3, 0.3))])
    ego_heading = float(rng.normal(0.0, math.radians(1.0)))
    c, s = math.cos(ego_heading), math.sin(ego_heading)
    rot = np.array([[c, -s], [s, c]])  # LiDAR xy -> map xy
    ego_fwd = rot[:, 0]
    ego_centre = ego_xy + ego_fwd * (_EGO_X[0] + _EGO_X[1]) / 2
    occ.add(_rect(ego_centre, ego_heading, _EGO_X[1] - _EGO_X[0] + 1.0, 2 * _EGO_HALF_W + 0.6))
    _build_stuff(rng, lay, b, occ, buildings)
    placed = _place_things(rng, config, lay, ego_xy, ego_heading, b, occ)
    verts, tris, cat, inst, mat, param, color = b.arrays()
    # map -> LiDAR frame
    xy = (verts[:, :2] - ego_xy) @ rot  # rot.T applied on the right of row vectors
    verts_l = np.column_stack([xy, verts[:, 2] - config.lidar_height]).astype(np.float32)
    things = []
    for k, (cat_id, kind, t0, t1, centre, size, yaw) in enumerate(placed):
        cxy = (centre[:2] - ego_xy) @ rot
        yaw_l = math.remainder(yaw - ego_heading, 2 * math.pi)
        box = np.array([cxy[0], cxy[1], centre[2] - config.lidar_height, size[0], size[1], size[2], yaw_l])
        things.append(Thing(instance=k + 1, category_id=cat_id, box=box, tri_range=(t0, t1), kind=kind))
    return Scene(vertices=verts_l, triangles=tris, tri_category=cat, tri_instance=inst, tri_material=mat,
                 tri_param=param, tri_color=color, things=things, roads=[lay.main] + lay.arms, buildings=buildings,
                 map_rotation=rot, map_translation=ego_xy, lidar_height=config.lidar_height, layout=lay.kind)
