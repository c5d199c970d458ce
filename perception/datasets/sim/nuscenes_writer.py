"""The simulator's nuScenes exporter: a small nuScenes-format database that the official devkit loads.

Each *scene* is one simulated world (:func:`~perception.datasets.sim.scene.sample_scene` with the random streams
of frame ``index`` of the KITTI generator, :func:`~perception.datasets.sim.generator.frame_rngs`), observed over a
few seconds while the ego car drives along its lane:

* **motion**: the ego follows its lane at a constant speed; cars driving in a lane and cyclists on the main road
  follow the road at the speed of their direction of travel (the ego's for its own direction, so nobody runs
  into anybody), pedestrians walk in a straight line or stand, parked cars and cars on the side roads stand;
* **LiDAR** (``LIDAR_TOP``): the simulator's spinning LiDAR (:func:`~perception.datasets.sim.lidar.simulate_lidar`)
  fired from the moving car, ``sweeps_per_sample + 1`` sweeps per 0.5 s (the key frame and the sweeps
  before it), written as nuScenes ``.pcd.bin`` (float32 ``[x, y, z, intensity 0-255, ring]``) in the
  sensor frame, which is mounted like the real one (x right, y forward, z up);
* **cameras**: the six nuScenes cameras (or a subset), rendered with
  :func:`~perception.datasets.sim.render.render_camera` at key frames, each a few ms after the LiDAR key
  frame (when the spinning LiDAR crosses its view, as on the real car), so each camera has its own ego pose;
* **annotations**: every object at every key frame: the exact box, the number of LiDAR returns on it, a
  visibility bin (the fraction of the LiDAR rays hitting the object alone that still reach it in the full
  scene) and an attribute (moving / parked / stopped / standing / with rider).

Classes: simulator ``Car`` -> ``vehicle.car``, ``Pedestrian`` -> ``human.pedestrian.adult``, ``Cyclist`` ->
``vehicle.bicycle`` with ``cycle.with_rider`` (a nuScenes bicycle box holds its rider).

Output (:func:`generate_nuscenes_dataset`)::

    <root>/sim_nuscenes.json                 generator version, settings, fingerprint, statistics
    <root>/<version>/*.json                  the 13 tables NuScenes(version, dataroot) loads
    <root>/<version>/splits.json             the devkit's custom splits: {"sim_train": [...], "sim_val": [...]}
    <root>/samples/LIDAR_TOP/*.pcd.bin       key-frame sweeps;  <root>/sweeps/LIDAR_TOP/*.pcd.bin the others
    <root>/samples/CAM_*/*.jpg               key-frame images
    <root>/maps/sim_semantic_prior.png       a blank placeholder map (the devkit needs a map file)

Scenes are named ``sim-0000``, ...; scene ``k`` is in ``sim_val`` when ``k % val_every == val_every - 1``,
else in ``sim_train``.  The devkit's evaluation takes these custom split names (``eval_set='sim_val'``).
Everything is deterministic in the config; re-running with the same config into a finished root reuses it.
"""
from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import math
import multiprocessing as mp
import os
import time
from typing import Any, Optional

import numpy as np

from perception.datasets.nuscenes_io import (ATTRIBUTE_NAMES, CAMERA_CHANNELS, CATEGORY_NAMES, LIDAR_CHANNEL,
                                             TABLE_NAMES, VISIBILITY_LEVELS, check_tables, matrix_to_quaternion,
                                             yaw_quaternion)
from perception.structures import KittiCalibration
from perception.utils.fileio import atomic_write_bytes, atomic_write_text, read_json

from . import categories as C
from .config import SimConfig
from .generator import SimDatasetError, frame_rngs
from .lidar import LidarScan, beam_elevations, lidar_directions, simulate_lidar
from .raycast import Raycaster
from .render import render_camera, sample_lighting
from .roads import Road
from .scene import Scene, sample_scene
from .version import GENERATOR_VERSION

__all__ = ["NuScenesSimConfig", "SENSOR_RIG", "CameraMount", "SIM_CATEGORIES", "SPLIT_TRAIN", "SPLIT_VAL",
           "generate_nuscenes_dataset"]

#: Names of the custom splits written to ``<root>/<version>/splits.json``.
SPLIT_TRAIN, SPLIT_VAL = "sim_train", "sim_val"
#: Simulator thing category -> nuScenes category.
SIM_CATEGORIES = {C.CAR: "vehicle.car", C.PEDESTRIAN: "human.pedestrian.adult", C.CYCLIST: "vehicle.bicycle"}
#: Key frames are 0.5 s apart (nuScenes samples at 2 Hz); times are in microseconds.
SAMPLE_PERIOD_US = 500_000
_META_FILE = "sim_nuscenes.json"
_MAP_FILE = "maps/sim_semantic_prior.png"
_TIME_ORIGIN_US = 1_600_000_000_000_000  # 2020-09-13, the first scene's first key frame
_SCENE_SPACING_US = 3_600_000_000  # one hour between scenes (each is its own log)
_SPIN_PERIOD_US = 50_000  # one LiDAR turn (20 Hz): sets the cameras' capture delays
#: Ego frame -> LiDAR: mounted on the roof 0.943 m ahead of the rear axle, turned -90 deg about z as on the
#: real nuScenes car (sensor x = ego right, sensor y = ego forward).  Its height is ``SimConfig.lidar_height``.
LIDAR_MOUNT_X, LIDAR_MOUNT_YAW = 0.943, -math.pi / 2


