"""Info files of a nuScenes database: one pickle per split describing every sample (key frame).

``create_nuscenes_infos(root, version, splits)`` loads ``<root>/<version>`` with the official devkit
(:func:`~perception.datasets.nuscenes_io.load_nuscenes`), walks the samples of each split's scenes and writes
``<root>/nuscenes_infos_<split>.pkl`` atomically, after every split was built without error (a failed run
writes nothing).  Splits are the devkit's: the predefined ones (``train``/``val``/``test``,
``mini_train``/``mini_val``) or the custom ones of ``<root>/<version>/splits.json`` (the simulator's nuScenes
export writes ``sim_train``/``sim_val`` there); see :func:`default_splits`.

Info file format (``INFO_VERSION = 1``; the OpenMMLab 2.0 layout that mmengine's ``BaseDataset`` reads).
Poses are ``(4, 4)`` float64 ``a2b`` matrices (see :mod:`perception.datasets.nuscenes_io`); paths are relative
to the dataset root::

    {'metainfo': {'dataset': 'nuscenes', 'info_version': 1, 'version': 'v1.0-mini', 'split': 'mini_val',
                  'classes': NUSCENES_CLASSES, 'num_point_features': 5, 'max_sweeps': 10,
                  'cameras': ['CAM_FRONT', ...]},
     'data_list': [sample_info, ...]}       # scenes in split order, samples in time order; nothing dropped

    sample_info = {
        'sample_idx': str,                  # the sample token (also 'token')
        'token': str, 'scene_token': str, 'scene_name': str,
        'timestamp': int,                   # microseconds, the LiDAR key frame
        'lidar_path': 'samples/LIDAR_TOP/....pcd.bin', 'lidar_token': str, 'num_point_features': 5,
        'lidar2ego': (4, 4), 'ego2global': (4, 4),
        'sweeps': [                         # the previous LIDAR_TOP sweeps, newest first, up to max_sweeps
            {'data_path': str, 'sample_data_token': str, 'timestamp': int,
             'sensor2lidar': (4, 4)},       # sweep sensor frame -> this key frame's LiDAR frame (ego motion)
        ],
        'cams': {'CAM_FRONT': {'data_path': str, 'sample_data_token': str, 'timestamp': int,
                               'cam2img': (3, 3), 'cam2ego': (4, 4), 'ego2global': (4, 4),
                               'lidar2cam': (4, 4),          # key-frame LiDAR -> camera, through the global frame
                               'img_shape': (h, w)}, ...},
        'annos': {                          # None for the test split; N = every annotation of the sample
            'names': list of N str,         # detection class (NUSCENES_CLASSES) or '' (animal, debris, ...)
            'category_names': list of N str,
            'boxes3d': (N, 7) float32,      # LiDAR frame [x, y, z, l, w, h, yaw], geometric centre
            'velocities': (N, 2) float32,   # LiDAR frame [vx, vy] m/s (devkit box_velocity); NaN if unknown
            'num_lidar_pts': (N,) int64, 'num_radar_pts': (N,) int64,
            'valid_flag': (N,) bool,        # num_lidar_pts + num_radar_pts > 0 (what the devkit evaluates)
            'attributes': list of N str,    # the annotation's attribute, '' if none
            'visibility': (N,) int64,       # visibility token, 1 (0-40 %) .. 4 (80-100 %)
            'instance_tokens': list of N str, 'tokens': list of N str,
        },
    }

Use :func:`load_nuscenes_infos` to read and validate one.
"""
from __future__ import annotations

import os
from typing import Any, Callable, Iterable, Optional, Sequence

import numpy as np

from perception.utils.fileio import read_json

from .create_data import InfoFileError, read_info_pickle, write_infos
from .nuscenes_io import (CAMERA_CHANNELS, LIDAR_CHANNEL, NUSCENES_CLASSES, NuScenesFormatError, category_to_class,
                          global_to_lidar_boxes, load_nuscenes, pose_matrix, rotate_velocities)

__all__ = ["INFO_VERSION", "info_path", "default_splits", "split_scene_names", "sample_info", "build_split_infos",
           "create_nuscenes_infos", "load_nuscenes_infos", "sample_lidar2global"]

INFO_VERSION = 1
NUM_POINT_FEATURES = 5  # [x, y, z, intensity, ring index] in .pcd.bin


def info_path(root: str | os.PathLike, split: str) -> str:
    """``<root>/nuscenes_infos_<split>.pkl``."""
    return os.path.join(os.fspath(root), f"nuscenes_infos_{split}.pkl")


def _custom_splits_file(root: str, version: str) -> str:
    return os.path.join(root, version, "splits.json")


