"""The ground-truth database: every training object's LiDAR points, for GT sampling (:class:`ObjectSample`).

``create_gt_database(root)`` reads ``<root>/kitti_infos_train.pkl`` (or takes the infos directly), and for each
labelled object of the chosen classes with at least ``min_points`` points inside its box saves those points
(all point features, float32, ``xyz`` *relative to the box centre*, as mmdet3d / OpenPCDet do) to
``<root>/kitti_gt_database/<sample_idx>_<class>_<object index>.bin``, then writes
``<root>/kitti_dbinfos_train.pkl``::

    {'metainfo': {'dataset': 'kitti', 'dbinfo_version': 1, 'info_file': 'kitti_infos_train.pkl',
                  'database_dir': 'kitti_gt_database', 'num_point_features': 4,
                  'classes': [...], 'min_points': 1},
     'infos': {class_name: [entry, ...]}}       # every chosen class has a (possibly empty) list

    entry = {'name': 'Car', 'path': 'kitti_gt_database/000042_Car_3.bin',   # relative to the root
             'sample_idx': '000042', 'gt_idx': 3,   # index of the object in the frame's annos
             'box3d_lidar': (7,) float32 [x, y, z, l, w, h, yaw] LiDAR frame, geometric centre,
             'num_points_in_gt': int, 'difficulty': int (0/1/2/-1),
             'bbox': (4,) float32, 'truncated': float, 'occluded': int}

The points of an object are those of the full scan inside its box (boundary included, a point inside two
overlapping boxes goes to both).  The database directory is built beside the final one and swapped in only
when complete; the dbinfos pickle is written atomically afterwards.
"""
from __future__ import annotations

import os
import pickle
import shutil
from typing import Callable, Optional, Sequence

import numpy as np
import torch

from perception.structures import Boxes3D, CoordFrame
from perception.utils.fileio import atomic_open

from . import kitti_io
from .create_data import info_path, load_kitti_infos

__all__ = ["DBINFO_VERSION", "DATABASE_DIR", "DEFAULT_DB_CLASSES", "create_gt_database", "load_db_infos",
           "dbinfo_path"]

DBINFO_VERSION = 1
DATABASE_DIR = "kitti_gt_database"
DEFAULT_DB_CLASSES = ("Car", "Pedestrian", "Cyclist")


def dbinfo_path(root: str | os.PathLike, split: str = "train") -> str:
    """``<root>/kitti_dbinfos_<split>.pkl``."""
    return os.path.join(os.fspath(root), f"kitti_dbinfos_{split}.pkl")


def create_gt_database(root: str | os.PathLike, infos: Optional[dict] = None, *, split: str = "train",
                       classes: Sequence[str] = DEFAULT_DB_CLASSES, min_points: int = 1, progress: bool = True,
                       log: Callable[[str], None] = print) -> dict:
    """Write the database of ``split`` (see the module docstring) and return the dbinfos dict.

    Args:
        root: dataset root (holds ``kitti_infos_<split>.pkl`` and the frames).
        infos: the split's infos as built by :func:`~perception.datasets.create_data.build_split_infos`;
            read from ``kitti_infos_<split>.pkl`` when ``None``.
        classes: object types stored (label-file names).
        min_points: objects with fewer points inside their box are skipped.
    """
    root = os.fspath(root)
    if infos is None:
        infos = load_kitti_infos(info_path(root, split))
    if min_points < 0:
        raise ValueError(f"min_points must be >= 0, got {min_points}")
    classes = tuple(classes)
    db_infos: dict[str, list] = {c: [] for c in classes}
    num_features = int(infos["metainfo"].get("num_point_features", 4))
    final_dir = os.path.join(root, DATABASE_DIR)
    tmp_dir = os.path.join(root, f".{DATABASE_DIR}.tmp-{os.getpid()}")
    shutil.rmtree(tmp_dir, ignore_errors=True)
    os.makedirs(tmp_dir)
    try:
        frames = infos["data_list"]
        if progress:
            from tqdm import tqdm

            frames = tqdm(frames, desc=f"gt database {split}", unit="frame", dynamic_ncols=True)
        for frame in frames:
            _add_frame(root, frame, classes, min_points, num_features, tmp_dir, db_infos)
        old_dir = os.path.join(root, f".{DATABASE_DIR}.old-{os.getpid()}")
        if os.path.exists(final_dir):
            os.replace(final_dir, old_dir)
        os.replace(tmp_dir, final_dir)
        shutil.rmtree(old_dir, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp_dir, ignore_errors=True)
        raise
    result = {"metainfo": {"dataset": "kitti", "dbinfo_version": DBINFO_VERSION,
                           "info_file": os.path.basename(info_path(root, split)), "database_dir": DATABASE_DIR,
                           "num_point_features": num_features, "classes": list(classes), "min_points": min_points},
              "infos": db_infos}
    path = dbinfo_path(root, split)
    with atomic_open(path, "wb") as f:
        pickle.dump(result, f, protocol=pickle.HIGHEST_PROTOCOL)
    counts = ", ".join(f"{c}: {len(v)}" for c, v in db_infos.items())
    log(f"wrote {path} and {final_dir}/ ({counts})")
    return result


