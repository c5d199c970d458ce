"""The nuScenes format: names, tables, poses and box conversions.

Shared by the info builder (:mod:`perception.datasets.nuscenes_infos`), :class:`NuScenesDataset`, the
simulator's nuScenes writer (:mod:`perception.datasets.sim.nuscenes_writer`) and the nuScenes evaluation
(:mod:`perception.evaluation.nuscenes`).  The database itself is read by the official ``nuscenes-devkit``
(:func:`load_nuscenes`).

Frames (right-handed, metres):

* **global**: the map frame of a log, z up.  Table boxes (``sample_annotation``), ego poses and submission
  boxes are expressed here.
* **ego**: the vehicle, origin at the rear-axle centre on the ground, x forward, y left, z up.
* **LiDAR**: the ``LIDAR_TOP`` sensor frame, the frame of the ``.pcd.bin`` points and of everything the
  dataset hands to a model.  On the real nuScenes car the sensor is mounted turned by about -90 deg, so
  **x points right, y forward, z up** (the simulator's writer mounts it the same way).  Boxes here follow
  :mod:`perception.structures.frames`: ``(N, 7)`` ``[x, y, z, l, w, h, yaw]``, geometric centre, yaw
  counter-clockwise about +z from +x; only "x is forward" differs from the KITTI LiDAR frame.
* **camera**: x right, y down, z forward (OpenCV); ``camera_intrinsic`` maps it to pixels.

Poses are ``(4, 4)`` float64 homogeneous matrices named ``a2b`` (maps points of frame ``a`` into frame
``b``: ``p_b = T @ p_a``).  nuScenes records store a rotation as a unit quaternion ``[w, x, y, z]`` and a
translation ``[x, y, z]`` (:func:`pose_matrix`).

nuScenes boxes: ``translation`` the geometric centre, ``size`` ``[w, l, h]`` (note the order), ``rotation`` the
quaternion of the box frame whose x axis runs along the length.
"""
from __future__ import annotations

import functools
import os
from typing import Mapping, Sequence

import numpy as np

from perception.utils.fileio import read_json

__all__ = [
    "NuScenesFormatError", "NUSCENES_CLASSES", "CATEGORY_NAMES", "ATTRIBUTE_NAMES", "VISIBILITY_LEVELS",
    "CAMERA_CHANNELS", "LIDAR_CHANNEL", "TABLE_NAMES", "FOREIGN_KEYS", "DEFAULT_ATTRIBUTES", "class_attributes",
    "category_to_class", "pose_matrix", "matrix_to_quaternion", "yaw_quaternion", "global_to_lidar_boxes",
    "lidar_to_global_boxes", "rotate_velocities", "check_tables", "load_tables", "load_nuscenes",
]


class NuScenesFormatError(ValueError):
    """A nuScenes table or file is missing, unreadable or inconsistent; the message names the file, table,
    record and token."""


#: The 10 classes of the nuScenes detection benchmark, in the label order our models use (mmdet3d's).
NUSCENES_CLASSES = ("car", "truck", "construction_vehicle", "bus", "trailer", "barrier", "motorcycle", "bicycle",
                    "pedestrian", "traffic_cone")