@dataclasses.dataclass(frozen=True)
class CameraMount:
    """Where a camera sits on the ego car: ``translation`` ``(3,)`` in the ego frame (m), ``yaw`` of its optical
    axis about ego +z (rad, 0 = forward), ``focal_1600`` focal length in pixels for a 1600-pixel-wide image."""

    translation: tuple[float, float, float]
    yaw: float
    focal_1600: float


#: The nuScenes camera rig (positions and viewing directions close to the real car's).
SENSOR_RIG = {
    "CAM_FRONT": CameraMount((1.70, 0.02, 1.51), 0.0, 1266.0),
    "CAM_FRONT_RIGHT": CameraMount((1.55, -0.49, 1.50), math.radians(-55.0), 1260.0),
    "CAM_FRONT_LEFT": CameraMount((1.52, 0.49, 1.51), math.radians(55.0), 1272.0),
    "CAM_BACK": CameraMount((0.03, 0.00, 1.57), math.pi, 809.0),
    "CAM_BACK_LEFT": CameraMount((1.04, 0.48, 1.56), math.radians(110.0), 1256.0),
    "CAM_BACK_RIGHT": CameraMount((1.03, -0.48, 1.56), math.radians(-110.0), 1259.0),
}


@dataclasses.dataclass(frozen=True)
class NuScenesSimConfig:
    """Settings of the nuScenes export (besides the simulator's own, ``sim``).

    Attributes:
        sim: scene content, LiDAR model and base seed (its image size is not used: see ``image_width``).
        num_scenes: scenes (one log each); scene ``k`` uses the simulator's random streams of frame ``k``.
        samples_per_scene: key frames per scene, 0.5 s apart.
        sweeps_per_sample: LiDAR sweeps between two key frames (also before the first one); the LiDAR runs
            at ``2 * (sweeps_per_sample + 1)`` Hz (20 Hz, as nuScenes, for 9).
        cameras: camera channels rendered at key frames (any of :data:`SENSOR_RIG`).
        image_width, image_height: camera image size (the rig's focal lengths are scaled from 1600 px).
        val_every: scene ``k`` is in ``sim_val`` when ``k % val_every == val_every - 1``.
        version: the table directory name (``NuScenes(version=...)``).
        ego_speed: ``(min, max)`` speed of the ego and of the lane traffic (m/s).
        jpeg_quality: JPEG quality of the images (1-95).
    """

    sim: SimConfig = dataclasses.field(default_factory=SimConfig)
    num_scenes: int = 10
    samples_per_scene: int = 10
    sweeps_per_sample: int = 9
    cameras: tuple[str, ...] = CAMERA_CHANNELS
    image_width: int = 800
    image_height: int = 450
    val_every: int = 5
    version: str = "v1.0-mini"
    ego_speed: tuple[float, float] = (3.0, 9.0)
    jpeg_quality: int = 90

    def __post_init__(self):
        object.__setattr__(self, "cameras", tuple(self.cameras))
        object.__setattr__(self, "ego_speed", tuple(float(v) for v in self.ego_speed))
        if isinstance(self.sim, dict):
            object.__setattr__(self, "sim", SimConfig.from_dict(self.sim))
        unknown = [c for c in self.cameras if c not in SENSOR_RIG]
        if unknown or len(set(self.cameras)) != len(self.cameras):
            raise ValueError(f"cameras must be distinct channels of {tuple(SENSOR_RIG)}, got {self.cameras}")
        for name, low in (("num_scenes", 1), ("samples_per_scene", 2), ("sweeps_per_sample", 0)):
            if int(getattr(self, name)) < low:
                raise ValueError(f"{name} must be >= {low}, got {getattr(self, name)}")
        if self.image_width < 16 or self.image_height < 16:
            raise ValueError(f"camera images must be at least 16x16, got {self.image_width}x{self.image_height}")
        if self.val_every < 2:
            raise ValueError(f"val_every must be >= 2, got {self.val_every}")
        lo, hi = self.ego_speed
        if not 0 <= lo <= hi <= 30:
            raise ValueError(f"ego_speed must be (min, max) with 0 <= min <= max <= 30 m/s, got {self.ego_speed}")
        if not 1 <= self.jpeg_quality <= 95:
            raise ValueError(f"jpeg_quality must be in 1..95, got {self.jpeg_quality}")
        if not self.version or "/" in self.version:
            raise ValueError(f"version must be a directory name such as 'v1.0-mini', got {self.version!r}")

    @classmethod
    def tiny(cls, **overrides: Any) -> "NuScenesSimConfig":
        """Small and fast, for tests: 2 scenes (one per split) of 3 key frames, 2 sweeps between key frames,
        the simulator's tiny preset (32 beams), 160x90 images of the six cameras."""
        seed = overrides.pop("seed", 0)
        values = dict(sim=SimConfig.tiny(seed=seed), num_scenes=2, samples_per_scene=3, sweeps_per_sample=2,
                      image_width=160, image_height=90, val_every=2)
        values.update(overrides)
        return cls(**values)

    def to_dict(self) -> dict:
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        out["sim"] = self.sim.to_dict()
        out["cameras"], out["ego_speed"] = list(self.cameras), list(self.ego_speed)
        return out

    def fingerprint(self) -> str:
        text = json.dumps({"generator_version": GENERATOR_VERSION, "format": "nuscenes", **self.to_dict()},
                          sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def split_of(self, scene_index: int) -> str:
        return SPLIT_VAL if scene_index % self.val_every == self.val_every - 1 else SPLIT_TRAIN


# ------------------------------------------------------------------------------------------ tokens
def _token(*parts: Any) -> str:
    """A deterministic 32-hex-digit token (nuScenes tokens look the same)."""
    return hashlib.md5("/".join(str(p) for p in parts).encode()).hexdigest()


def _rot2(angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[c, -s], [s, c]])