def default_splits(root: str | os.PathLike, version: str) -> tuple[str, ...]:
    """The splits :func:`create_nuscenes_infos` converts when none are named: the keys of the custom
    ``<root>/<version>/splits.json`` when there is one, else the version's predefined splits
    (``v1.0-trainval``: train, val; ``v1.0-mini``: mini_train, mini_val; ``v1.0-test``: test)."""
    path = _custom_splits_file(os.fspath(root), version)
    if os.path.isfile(path):
        return tuple(_read_custom_splits(path))
    for suffix, splits in (("trainval", ("train", "val")), ("mini", ("mini_train", "mini_val")), ("test", ("test",))):
        if version.endswith(suffix):
            return splits
    raise ValueError(f"no default splits for nuScenes version {version!r} (expected v1.0-trainval, v1.0-mini or "
                     f"v1.0-test, or a custom {path}); name the splits explicitly")


def _read_custom_splits(path: str) -> dict[str, list[str]]:
    from nuscenes.utils.splits import is_predefined_split

    splits = read_json(path, "splits file", NuScenesFormatError)
    if not isinstance(splits, dict) or not all(isinstance(v, list) for v in splits.values()):
        raise NuScenesFormatError(f"{path}: expected {{split name: [scene names]}}, got {str(splits)[:80]}")
    clash = [name for name in splits if is_predefined_split(name)]
    if clash:
        raise NuScenesFormatError(f"{path}: custom split name(s) {clash} clash with the devkit's predefined splits "
                                  f"(the devkit would ignore them); rename them, e.g. 'my_{clash[0]}'")
    return splits


def split_scene_names(nusc, split: str) -> list[str]:
    """Scene names of a predefined or custom split, checked to exist in the loaded database."""
    from nuscenes.utils.splits import create_splits_scenes, is_predefined_split

    if is_predefined_split(split):
        names = list(create_splits_scenes()[split])
    else:
        path = _custom_splits_file(nusc.dataroot, nusc.version)
        if not os.path.isfile(path):
            raise ValueError(f"unknown split {split!r}: not a predefined nuScenes split and there is no custom "
                             f"{path}")
        custom = _read_custom_splits(path)
        if split not in custom:
            raise ValueError(f"unknown split {split!r}: {path} has {sorted(custom)}")
        names = list(custom[split])
    known = {s["name"] for s in nusc.scene}
    missing = [n for n in names if n not in known]
    if missing:
        raise NuScenesFormatError(f"split {split!r}: {len(missing)} of its {len(names)} scenes are not in "
                                  f"{os.path.join(nusc.dataroot, nusc.version, 'scene.json')} (e.g. {missing[0]}); "
                                  f"is the version right?")
    return names


# --------------------------------------------------------------------------------------- one sample
def _record_pose(nusc, sd: dict) -> tuple[np.ndarray, np.ndarray]:
    """``(sensor2ego, ego2global)`` of a sample_data record."""
    cs = nusc.get("calibrated_sensor", sd["calibrated_sensor_token"])
    pose = nusc.get("ego_pose", sd["ego_pose_token"])
    return pose_matrix(cs["rotation"], cs["translation"]), pose_matrix(pose["rotation"], pose["translation"])


def _existing(nusc, sd: dict, sample_token: str) -> str:
    path = os.path.join(nusc.dataroot, sd["filename"])
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: {sd['channel']} file not found (sample_data {sd['token']} of sample "
                                f"{sample_token}, listed in {os.path.join(nusc.dataroot, nusc.version)}/"
                                f"sample_data.json)")
    return sd["filename"]


def sample_lidar2global(info: dict) -> np.ndarray:
    """``(4, 4)`` lidar2global of a sample info."""
    return np.asarray(info["ego2global"], np.float64) @ np.asarray(info["lidar2ego"], np.float64)