#: The 23 object categories of nuScenes v1.0 (``category.json``), with short descriptions.
CATEGORY_NAMES = {
    "animal": "Any animal.",
    "human.pedestrian.adult": "An adult pedestrian moving around the scene.",
    "human.pedestrian.child": "A child pedestrian.",
    "human.pedestrian.construction_worker": "A person working at a construction site.",
    "human.pedestrian.personal_mobility": "A person on a personal mobility device (scooter, skateboard, ...).",
    "human.pedestrian.police_officer": "A police officer.",
    "human.pedestrian.stroller": "A stroller.",
    "human.pedestrian.wheelchair": "A wheelchair.",
    "movable_object.barrier": "A temporary road barrier.",
    "movable_object.debris": "Movable debris on the road.",
    "movable_object.pushable_pullable": "Objects a pedestrian can push or pull (carts, bins, ...).",
    "movable_object.trafficcone": "A traffic cone.",
    "static_object.bicycle_rack": "A rack of parked bicycles.",
    "vehicle.bicycle": "A bicycle, with its rider if there is one.",
    "vehicle.bus.bendy": "An articulated bus.",
    "vehicle.bus.rigid": "A rigid bus.",
    "vehicle.car": "A passenger car, van or SUV.",
    "vehicle.construction": "A construction vehicle.",
    "vehicle.emergency.ambulance": "An ambulance.",
    "vehicle.emergency.police": "A police car or motorcycle.",
    "vehicle.motorcycle": "A motorcycle or scooter, with its rider if there is one.",
    "vehicle.trailer": "A trailer.",
    "vehicle.truck": "A truck.",
}

#: The 8 attributes of nuScenes v1.0 (``attribute.json``), with short descriptions.
ATTRIBUTE_NAMES = {
    "vehicle.moving": "The vehicle is moving.",
    "vehicle.stopped": "The vehicle, with a driver or rider, is stopped (e.g. at a light).",
    "vehicle.parked": "The vehicle is parked.",
    "cycle.with_rider": "There is a rider on the bicycle or motorcycle.",
    "cycle.without_rider": "There is no rider on the bicycle or motorcycle.",
    "pedestrian.sitting_lying_down": "The pedestrian is sitting or lying down.",
    "pedestrian.standing": "The pedestrian is standing.",
    "pedestrian.moving": "The pedestrian is moving.",
}

#: ``visibility.json``: token -> (level, description).  The level bins the visible fraction of an object.
VISIBILITY_LEVELS = {
    "1": ("v0-40", "visibility of whole object is between 0 and 40%"),
    "2": ("v40-60", "visibility of whole object is between 40 and 60%"),
    "3": ("v60-80", "visibility of whole object is between 60 and 80%"),
    "4": ("v80-100", "visibility of whole object is between 80 and 100%"),
}

#: Camera channels, in the devkit's usual order; the LiDAR channel.
CAMERA_CHANNELS = ("CAM_FRONT", "CAM_FRONT_RIGHT", "CAM_FRONT_LEFT", "CAM_BACK", "CAM_BACK_LEFT", "CAM_BACK_RIGHT")
LIDAR_CHANNEL = "LIDAR_TOP"

#: The tables ``NuScenes(version, dataroot)`` loads from ``<dataroot>/<version>/<table>.json``.
TABLE_NAMES = ("category", "attribute", "visibility", "instance", "sensor", "calibrated_sensor", "ego_pose", "log",
               "scene", "sample", "sample_data", "sample_annotation", "map")

#: table -> {field: referenced table}; ``prev``/``next`` may be ``""``, list fields reference each element.
FOREIGN_KEYS = {
    "instance": {"category_token": "category", "first_annotation_token": "sample_annotation",
                 "last_annotation_token": "sample_annotation"},
    "calibrated_sensor": {"sensor_token": "sensor"},
    "scene": {"log_token": "log", "first_sample_token": "sample", "last_sample_token": "sample"},
    "sample": {"scene_token": "scene", "prev": "sample", "next": "sample"},
    "sample_data": {"sample_token": "sample", "ego_pose_token": "ego_pose",
                    "calibrated_sensor_token": "calibrated_sensor", "prev": "sample_data", "next": "sample_data"},
    "sample_annotation": {"sample_token": "sample", "instance_token": "instance", "visibility_token": "visibility",
                          "attribute_tokens": "attribute", "prev": "sample_annotation", "next": "sample_annotation"},
    "map": {"log_tokens": "log"},
}
_OPTIONAL_LINKS = ("prev", "next")
#: Fields the devkit reads from every record (besides the foreign keys and ``token``).
_REQUIRED_FIELDS = {
    "category": ("name",), "attribute": ("name",), "visibility": ("level",), "sensor": ("channel", "modality"),
    "calibrated_sensor": ("translation", "rotation", "camera_intrinsic"),
    "ego_pose": ("translation", "rotation", "timestamp"),
    "log": ("logfile", "location"), "scene": ("name", "nbr_samples"), "sample": ("timestamp",),
    "sample_data": ("timestamp", "filename", "is_key_frame", "fileformat"),
    "sample_annotation": ("translation", "size", "rotation", "num_lidar_pts", "num_radar_pts"),
    "instance": ("nbr_annotations",), "map": ("filename",),
}