def _rot3z(angle: float) -> np.ndarray:
    out = np.eye(3)
    out[:2, :2] = _rot2(angle)
    return out


# ------------------------------------------------------------------------------------------ motion
@dataclasses.dataclass
class _Motion:
    """A planar trajectory in the map frame: straight at ``speed`` along ``yaw0``, or, with a ``road``,
    along the road at a fixed lateral offset (``direction`` +1 toward +s)."""

    centre0: np.ndarray  # (3,) map frame
    yaw0: float
    speed: float = 0.0
    road: Optional[Road] = None
    s0: float = 0.0
    t0: float = 0.0
    direction: int = 1
    yaw_offset: float = 0.0

    @classmethod
    def along(cls, road: Road, centre0: np.ndarray, yaw0: float, speed: float) -> "_Motion":
        s, t = road.to_st(centre0[None, :2])
        heading = float(road.heading_at(s[0]))
        direction = 1 if math.cos(yaw0 - heading) >= 0 else -1
        offset = math.remainder(yaw0 - heading - (0.0 if direction > 0 else math.pi), 2 * math.pi)
        return cls(centre0=centre0, yaw0=yaw0, speed=speed, road=road, s0=float(s[0]), t0=float(t[0]),
                   direction=direction, yaw_offset=offset)

    def pose(self, tau: float) -> tuple[np.ndarray, float]:
        """``(centre (3,), yaw)`` at time ``tau`` (s) in the map frame."""
        if self.speed == 0.0:
            return self.centre0.copy(), self.yaw0
        if self.road is None:
            d = self.speed * tau * np.array([math.cos(self.yaw0), math.sin(self.yaw0), 0.0])
            return self.centre0 + d, self.yaw0
        s = self.s0 + self.direction * self.speed * tau
        xy = self.road.point([s], [self.t0])[0]
        yaw = float(self.road.heading_at(s)) + (0.0 if self.direction > 0 else math.pi) + self.yaw_offset
        return np.array([xy[0], xy[1], self.centre0[2]]), yaw


def _on_road_along(road: Road, xy: np.ndarray, yaw: float) -> bool:
    """The point lies on the road surface and the heading runs along it (either way)."""
    s, t = road.to_st(xy[None])
    inside = road.s_range[0] <= s[0] <= road.s_range[1] and road.t_right <= t[0] <= road.t_left
    return bool(inside and abs(math.cos(yaw - float(road.heading_at(s[0])))) > 0.95)