def sample_info(nusc, sample: dict, *, max_sweeps: int = 10, with_labels: bool = True) -> dict:
    """The info dict of one sample (format in the module docstring); raises on a missing file or record."""
    token = sample["token"]
    if LIDAR_CHANNEL not in sample["data"]:
        raise NuScenesFormatError(f"sample {token} has no {LIDAR_CHANNEL} key frame in "
                                  f"{os.path.join(nusc.dataroot, nusc.version)}/sample_data.json")
    lidar_sd = nusc.get("sample_data", sample["data"][LIDAR_CHANNEL])
    lidar2ego, ego2global = _record_pose(nusc, lidar_sd)
    lidar2global = ego2global @ lidar2ego
    global2lidar = np.linalg.inv(lidar2global)
    scene = nusc.get("scene", sample["scene_token"])
    info: dict[str, Any] = {
        "sample_idx": token, "token": token, "scene_token": scene["token"], "scene_name": scene["name"],
        "timestamp": int(lidar_sd["timestamp"]), "lidar_path": _existing(nusc, lidar_sd, token),
        "lidar_token": lidar_sd["token"], "num_point_features": NUM_POINT_FEATURES, "lidar2ego": lidar2ego,
        "ego2global": ego2global, "sweeps": [], "cams": {}, "annos": None,
    }
    sd = lidar_sd
    while len(info["sweeps"]) < max_sweeps and sd["prev"]:
        sd = nusc.get("sample_data", sd["prev"])
        s2e, e2g = _record_pose(nusc, sd)
        info["sweeps"].append({"data_path": _existing(nusc, sd, token), "sample_data_token": sd["token"],
                               "timestamp": int(sd["timestamp"]), "sensor2lidar": global2lidar @ e2g @ s2e})
    for cam in CAMERA_CHANNELS:
        if cam not in sample["data"]:
            continue
        sd = nusc.get("sample_data", sample["data"][cam])
        cam2ego, e2g = _record_pose(nusc, sd)
        cs = nusc.get("calibrated_sensor", sd["calibrated_sensor_token"])
        info["cams"][cam] = {
            "data_path": _existing(nusc, sd, token), "sample_data_token": sd["token"],
            "timestamp": int(sd["timestamp"]), "cam2img": np.asarray(cs["camera_intrinsic"], np.float64),
            "cam2ego": cam2ego, "ego2global": e2g, "lidar2cam": np.linalg.inv(e2g @ cam2ego) @ lidar2global,
            "img_shape": (int(sd["height"]), int(sd["width"]))}
    if with_labels:
        info["annos"] = _annotations(nusc, sample, lidar2global, global2lidar)
    return info


def _annotations(nusc, sample: dict, lidar2global: np.ndarray, global2lidar: np.ndarray) -> dict:
    anns = [nusc.get("sample_annotation", t) for t in sample["anns"]]
    attributes = []
    for a in anns:
        if len(a["attribute_tokens"]) > 1:
            raise NuScenesFormatError(f"{os.path.join(nusc.dataroot, nusc.version)}/sample_annotation.json: "
                                      f"annotation {a['token']} has {len(a['attribute_tokens'])} attributes; the "
                                      f"detection benchmark allows at most one")
        attributes.append(nusc.get("attribute", a["attribute_tokens"][0])["name"] if a["attribute_tokens"] else "")
    n = len(anns)
    boxes = global_to_lidar_boxes(np.array([a["translation"] for a in anns], np.float64).reshape(n, 3),
                                  np.array([a["size"] for a in anns], np.float64).reshape(n, 3),
                                  np.array([a["rotation"] for a in anns], np.float64).reshape(n, 4), lidar2global)
    velocity = np.array([nusc.box_velocity(a["token"])[:2] for a in anns], np.float64).reshape(n, 2)
    lidar_pts = np.array([a["num_lidar_pts"] for a in anns], np.int64)
    radar_pts = np.array([a["num_radar_pts"] for a in anns], np.int64)
    return {
        "names": [category_to_class(a["category_name"]) for a in anns],
        "category_names": [a["category_name"] for a in anns],
        "boxes3d": boxes.astype(np.float32),
        "velocities": rotate_velocities(velocity, global2lidar).astype(np.float32),
        "num_lidar_pts": lidar_pts, "num_radar_pts": radar_pts, "valid_flag": (lidar_pts + radar_pts) > 0,
        "attributes": attributes,
        "visibility": np.array([int(a["visibility_token"]) if str(a["visibility_token"]).isdigit() else 0
                                for a in anns], np.int64),
        "instance_tokens": [a["instance_token"] for a in anns], "tokens": [a["token"] for a in anns],
    }


# ------------------------------------------------------------------------------------------- splits
def _progress(iterable: Iterable, total: int, desc: str, enabled: bool) -> Iterable:
    if not enabled:
        return iterable
    from tqdm import tqdm

    return tqdm(iterable, total=total, desc=desc, unit="sample", dynamic_ncols=True)


def _scene_samples(nusc, scene_name: str) -> list[dict]:
    scene = next(s for s in nusc.scene if s["name"] == scene_name)
    out, token = [], scene["first_sample_token"]
    while token:
        sample = nusc.get("sample", token)
        out.append(sample)
        token = sample["next"]
    return out