@functools.lru_cache(maxsize=None)
def class_attributes(name: str) -> tuple[str, ...]:
    """The attributes that apply to a detection class (the devkit's ``detection_name_to_rel_attributes``; the
    devkit is imported on first use, so importing this module stays cheap)."""
    from nuscenes.eval.detection.utils import detection_name_to_rel_attributes

    if name not in NUSCENES_CLASSES:
        raise ValueError(f"unknown detection class {name!r}; expected one of {NUSCENES_CLASSES}")
    return tuple(detection_name_to_rel_attributes(name))


#: The attribute a detection of each class gets when the model predicts none (mmdet3d's defaults); moving
#: vehicles and cycles get ``vehicle.moving`` / ``cycle.with_rider`` instead (see
#: :func:`perception.evaluation.nuscenes.default_attribute`).
DEFAULT_ATTRIBUTES = {
    "car": "vehicle.parked", "truck": "vehicle.parked", "construction_vehicle": "vehicle.parked",
    "bus": "vehicle.moving", "trailer": "vehicle.parked", "barrier": "", "motorcycle": "cycle.without_rider",
    "bicycle": "cycle.without_rider", "pedestrian": "pedestrian.moving", "traffic_cone": "",
}


def category_to_class(category_name: str) -> str:
    """The detection class of a nuScenes category (the devkit's official mapping), ``""`` for categories
    outside the benchmark (animal, debris, bicycle rack, ...)."""
    from nuscenes.eval.detection.utils import category_to_detection_name

    return category_to_detection_name(category_name) or ""


# ----------------------------------------------------------------------------------------- poses
def pose_matrix(rotation: Sequence[float], translation: Sequence[float]) -> np.ndarray:
    """``(4, 4)`` float64 transform of a nuScenes pose (quaternion ``[w, x, y, z]``, translation ``(3,)``)."""
    from nuscenes.utils.geometry_utils import transform_matrix
    from pyquaternion import Quaternion

    return transform_matrix(np.asarray(translation, np.float64), Quaternion(np.asarray(rotation, np.float64)))


def matrix_to_quaternion(rotation: np.ndarray) -> list[float]:
    """Unit quaternion ``[w, x, y, z]`` (``w >= 0``) of a ``(3, 3)`` rotation matrix."""
    from pyquaternion import Quaternion

    q = Quaternion(matrix=np.asarray(rotation, np.float64), atol=1e-6)
    q = q.normalised
    out = [float(q.w), float(q.x), float(q.y), float(q.z)]
    return [-v for v in out] if out[0] < 0 else out


def yaw_quaternion(yaw: float) -> list[float]:
    """Quaternion ``[w, x, y, z]`` of a rotation by ``yaw`` radians about +z."""
    return [float(np.cos(yaw / 2)), 0.0, 0.0, float(np.sin(yaw / 2))]


def _quaternion_matrices(rotation: np.ndarray) -> np.ndarray:
    """``(N, 3, 3)`` rotation matrices of ``(N, 4)`` quaternions ``[w, x, y, z]`` (normalised first)."""
    q = np.asarray(rotation, np.float64).reshape(-1, 4)
    q = q / np.linalg.norm(q, axis=1, keepdims=True)
    w, x, y, z = q.T
    return np.stack([
        np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)], axis=1),
        np.stack([2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)], axis=1),
        np.stack([2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)], axis=1),
    ], axis=1)