class _World:
    """A sampled scene put in motion: the state of every mesh at any time, in the ego LiDAR frame."""

    def __init__(self, scene: Scene, config: NuScenesSimConfig, rng: np.random.Generator):
        self.scene = scene
        self.h = scene.lidar_height
        rot0, t0 = scene.map_rotation, scene.map_translation
        self.verts_map = np.column_stack([scene.vertices[:, :2].astype(np.float64) @ rot0.T + t0,
                                          scene.vertices[:, 2].astype(np.float64) + self.h])
        heading0 = math.atan2(rot0[1, 0], rot0[0, 0])
        main = scene.roads[0]
        v_fwd = float(rng.uniform(*config.ego_speed))
        v_back = float(rng.uniform(*config.ego_speed))
        self.ego = _Motion.along(main, np.array([t0[0], t0[1], 0.0]), heading0, v_fwd)
        self.motions: list[_Motion] = []
        self.vertex_index: list[np.ndarray] = []
        for thing in scene.things:
            centre = np.array([*(rot0 @ thing.box[:2] + t0), thing.box[2] + self.h])
            yaw = heading0 + float(thing.box[6])
            motion = _Motion(centre0=centre, yaw0=yaw)
            if thing.category_id in (C.CAR, C.CYCLIST) and thing.kind in ("lane", "road_edge") \
                    and _on_road_along(main, centre[:2], yaw):
                motion = _Motion.along(main, centre, yaw, 1.0)
                motion.speed = v_fwd if motion.direction > 0 else v_back
            elif thing.category_id == C.CYCLIST:
                motion.speed = float(rng.uniform(2.0, 5.0))
            elif thing.category_id == C.PEDESTRIAN:
                walking = rng.random() < (0.8 if thing.kind == "crossing" else 0.6)
                motion.speed = float(rng.uniform(0.8, 1.6)) if walking else 0.0
            self.motions.append(motion)
            self.vertex_index.append(np.unique(scene.triangles[thing.tri_range[0]:thing.tri_range[1]]))

    def lidar_pose(self, tau: float) -> tuple[np.ndarray, float]:
        """Map-frame position ``(2,)`` and heading of the simulator's LiDAR frame (x forward) at ``tau``."""
        centre, yaw = self.ego.pose(tau)
        return centre[:2], yaw

    def scene_at(self, tau: float) -> Scene:
        """The scene at time ``tau``, in the LiDAR frame of that moment (the simulator's frame: x forward)."""
        verts = self.verts_map.copy()
        things = []
        e, psi = self.lidar_pose(tau)
        rot = _rot2(psi)
        for thing, motion, idx in zip(self.scene.things, self.motions, self.vertex_index):
            centre, yaw = motion.pose(tau)
            if motion.speed:
                d = _rot2(yaw - motion.yaw0)
                verts[idx, :2] = (verts[idx, :2] - motion.centre0[:2]) @ d.T + centre[:2]
            box = thing.box.copy()
            box[:2] = (centre[:2] - e) @ rot
            box[2] = centre[2] - self.h
            box[6] = math.remainder(yaw - psi, 2 * math.pi)
            things.append(dataclasses.replace(thing, box=box))
        local = np.column_stack([(verts[:, :2] - e) @ rot, verts[:, 2] - self.h]).astype(np.float32)
        return dataclasses.replace(self.scene, vertices=local, things=things, map_rotation=rot,
                                   map_translation=np.asarray(e, np.float64))


# ------------------------------------------------------------------------------------------ sensors
def _ego_from_lidar_sim(lidar_height: float) -> np.ndarray:
    """``(4, 4)`` simulator LiDAR frame (x forward) -> ego frame."""
    out = np.eye(4)
    out[:3, 3] = (LIDAR_MOUNT_X, 0.0, lidar_height)
    return out


def _lidar2ego(lidar_height: float) -> np.ndarray:
    """``(4, 4)`` ``LIDAR_TOP`` sensor frame (x right, y forward) -> ego frame."""
    out = _ego_from_lidar_sim(lidar_height)
    out[:3, :3] = _rot3z(LIDAR_MOUNT_YAW)
    return out


def _cam2ego(mount: CameraMount) -> np.ndarray:
    """``(4, 4)`` camera (x right, y down, z forward) -> ego frame."""
    fwd = np.array([math.cos(mount.yaw), math.sin(mount.yaw), 0.0])
    right = np.array([math.sin(mount.yaw), -math.cos(mount.yaw), 0.0])
    out = np.eye(4)
    out[:3, :3] = np.column_stack([right, [0.0, 0.0, -1.0], fwd])
    out[:3, 3] = mount.translation
    return out


def _intrinsics(mount: CameraMount, width: int, height: int) -> np.ndarray:
    f = mount.focal_1600 * width / 1600.0
    return np.array([[f, 0.0, width / 2.0], [0.0, f, height / 2.0], [0.0, 0.0, 1.0]])


def _render_calibration(mount: CameraMount, intrinsics: np.ndarray, lidar_height: float) -> KittiCalibration:
    """The camera as the renderer's "camera 2": ``P2 = K [I | 0]``, no rectification, and the simulator LiDAR
    frame -> camera transform as ``Tr_velo_to_cam``."""
    cam_from_sim = np.linalg.inv(_cam2ego(mount)) @ _ego_from_lidar_sim(lidar_height)
    p = np.hstack([intrinsics, np.zeros((3, 1))])
    return KittiCalibration(P=np.stack([p] * 4), R0_rect=np.eye(3), Tr_velo_to_cam=cam_from_sim[:3])


def _camera_offset_us(mount: CameraMount) -> int:
    """Capture delay after the LiDAR key frame: when the LiDAR, spinning at 20 Hz counter-clockwise from the
    front, crosses the camera's optical axis."""
    return int(round((mount.yaw % (2 * math.pi)) / (2 * math.pi) * _SPIN_PERIOD_US))


def _rings(points_sim: np.ndarray, num_beams: int) -> np.ndarray:
    """Beam (ring) index of each return, 0 = top beam, from its elevation."""
    elev = np.degrees(np.arctan2(points_sim[:, 2], np.hypot(points_sim[:, 0], points_sim[:, 1])))
    table = beam_elevations(num_beams)
    return np.abs(elev[:, None] - table[None, :]).argmin(axis=1)


