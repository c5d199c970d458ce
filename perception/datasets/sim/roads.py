"""Road geometry in the map frame: straight and circular-arc roads with lanes and markings.

The map frame has x along the ego road at the ego's position, y to the left,
z up from the road surface.  A :class:`Road` maps between map coordinates and
road coordinates ``(s, t)``: ``s`` the arc length along the centre line,
``t`` the signed lateral offset (positive to the left of the road direction).
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np

__all__ = ["Marking", "Road"]


@dataclasses.dataclass
class Marking:
    """A painted line along the road at lateral offset ``t``.

    ``kind``: ``"solid"`` or ``"dashed"`` (``dash`` m painted, ``gap`` m bare, from ``phase``).
    """

    t: float
    width: float = 0.12
    kind: str = "solid"
    dash: float = 3.0
    gap: float = 6.0
    phase: float = 0.0


@dataclasses.dataclass
class Road:
    """A road: centre line (straight for ``curvature == 0``, else a circular arc) and cross-section.

    Attributes:
        origin, heading: centre-line point and direction at ``s = 0`` (map frame).
        curvature: ``1 / radius`` (positive turns left).
        s_range: ``(s_min, s_max)`` extent of the road surface.
        t_right, t_left: kerb offsets (``t_right < 0 < t_left`` usually).
        lane_width: width of a driving lane.
        lanes: ``(t_centre, direction)`` of each driving lane; direction ``+1`` drives toward +s.
        parking: ``(t_centre, direction, width)`` of parking strips along the kerb.
        markings: painted lines; ``marking_gaps``: ``(s0, s1)`` stretches without lines (junctions).
        crosswalks: ``(s0, s1)`` zebra crossings over the full width.
        stop_lines: ``(s, t0, t1)`` transverse lines.
        sidewalk_right, sidewalk_left: sidewalk widths beyond each kerb (0: none).
        kerb_height: height of the sidewalk above the road.
    """

    origin: tuple[float, float]
    heading: float
    curvature: float
    s_range: tuple[float, float]
    t_right: float
    t_left: float
    lane_width: float
    lanes: list[tuple[float, int]] = dataclasses.field(default_factory=list)
    parking: list[tuple[float, int, float]] = dataclasses.field(default_factory=list)
    markings: list[Marking] = dataclasses.field(default_factory=list)
    marking_gaps: list[tuple[float, float]] = dataclasses.field(default_factory=list)
    crosswalks: list[tuple[float, float]] = dataclasses.field(default_factory=list)
    stop_lines: list[tuple[float, float, float]] = dataclasses.field(default_factory=list)
    sidewalk_right: float = 2.5
    sidewalk_left: float = 2.5
    kerb_height: float = 0.13

    # ------------------------------------------------------------------ geometry
    @property
    def straight(self) -> bool:
        return abs(self.curvature) < 1e-9

    def heading_at(self, s) -> np.ndarray:
        return self.heading + self.curvature * np.asarray(s, np.float64)

    def centre(self, s) -> np.ndarray:
        """``(N, 2)`` centre-line points."""
        s = np.atleast_1d(np.asarray(s, np.float64))
        o = np.asarray(self.origin, np.float64)
        if self.straight:
            d = np.array([math.cos(self.heading), math.sin(self.heading)])
            return o + s[:, None] * d
        r = 1.0 / self.curvature
        n0 = np.array([-math.sin(self.heading), math.cos(self.heading)])
        c = o + r * n0
        th = self.heading_at(s)
        return c - r * np.stack([-np.sin(th), np.cos(th)], axis=1)

    def point(self, s, t) -> np.ndarray:
        """``(N, 2)`` map points at road coordinates ``(s, t)``."""
        s = np.atleast_1d(np.asarray(s, np.float64))
        t = np.broadcast_to(np.asarray(t, np.float64), s.shape)
        th = self.heading_at(s)
        return self.centre(s) + t[:, None] * np.stack([-np.sin(th), np.cos(th)], axis=1)

    def to_st(self, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Road coordinates of ``(N, 2)`` map points (arcs: within half a turn of ``s = 0``)."""
        xy = np.asarray(xy, np.float64).reshape(-1, 2)
        o = np.asarray(self.origin, np.float64)
        if self.straight:
            d = np.array([math.cos(self.heading), math.sin(self.heading)])
            n = np.array([-d[1], d[0]])
            rel = xy - o
            return rel @ d, rel @ n
        r = 1.0 / self.curvature
        n0 = np.array([-math.sin(self.heading), math.cos(self.heading)])
        rel = xy - (o + r * n0)
        rho = np.hypot(rel[:, 0], rel[:, 1])
        if r > 0:
            th = np.arctan2(rel[:, 0], -rel[:, 1])
            t = r - rho
        else:
            th = np.arctan2(-rel[:, 0], rel[:, 1])
            t = rho + r
        dth = np.remainder(th - self.heading + math.pi, 2 * math.pi) - math.pi
        return dth / self.curvature, t

    def s_samples(self, s0: float, s1: float, step: float = 2.0) -> np.ndarray:
        if self.straight:
            return np.array([s0, s1], np.float64)
        n = max(2, int(math.ceil((s1 - s0) / step)) + 1)
        return np.linspace(s0, s1, n)

    # -------------------------------------------------------------------- meshes
    def strip(self, s0: float, s1: float, t0: float, t1: float, z: float) -> tuple[np.ndarray, np.ndarray]:
        """Flat surface between ``t0`` and ``t1`` at height ``z``."""
        s = self.s_samples(s0, s1)
        a, b = self.point(s, t0), self.point(s, t1)
        n = len(s)
        verts = np.vstack([np.column_stack([a, np.full(n, z)]), np.column_stack([b, np.full(n, z)])])
        i = np.arange(n - 1)
        tris = np.vstack([np.stack([i, i + 1, n + i + 1], 1), np.stack([i, n + i + 1, n + i], 1)])
        return verts, tris

    def wall(self, s0: float, s1: float, t: float, z0: float, z1: float) -> tuple[np.ndarray, np.ndarray]:
        """Vertical surface along the road at offset ``t`` (a kerb face)."""
        s = self.s_samples(s0, s1)
        p = self.point(s, t)
        n = len(s)
        verts = np.vstack([np.column_stack([p, np.full(n, z0)]), np.column_stack([p, np.full(n, z1)])])
        i = np.arange(n - 1)
        tris = np.vstack([np.stack([i, i + 1, n + i + 1], 1), np.stack([i, n + i + 1, n + i], 1)])
        return verts, tris

    def end_cap(self, s: float, t0: float, t1: float, z0: float, z1: float) -> tuple[np.ndarray, np.ndarray]:
        """Vertical surface across the road at ``s`` (end of a raised slab)."""
        p = self.point([s, s], [t0, t1])
        verts = np.array([[*p[0], z0], [*p[1], z0], [*p[1], z1], [*p[0], z1]])
        return verts, np.array([[0, 1, 2], [0, 2, 3]])

    # ------------------------------------------------------------------ markings
    def marking_mask(self, xy: np.ndarray) -> np.ndarray:
        """``(N,)`` bool: map points on paint (lines, zebra crossings, stop lines) of this road."""
        s, t = self.to_st(xy)
        on = (s >= self.s_range[0]) & (s <= self.s_range[1]) & (t >= self.t_right) & (t <= self.t_left)
        out = np.zeros(len(s), dtype=bool)
        if not on.any():
            return out
        s_on, t_on = s[on], t[on]
        paint = np.zeros(len(s_on), dtype=bool)
        for m in self.markings:
            near = np.abs(t_on - m.t) <= m.width / 2
            if m.kind == "dashed":
                near &= np.remainder(s_on - m.phase, m.dash + m.gap) < m.dash
            paint |= near
        for g0, g1 in self.marking_gaps:
            paint &= ~((s_on >= g0) & (s_on <= g1))
        for c0, c1 in self.crosswalks:
            inside = (s_on >= c0) & (s_on <= c1) & (t_on >= self.t_right + 0.3) & (t_on <= self.t_left - 0.3)
            stripes = np.remainder(t_on - self.t_right, 1.0) < 0.5
            paint |= inside & stripes
        for sl, a, b in self.stop_lines:
            paint |= (np.abs(s_on - sl) <= 0.2) & (t_on >= min(a, b)) & (t_on <= max(a, b))
        out[on] = paint
        return out