def _add_frame(root: str, frame: dict, classes: tuple, min_points: int, num_features: int, out_dir: str,
               db_infos: dict) -> None:
    annos = frame["annos"]
    if annos is None:
        raise ValueError(f"frame {frame['sample_idx']} has no labels; the GT database needs a labelled split")
    names = list(annos["names"])
    chosen = [i for i, n in enumerate(names) if n in classes]
    if not chosen:
        return
    points = kitti_io.read_points(os.path.join(root, frame["lidar_path"]), num_features)
    boxes = Boxes3D(torch.as_tensor(np.asarray(annos["boxes3d"], np.float32)).reshape(-1, 7)[chosen],
                    frame=CoordFrame.LIDAR)
    inside = boxes.points_inside(torch.from_numpy(points)).numpy()  # (P, K)
    for k, i in enumerate(chosen):
        mask = inside[:, k]
        n = int(mask.sum())
        if n < min_points:
            continue
        box = np.asarray(annos["boxes3d"][i], dtype=np.float32)
        obj_points = points[mask].copy()
        obj_points[:, :3] -= box[:3]
        name = names[i]
        filename = f"{frame['sample_idx']}_{name}_{i}.bin"
        obj_points.astype(np.float32).tofile(os.path.join(out_dir, filename))
        db_infos[name].append({
            "name": name, "path": f"{DATABASE_DIR}/{filename}", "sample_idx": frame["sample_idx"], "gt_idx": i,
            "box3d_lidar": box.copy(), "num_points_in_gt": n, "difficulty": int(annos["difficulty"][i]),
            "bbox": np.asarray(annos["boxes2d"][i], dtype=np.float32).copy(),
            "truncated": float(annos["truncated"][i]), "occluded": int(annos["occluded"][i]),
        })


def load_db_infos(path: str | os.PathLike) -> dict:
    """Read and validate a dbinfos pickle written by :func:`create_gt_database`."""
    from .create_data import InfoFileError

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: GT database info file not found; create it with "
                                f"'python tools/create_data.py kitti --root DATA_ROOT --gt-database'")
    try:
        with open(path, "rb") as f:
            db = pickle.load(f)
    except Exception as exc:  # noqa: BLE001
        raise InfoFileError(f"{path}: not a readable pickle ({type(exc).__name__}: {exc})") from None
    if not isinstance(db, dict) or not {"metainfo", "infos"} <= set(db):
        raise InfoFileError(f"{path}: expected a dict with 'metainfo' and 'infos' (written by "
                            f"tools/create_data.py --gt-database), got {type(db).__name__}")
    version = db["metainfo"].get("dbinfo_version") if isinstance(db["metainfo"], dict) else None
    if version != DBINFO_VERSION:
        raise InfoFileError(f"{path}: dbinfo_version {version!r}, this code reads version {DBINFO_VERSION}")
    for name, entries in db["infos"].items():
        for j, e in enumerate(entries):
            missing = [k for k in ("name", "path", "box3d_lidar", "num_points_in_gt", "difficulty") if k not in e]
            if missing:
                raise InfoFileError(f"{path}: infos[{name!r}][{j}] lacks key(s) {', '.join(missing)}")
    return db