def _jpeg_bytes(image: np.ndarray, quality: int) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def _visibility_token(scene: Scene, caster: Raycaster, thing, dirs: np.ndarray, max_range: float) -> str:
    """Visibility bin from the LiDAR rays: of the rays that hit the object alone, the fraction that still reach
    it in the full scene (``'1'``: 0-40 %, ..., ``'4'``: 80-100 %; ``'1'`` when no ray reaches it at all)."""
    verts, tris = scene.thing_mesh(thing)
    alone = Raycaster(verts, tris, nthreads=caster.nthreads).cast(np.zeros(3, np.float32), dirs)
    rays = np.flatnonzero(alone.hit & (alone.t <= max_range))
    if len(rays) == 0:
        return "1"
    full = caster.cast(np.zeros(3, np.float32), dirs[rays])
    seen = full.hit & (scene.tri_instance[np.maximum(full.tri, 0)] == thing.instance)
    frac = float(seen.mean())
    return "4" if frac > 0.8 else "3" if frac > 0.6 else "2" if frac > 0.4 else "1"


# ------------------------------------------------------------------------------------------ one scene
class _SceneWriter:
    """Simulates one scene, writes its sensor files and returns its table records."""

    def __init__(self, root: str, index: int, config: NuScenesSimConfig, nthreads: int):
        self.root, self.k, self.cfg, self.nthreads = root, index, config, nthreads
        self.rngs = frame_rngs(config.sim.seed, index)
        self.scene = sample_scene(self.rngs["scene"], config.sim)
        self.world = _World(self.scene, config, self.rngs["labels"])
        self.light = sample_lighting(self.rngs["camera"])
        self.sun_map = _rot3z(math.atan2(self.scene.map_rotation[1, 0], self.scene.map_rotation[0, 0])) \
            @ self.light.sun_dir
        g = np.random.default_rng(np.random.SeedSequence([config.sim.seed, index, 7]))
        self.global_yaw = float(g.uniform(-math.pi, math.pi))
        self.global_offset = np.array([300.0 + 1000.0 * index, 600.0 + 200.0 * float(g.random()), 0.0])
        self.log_name = f"sim{config.sim.seed}-{index:04d}"
        self.t0 = _TIME_ORIGIN_US + index * _SCENE_SPACING_US
        self.sweep_us = SAMPLE_PERIOD_US / (config.sweeps_per_sample + 1)
        self.img_cfg = config.sim.replace(image_width=config.image_width, image_height=config.image_height)
        self.records: dict[str, list[dict]] = {t: [] for t in TABLE_NAMES if t not in
                                               ("category", "attribute", "visibility", "sensor", "map")}
        self.cs_tokens: dict[str, str] = {}

    # ------------------------------------------------------------------ frames
    def map_to_global(self, xyz: np.ndarray) -> np.ndarray:
        out = np.asarray(xyz, np.float64).copy()
        out[..., :3] = out[..., :3] @ _rot3z(self.global_yaw).T + self.global_offset
        return out

    def ego2global(self, tau: float) -> np.ndarray:
        e, psi = self.world.lidar_pose(tau)
        origin = np.array([e[0], e[1], 0.0]) - LIDAR_MOUNT_X * np.array([math.cos(psi), math.sin(psi), 0.0])
        out = np.eye(4)
        out[:3, :3] = _rot3z(self.global_yaw + psi)
        out[:3, 3] = self.map_to_global(origin)
        return out

    def tau(self, timestamp: int) -> float:
        return (timestamp - self.t0) * 1e-6

    # ------------------------------------------------------------------ records
    def add_calibrated_sensors(self) -> None:
        h = self.cfg.sim.lidar_height
        lidar = _lidar2ego(h)
        entries = [(LIDAR_CHANNEL, lidar, [])]
        for cam in self.cfg.cameras:
            mount = SENSOR_RIG[cam]
            k = _intrinsics(mount, self.cfg.image_width, self.cfg.image_height)
            entries.append((cam, _cam2ego(mount), k.tolist()))
        for channel, pose, intrinsic in entries:
            token = _token("calibrated_sensor", self.cfg.sim.seed, self.k, channel)
            self.cs_tokens[channel] = token
            self.records["calibrated_sensor"].append({
                "token": token, "sensor_token": _token("sensor", channel),
                "translation": pose[:3, 3].tolist(), "rotation": matrix_to_quaternion(pose[:3, :3]),
                "camera_intrinsic": intrinsic})

    def add_sample_data(self, channel: str, timestamp: int, sample_token: str, key: bool, filename: str,
                        width: int = 0, height: int = 0) -> dict:
        token = _token("sample_data", self.cfg.sim.seed, self.k, channel, timestamp)
        pose = self.ego2global(self.tau(timestamp))
        self.records["ego_pose"].append({"token": token, "timestamp": timestamp,
                                         "rotation": matrix_to_quaternion(pose[:3, :3]),
                                         "translation": pose[:3, 3].tolist()})
        rec = {"token": token, "sample_token": sample_token, "ego_pose_token": token,
               "calibrated_sensor_token": self.cs_tokens[channel], "timestamp": timestamp,
               "fileformat": "pcd" if channel == LIDAR_CHANNEL else "jpg", "is_key_frame": key, "height": height,
               "width": width, "filename": filename, "prev": "", "next": ""}
        self.records["sample_data"].append(rec)
        return rec

    # ------------------------------------------------------------------ sensors
    def caster_at(self, tau: float) -> tuple[Scene, Raycaster]:
        scene = self.world.scene_at(tau)
        return scene, Raycaster(scene.vertices, scene.triangles, nthreads=self.nthreads)

    def write_sweep(self, timestamp: int, sample_token: str, key: bool) -> tuple[Scene, Raycaster, LidarScan]:
        tau = self.tau(timestamp)
        scene, caster = self.caster_at(tau)
        scan = simulate_lidar(scene, caster, self.cfg.sim, self.rngs["lidar"])
        pts = scan.points.astype(np.float64)
        sensor = pts[:, :3] @ _rot3z(LIDAR_MOUNT_YAW)  # sim frame (x forward) -> LIDAR_TOP (x right, y forward)
        records = np.column_stack([sensor, pts[:, 3] * 255.0, _rings(pts, self.cfg.sim.num_beams)])
        folder = "samples" if key else "sweeps"
        filename = f"{folder}/{LIDAR_CHANNEL}/{self.log_name}__{LIDAR_CHANNEL}__{timestamp}.pcd.bin"
        atomic_write_bytes(os.path.join(self.root, filename), records.astype(np.float32).tobytes())
        self.add_sample_data(LIDAR_CHANNEL, timestamp, sample_token, key, filename)
        return scene, caster, scan

    def write_camera(self, cam: str, key_timestamp: int, sample_token: str) -> None:
        mount = SENSOR_RIG[cam]
        timestamp = key_timestamp + _camera_offset_us(mount)
        tau = self.tau(timestamp)
        scene, caster = self.caster_at(tau)
        _, psi = self.world.lidar_pose(tau)
        light = dataclasses.replace(self.light, sun_dir=_rot3z(psi).T @ self.sun_map)
        k = _intrinsics(mount, self.cfg.image_width, self.cfg.image_height)
        render = render_camera(scene, caster, _render_calibration(mount, k, self.cfg.sim.lidar_height),
                               self.img_cfg, self.rngs["camera"], light=light)
        filename = f"samples/{cam}/{self.log_name}__{cam}__{timestamp}.jpg"
        atomic_write_bytes(os.path.join(self.root, filename), _jpeg_bytes(render.image, self.cfg.jpeg_quality))
        self.add_sample_data(cam, timestamp, sample_token, True, filename, self.cfg.image_width,
                             self.cfg.image_height)

    def annotate(self, scene: Scene, caster: Raycaster, scan: LidarScan, tau: float, sample_token: str) -> None:
        dirs = lidar_directions(self.cfg.sim)
        for thing, motion in zip(scene.things, self.world.motions):
            centre, yaw = motion.pose(tau)
            moving = motion.speed > 0.2
            if thing.category_id == C.CAR:
                attribute = "vehicle.moving" if moving else "vehicle.parked" if thing.kind == "parked" \
                    else "vehicle.stopped"
            elif thing.category_id == C.PEDESTRIAN:
                attribute = "pedestrian.moving" if moving else "pedestrian.standing"
            else:
                attribute = "cycle.with_rider"
            l, w, h = (float(v) for v in thing.box[3:6])
            self.records["sample_annotation"].append({
                "token": _token("sample_annotation", self.cfg.sim.seed, self.k, thing.instance, sample_token),
                "sample_token": sample_token, "instance_token": self.instance_token(thing.instance),
                "visibility_token": _visibility_token(scene, caster, thing, dirs, self.cfg.sim.max_range),
                "attribute_tokens": [_token("attribute", attribute)],
                "translation": self.map_to_global(centre).tolist(), "size": [w, l, h],
                "rotation": yaw_quaternion(math.remainder(self.global_yaw + yaw, 2 * math.pi)),
                "prev": "", "next": "", "num_lidar_pts": int((scan.instance == thing.instance).sum()),
                "num_radar_pts": 0})

    def instance_token(self, instance: int) -> str:
        return _token("instance", self.cfg.sim.seed, self.k, instance)

    # ------------------------------------------------------------------ scene
    def run(self) -> dict[str, list[dict]]:
        cfg = self.cfg
        scene_token = _token("scene", cfg.sim.seed, self.k)
        log_token = _token("log", cfg.sim.seed, self.k)
        self.add_calibrated_sensors()
        sample_tokens = [_token("sample", cfg.sim.seed, self.k, i) for i in range(cfg.samples_per_scene)]
        for i, sample_token in enumerate(sample_tokens):
            key_ts = self.t0 + i * SAMPLE_PERIOD_US
            self.records["sample"].append({"token": sample_token, "timestamp": key_ts, "scene_token": scene_token,
                                           "prev": sample_tokens[i - 1] if i else "",
                                           "next": sample_tokens[i + 1] if i + 1 < len(sample_tokens) else ""})
            for j in range(cfg.sweeps_per_sample, 0, -1):  # the sweeps before this key frame, oldest first
                self.write_sweep(int(round(key_ts - j * self.sweep_us)), sample_token, key=False)
            scene, caster, scan = self.write_sweep(key_ts, sample_token, key=True)
            self.annotate(scene, caster, scan, self.tau(key_ts), sample_token)
            for cam in cfg.cameras:
                self.write_camera(cam, key_ts, sample_token)
        self._link("sample_data", key=lambda r: (self.channel_of(r), r["timestamp"]), group=self.channel_of)
        self._link("sample_annotation", key=lambda r: (r["instance_token"], self._sample_index(r)),
                   group=lambda r: r["instance_token"])
        for thing in self.scene.things:
            anns = [r for r in self.records["sample_annotation"] if r["instance_token"] ==
                    self.instance_token(thing.instance)]
            self.records["instance"].append({
                "token": self.instance_token(thing.instance),
                "category_token": _token("category", SIM_CATEGORIES[thing.category_id]),
                "nbr_annotations": len(anns), "first_annotation_token": anns[0]["token"],
                "last_annotation_token": anns[-1]["token"]})
        self.records["scene"].append({
            "token": scene_token, "log_token": log_token, "nbr_samples": len(sample_tokens),
            "first_sample_token": sample_tokens[0], "last_sample_token": sample_tokens[-1], "name": f"sim-{self.k:04d}",
            "description": f"simulated {self.scene.layout} road, ego at {self.world.ego.speed:.1f} m/s"})
        date = time.strftime("%Y-%m-%d", time.gmtime(self.t0 * 1e-6))
        self.records["log"].append({"token": log_token, "logfile": self.log_name, "vehicle": "sim-ego",
                                    "date_captured": date, "location": "sim-city"})
        return self.records

    def channel_of(self, rec: dict) -> str:
        for channel, token in self.cs_tokens.items():
            if token == rec["calibrated_sensor_token"]:
                return channel
        raise KeyError(rec["calibrated_sensor_token"])

    def _sample_index(self, rec: dict) -> int:
        return next(i for i, s in enumerate(self.records["sample"]) if s["token"] == rec["sample_token"])

    def _link(self, table: str, key, group) -> None:
        """Fill ``prev``/``next`` of the records of ``table`` in time order within each group."""
        ordered = sorted(self.records[table], key=key)
        for a, b in zip(ordered, ordered[1:]):
            if group(a) == group(b):
                a["next"], b["prev"] = b["token"], a["token"]