def global_to_lidar_boxes(translation: np.ndarray, size_wlh: np.ndarray, rotation: np.ndarray,
                          lidar2global: np.ndarray) -> np.ndarray:
    """nuScenes global boxes -> ``(N, 7)`` float64 LiDAR-frame ``[x, y, z, l, w, h, yaw]``.

    Args:
        translation: ``(N, 3)`` global centres; size_wlh: ``(N, 3)`` ``[w, l, h]``; rotation: ``(N, 4)``
            quaternions ``[w, x, y, z]``; lidar2global: ``(4, 4)``.

    The yaw is the heading of the box's length axis turned into the LiDAR frame and projected on its x-y
    plane (a box that is not upright in the LiDAR frame, e.g. from a tilted sensor, keeps only its yaw).
    """
    translation = np.asarray(translation, np.float64).reshape(-1, 3)
    size = np.asarray(size_wlh, np.float64).reshape(-1, 3)
    if len(translation) == 0:
        return np.zeros((0, 7), np.float64)
    g2l = np.linalg.inv(np.asarray(lidar2global, np.float64))
    centre = translation @ g2l[:3, :3].T + g2l[:3, 3]
    heading = _quaternion_matrices(rotation)[:, :, 0] @ g2l[:3, :3].T
    yaw = np.arctan2(heading[:, 1], heading[:, 0])
    return np.column_stack([centre, size[:, 1], size[:, 0], size[:, 2], yaw])