def build_split_infos(nusc, split: str, *, max_sweeps: int = 10, progress: bool = True) -> dict:
    """The info dict (``{'metainfo', 'data_list'}``) of one split of a loaded database, without writing it."""
    if max_sweeps < 0:
        raise ValueError(f"max_sweeps must be >= 0, got {max_sweeps}")
    samples = [s for name in split_scene_names(nusc, split) for s in _scene_samples(nusc, name)]
    with_labels = not nusc.version.endswith("test")
    data_list = [sample_info(nusc, s, max_sweeps=max_sweeps, with_labels=with_labels)
                 for s in _progress(samples, len(samples), f"nuscenes infos {split}", progress)]
    cameras = sorted({c for d in data_list for c in d["cams"]}, key=CAMERA_CHANNELS.index)
    metainfo = {"dataset": "nuscenes", "info_version": INFO_VERSION, "version": nusc.version, "split": split,
                "classes": NUSCENES_CLASSES, "num_point_features": NUM_POINT_FEATURES, "max_sweeps": max_sweeps,
                "cameras": cameras}
    return {"metainfo": metainfo, "data_list": data_list}


def create_nuscenes_infos(root: str | os.PathLike, version: str, splits: Optional[Sequence[str]] = None, *,
                          max_sweeps: int = 10, progress: bool = True,
                          log: Callable[[str], None] = print) -> dict[str, dict]:
    """Build the infos of every split (default: :func:`default_splits`), then write
    ``<root>/nuscenes_infos_<split>.pkl`` for each.  Nothing is written unless every split was built without
    error.  Returns ``{split: infos}``."""
    root = os.fspath(root)
    if not os.path.isdir(root):
        raise FileNotFoundError(f"{root}: dataset root not found")
    splits = tuple(splits) if splits else default_splits(root, version)
    nusc = load_nuscenes(root, version)
    all_infos = {split: build_split_infos(nusc, split, max_sweeps=max_sweeps, progress=progress) for split in splits}
    for split, infos in all_infos.items():
        path = info_path(root, split)
        write_infos(path, infos)
        n_obj = sum(int(np.count_nonzero(np.asarray(f["annos"]["names"]) != "")) for f in infos["data_list"]
                    if f["annos"] is not None)
        log(f"wrote {path}: {len(infos['data_list'])} samples, {n_obj} annotations of the detection classes")
    return all_infos


# ------------------------------------------------------------------------------------------ reading
_SAMPLE_KEYS = ("sample_idx", "token", "timestamp", "lidar_path", "lidar2ego", "ego2global", "sweeps", "cams",
                "annos")
_ANNO_KEYS = ("names", "boxes3d", "velocities", "num_lidar_pts", "num_radar_pts", "valid_flag", "attributes",
              "visibility")
_SWEEP_KEYS = ("data_path", "timestamp", "sensor2lidar")


def load_nuscenes_infos(path: str | os.PathLike) -> dict:
    """Read and validate an info file written by :func:`create_nuscenes_infos`.

    Raises:
        FileNotFoundError: the file does not exist (the message says how to create it).
        InfoFileError: it is not a readable pickle of the documented format (naming the file, sample and key).
    """
    path = os.fspath(path)
    infos = read_info_pickle(path, "python tools/create_data.py nuscenes --root DATA_ROOT --version VERSION")
    meta = infos["metainfo"] if isinstance(infos["metainfo"], dict) else {}
    if meta.get("dataset") != "nuscenes" or meta.get("info_version") != INFO_VERSION:
        raise InfoFileError(f"{path}: not a nuScenes info file of version {INFO_VERSION} (metainfo dataset="
                            f"{meta.get('dataset')!r}, info_version={meta.get('info_version')!r}); re-create it "
                            f"with tools/create_data.py nuscenes")
    if not isinstance(infos["data_list"], list):
        raise InfoFileError(f"{path}: 'data_list' must be a list, got {type(infos['data_list']).__name__}")
    for i, sample in enumerate(infos["data_list"]):
        where = f"{path}: data_list[{i}]"
        if not isinstance(sample, dict):
            raise InfoFileError(f"{where} must be a dict, got {type(sample).__name__}")
        missing = [k for k in _SAMPLE_KEYS if k not in sample]
        if missing:
            raise InfoFileError(f"{where} lacks key(s) {', '.join(missing)}")
        where = f"{where} (sample {sample['token']})"
        for j, sweep in enumerate(sample["sweeps"]):
            missing = [k for k in _SWEEP_KEYS if k not in sweep]
            if missing:
                raise InfoFileError(f"{where} sweeps[{j}] lacks key(s) {', '.join(missing)}")
        annos = sample["annos"]
        if annos is None:
            continue
        missing = [k for k in _ANNO_KEYS if k not in annos]
        if missing:
            raise InfoFileError(f"{where} annos lack key(s) {', '.join(missing)}")
        n = len(annos["names"])
        for k in _ANNO_KEYS[1:]:
            if len(annos[k]) != n:
                raise InfoFileError(f"{where} annos[{k!r}] has {len(annos[k])} entries, 'names' has {n}")
    return infos