def _simulate_scene(root: str, index: int, config: NuScenesSimConfig, nthreads: int) -> dict[str, list[dict]]:
    return _SceneWriter(root, index, config, nthreads).run()


def _scene_worker(args: tuple[str, int, NuScenesSimConfig]) -> tuple[int, dict]:
    root, index, config = args
    import torch

    torch.set_num_threads(1)
    return index, _simulate_scene(root, index, config, nthreads=1)


# ------------------------------------------------------------------------------------------ dataset
def _static_tables(config: NuScenesSimConfig, log_tokens: list[str]) -> dict[str, list[dict]]:
    channels = (LIDAR_CHANNEL,) + config.cameras
    return {
        "category": [{"token": _token("category", n), "name": n, "description": d} for n, d in CATEGORY_NAMES.items()],
        "attribute": [{"token": _token("attribute", n), "name": n, "description": d}
                      for n, d in ATTRIBUTE_NAMES.items()],
        "visibility": [{"token": t, "level": lv, "description": d} for t, (lv, d) in VISIBILITY_LEVELS.items()],
        "sensor": [{"token": _token("sensor", c), "channel": c, "modality": "lidar" if c == LIDAR_CHANNEL
                    else "camera"} for c in channels],
        "map": [{"token": _token("map", config.sim.seed), "log_tokens": log_tokens, "category": "semantic_prior",
                 "filename": _MAP_FILE}],
    }