def lidar_to_global_boxes(boxes: np.ndarray, lidar2global: np.ndarray
                          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(N, 7)`` LiDAR-frame boxes -> nuScenes global ``translation (N, 3)``, ``size (N, 3)`` ``[w, l, h]``
    and ``rotation (N, 4)`` quaternions ``[w, x, y, z]`` (float64); the inverse of
    :func:`global_to_lidar_boxes` for boxes upright in the LiDAR frame."""
    boxes = np.asarray(boxes, np.float64).reshape(-1, 7)
    l2g = np.asarray(lidar2global, np.float64)
    translation = boxes[:, :3] @ l2g[:3, :3].T + l2g[:3, 3]
    size = boxes[:, [4, 3, 5]]
    c, s = np.cos(boxes[:, 6]), np.sin(boxes[:, 6])
    rot_lidar = np.zeros((len(boxes), 3, 3))
    rot_lidar[:, 0, 0], rot_lidar[:, 0, 1], rot_lidar[:, 1, 0], rot_lidar[:, 1, 1] = c, -s, s, c
    rot_lidar[:, 2, 2] = 1.0
    rot_global = l2g[:3, :3][None] @ rot_lidar
    rotation = np.array([matrix_to_quaternion(r) for r in rot_global], np.float64).reshape(-1, 4)
    return translation, size, rotation


def rotate_velocities(velocities: np.ndarray, transform: np.ndarray) -> np.ndarray:
    """``(N, 2)`` horizontal velocities ``[vx, vy]`` turned by the rotation of ``transform`` ``(4, 4)`` (e.g.
    ``inv(lidar2global)`` for global -> LiDAR); z is taken as 0 and dropped after turning.  NaN stays NaN."""
    v = np.asarray(velocities, np.float64).reshape(-1, 2)
    v3 = np.column_stack([v, np.zeros(len(v))])
    return (v3 @ np.asarray(transform, np.float64)[:3, :3].T)[:, :2]


# ---------------------------------------------------------------------------------------- tables
def load_tables(table_root: str | os.PathLike, names: Sequence[str] = TABLE_NAMES) -> dict[str, list[dict]]:
    """Read ``<table_root>/<name>.json`` for each table; errors name the file (and line for bad JSON)."""
    table_root = os.fspath(table_root)
    tables = {}
    for name in names:
        path = os.path.join(table_root, f"{name}.json")
        table = read_json(path, "table file", NuScenesFormatError)
        if not isinstance(table, list):
            raise NuScenesFormatError(f"{path}: a table must be a JSON list of records, got {type(table).__name__}")
        tables[name] = table
    return tables


def check_tables(tables: Mapping[str, Sequence[dict]], table_root: str = "<tables>") -> None:
    """Check what ``NuScenes`` relies on: every record is a dict with a unique ``token`` and the fields the
    devkit reads, and every foreign key (:data:`FOREIGN_KEYS`) names an existing record.

    Raises:
        NuScenesFormatError: naming the table file, the record index and token, the field and the bad value.
    """
    tokens: dict[str, set] = {}
    for name, table in tables.items():
        path = os.path.join(table_root, f"{name}.json")
        seen: dict[str, int] = {}
        for i, rec in enumerate(table):
            if not isinstance(rec, dict) or not isinstance(rec.get("token"), str) or not rec["token"]:
                raise NuScenesFormatError(f"{path}: record {i} must be an object with a non-empty string 'token', "
                                          f"got {str(rec)[:80]}")
            if rec["token"] in seen:
                raise NuScenesFormatError(f"{path}: token {rec['token']!r} used by records {seen[rec['token']]} "
                                          f"and {i}")
            seen[rec["token"]] = i
            missing = [f for f in _REQUIRED_FIELDS.get(name, ()) + tuple(FOREIGN_KEYS.get(name, {}))
                       if f not in rec]
            if missing:
                raise NuScenesFormatError(f"{path}: record {i} (token {rec['token']!r}) lacks field(s) "
                                          f"{', '.join(missing)}")
        tokens[name] = set(seen)
    for name, links in FOREIGN_KEYS.items():
        if name not in tables:
            continue
        path = os.path.join(table_root, f"{name}.json")
        for field, target in links.items():
            if target not in tokens:
                continue
            for i, rec in enumerate(tables[name]):
                values = rec[field] if isinstance(rec[field], list) else [rec[field]]
                for value in values:
                    if field in _OPTIONAL_LINKS and value == "":
                        continue
                    if value not in tokens[target]:
                        raise NuScenesFormatError(
                            f"{path}: record {i} (token {rec['token']!r}) field {field!r} = {value!r}: no such "
                            f"token in {os.path.join(table_root, target + '.json')}")


def load_nuscenes(root: str | os.PathLike, version: str, *, verbose: bool = False):
    """``nuscenes.NuScenes(version, dataroot=root)`` with clear errors.

    Checks first that ``<root>/<version>/`` holds every table; if the devkit then fails (bad JSON, a dangling
    token, a missing map file), the tables are checked with :func:`check_tables` so the error names the
    table file, record, field and token.

    Raises:
        FileNotFoundError: ``<root>/<version>`` does not exist.
        NuScenesFormatError: a table is missing, unreadable or inconsistent.
    """
    from nuscenes import NuScenes

    root = os.fspath(root)
    table_root = os.path.join(root, version)
    if not os.path.isdir(table_root):
        raise FileNotFoundError(f"{table_root}: nuScenes table directory not found (expected "
                                f"<root>/<version>/{{scene,sample,sample_data,...}}.json; is --version right? "
                                f"e.g. v1.0-mini, v1.0-trainval)")
    missing = [t for t in TABLE_NAMES if not os.path.isfile(os.path.join(table_root, f"{t}.json"))]
    if missing:
        raise NuScenesFormatError(f"{table_root}: missing table file(s) {', '.join(t + '.json' for t in missing)}")
    try:
        return NuScenes(version=version, dataroot=root, verbose=verbose)
    except (KeyError, AssertionError, ValueError, TypeError) as exc:
        check_tables(load_tables(table_root), table_root)  # raises a precise error when the tables are at fault
        raise NuScenesFormatError(f"{table_root}: the nuScenes devkit cannot load this database "
                                  f"({type(exc).__name__}: {exc})") from exc