def _check_root(root: str, config: NuScenesSimConfig) -> Optional[dict]:
    """The finished run's meta when ``root`` already holds this exact dataset; raise if it holds anything else."""
    meta_path = os.path.join(root, _META_FILE)
    if os.path.isfile(meta_path):
        meta = read_json(meta_path, "dataset meta file", SimDatasetError)
        if meta.get("fingerprint") != config.fingerprint():
            raise SimDatasetError(f"{root} holds a simulated nuScenes dataset made with other settings "
                                  f"(fingerprint {meta.get('fingerprint')}, now {config.fingerprint()}); pick "
                                  f"another output directory or delete this one.")
        return meta if meta.get("complete") else None
    if os.path.isdir(root) and os.listdir(root):
        raise SimDatasetError(f"{root} exists, is not empty and has no {_META_FILE}: refusing to write a "
                              f"simulated nuScenes dataset into it. Pick a new or empty directory.")
    return None


def _write_meta(root: str, config: NuScenesSimConfig, complete: bool, stats: Optional[dict]) -> dict:
    meta = {"generator": "perception.datasets.sim.nuscenes_writer", "generator_version": GENERATOR_VERSION,
            "fingerprint": config.fingerprint(), "complete": complete, "config": config.to_dict(), "stats": stats}
    atomic_write_text(os.path.join(root, _META_FILE), json.dumps(meta, indent=2, sort_keys=True) + "\n")
    return meta


def generate_nuscenes_dataset(root: str | os.PathLike, config: Optional[NuScenesSimConfig] = None, *,
                              workers: int = 1, progress: bool = True) -> dict:
    """Write a simulated nuScenes database under ``root`` (layout in the module docstring).

    The sensor files of each scene are written first (atomically), the tables last, after
    :func:`~perception.datasets.nuscenes_io.check_tables` has checked them, so ``NuScenes(version, root)``
    never sees a half-written database.  A root that already holds this exact dataset (same settings, run
    finished) is reused as it is; one made with other settings, or any other non-empty directory, is refused
    with :class:`~perception.datasets.sim.SimDatasetError`.  ``workers > 1`` simulates scenes in a ``spawn``
    process pool (call it under ``if __name__ == "__main__":`` in scripts).

    Returns:
        a summary: ``root``, ``version``, ``reused``, ``seconds`` and ``stats`` (scene, sample, sweep, image and
        annotation counts, annotations per category, splits).
    """
    config = NuScenesSimConfig() if config is None else config
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    root = os.fspath(root)
    start = time.perf_counter()
    done = _check_root(root, config)
    if done is not None:
        return {"root": root, "version": config.version, "reused": True, "seconds": time.perf_counter() - start,
                "stats": done["stats"]}
    _write_meta(root, config, complete=False, stats=None)
    from tqdm import tqdm

    results: dict[int, dict] = {}
    bar = tqdm(total=config.num_scenes, desc="simulating nuScenes scenes", unit="scene", disable=not progress)
    try:
        if workers == 1 or config.num_scenes == 1:
            for k in range(config.num_scenes):
                results[k] = _simulate_scene(root, k, config, nthreads=0)
                bar.update(1)
        else:
            with mp.get_context("spawn").Pool(min(workers, config.num_scenes)) as pool:
                for k, recs in pool.imap_unordered(_scene_worker, [(root, k, config)
                                                                   for k in range(config.num_scenes)]):
                    results[k] = recs
                    bar.update(1)
    finally:
        bar.close()
    tables: dict[str, list[dict]] = {t: [] for t in TABLE_NAMES}
    for k in range(config.num_scenes):
        for name, recs in results[k].items():
            tables[name].extend(recs)
    tables.update(_static_tables(config, [r["token"] for r in tables["log"]]))
    table_root = os.path.join(root, config.version)
    check_tables(tables, table_root)
    _write_placeholder_map(os.path.join(root, _MAP_FILE))
    for name in TABLE_NAMES:
        atomic_write_text(os.path.join(table_root, f"{name}.json"), json.dumps(tables[name], indent=0) + "\n")
    scenes = {s["name"]: s for s in tables["scene"]}
    splits = {SPLIT_TRAIN: [], SPLIT_VAL: []}
    for k in range(config.num_scenes):
        splits[config.split_of(k)].append(f"sim-{k:04d}")
    atomic_write_text(os.path.join(table_root, "splits.json"), json.dumps(splits, indent=1) + "\n")
    per_category: dict[str, int] = {}
    cat_name = {c["token"]: c["name"] for c in tables["category"]}
    inst_cat = {i["token"]: cat_name[i["category_token"]] for i in tables["instance"]}
    for ann in tables["sample_annotation"]:
        per_category[inst_cat[ann["instance_token"]]] = per_category.get(inst_cat[ann["instance_token"]], 0) + 1
    stats = {"scenes": len(scenes), "samples": len(tables["sample"]),
             "lidar_sweeps": sum(1 for r in tables["sample_data"] if r["fileformat"] == "pcd"),
             "images": sum(1 for r in tables["sample_data"] if r["fileformat"] == "jpg"),
             "annotations": len(tables["sample_annotation"]), "annotations_per_category": per_category,
             "annotations_with_lidar_points": sum(1 for a in tables["sample_annotation"] if a["num_lidar_pts"] > 0),
             "splits": {k: len(v) for k, v in splits.items()}}
    _write_meta(root, config, complete=True, stats=stats)
    return {"root": root, "version": config.version, "reused": False, "seconds": time.perf_counter() - start,
            "stats": stats}


def _write_placeholder_map(path: str) -> None:
    """A blank 8x8 ``semantic_prior`` mask: the devkit needs the map file to exist; the simulator has no map."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(buf, format="PNG")
    atomic_write_bytes(path, buf.getvalue())
