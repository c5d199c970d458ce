"""Info files of a KITTI-format dataset: one pickle per split describing every frame.

``create_kitti_infos(root, splits)`` reads ``<root>/ImageSets/<split>.txt`` and, for every listed frame, the
velodyne / image_2 / calib / label_2 files through :mod:`perception.datasets.kitti_io`, and writes
``<root>/kitti_infos_<split>.pkl`` atomically.  Every malformed or missing file raises
:class:`~perception.datasets.kitti_io.KittiFormatError` (or the calibration's ``CalibrationError``) naming the
file and line; every split is validated completely before any info file is written, so a failed run writes
nothing and never a partial file.

Info file format (``INFO_VERSION = 1``; the OpenMMLab 2.0 layout that mmengine's ``BaseDataset`` reads)::

    {'metainfo': {'dataset': 'kitti', 'info_version': 1, 'split': 'train', 'split_dir': 'training',
                  'num_point_features': 4,
                  'panoptic_json': 'training/panoptic.json',          # only when the file exists
                  'point_labels_json': 'training/point_labels.json'}, # only when the file exists
     'data_list': [frame_info, ...]}                                   # ImageSets order, nothing dropped

    frame_info = {
        'sample_idx': '000042',                        # str, as listed in ImageSets
        'lidar_path': 'training/velodyne/000042.bin',  # paths relative to the dataset root, '/'-separated
        'img_path': 'training/image_2/000042.png',
        'calib_path': 'training/calib/000042.txt',
        'label_path': 'training/label_2/000042.txt',   # None for unlabelled splits (test)
        'panoptic_path': 'training/panoptic/000042.png',  # only when the file exists (simulator output)
        'num_point_features': 4,
        'img_shape': (h, w),                           # camera-2 image size in pixels
        'calib': {'P': (4, 3, 4), 'R0_rect': (3, 3), 'Tr_velo_to_cam': (3, 4),
                  'Tr_imu_to_velo': (3, 4) or None},   # float64 numpy, see KittiCalibration
        'annos': {                                     # None for unlabelled splits; N objects, DontCare excluded
            'names': list of N str,                    # label-file types (Car, Van, Pedestrian, ...)
            'boxes3d': (N, 7) float32,                 # LiDAR frame [x, y, z, l, w, h, yaw], geometric centre
            'boxes2d': (N, 4) float32,                 # [x1, y1, x2, y2] camera-2 pixels
            'truncated': (N,) float32, 'occluded': (N,) int64, 'alpha': (N,) float32,
            'difficulty': (N,) int64,                  # 0 easy, 1 moderate, 2 hard, -1 none (kitti_difficulty)
            'num_lidar_points': (N,) int64,            # points of the full scan inside each box
            'dontcare': (M, 4) float32,                # DontCare regions [x1, y1, x2, y2]
        },
    }

Use :func:`load_kitti_infos` to read and validate one; :func:`frame_annotations` turns ``annos`` back into
:class:`~perception.structures.ObjectAnnotations` and :func:`frame_calibration` ``calib`` into
:class:`~perception.structures.KittiCalibration`.
"""
from __future__ import annotations

import os
import pickle
from typing import Any, Callable, Iterable, Optional, Sequence

import numpy as np
import torch

from perception.structures import (Boxes2D, Boxes3D, CalibrationError, CoordFrame, KittiCalibration,
                                  ObjectAnnotations)
from perception.utils.fileio import atomic_open

from . import kitti_io
from .kitti_io import KittiFormatError

__all__ = [
    "INFO_VERSION", "DIFFICULTY_LEVELS", "SPLIT_DIRS", "InfoFileError", "kitti_difficulty", "count_points_in_boxes",
    "kitti_frame_info", "build_split_infos", "create_kitti_infos", "write_infos", "load_kitti_infos",
    "frame_calibration", "frame_annotations", "info_path",
]

INFO_VERSION = 1

#: KITTI difficulty levels: (min 2D box height px, max occlusion level, max truncation), easy/moderate/hard.
DIFFICULTY_LEVELS = ((40.0, 0, 0.15), (25.0, 1, 0.30), (25.0, 2, 0.50))

#: Image set -> the KITTI directory holding its frames.  Unknown splits default to ``training``.
SPLIT_DIRS = {"train": "training", "val": "training", "trainval": "training", "test": "testing"}
#: Splits that have no label files.
UNLABELLED_SPLITS = ("test",)


class InfoFileError(ValueError):
    """An info file is missing, unreadable or not in the format of :mod:`perception.datasets.create_data`."""


def info_path(root: str | os.PathLike, split: str) -> str:
    """``<root>/kitti_infos_<split>.pkl``."""
    return os.path.join(os.fspath(root), f"kitti_infos_{split}.pkl")


# ------------------------------------------------------------------------- per-object quantities
def kitti_difficulty(height: np.ndarray | Sequence[float], occluded: np.ndarray | Sequence[int],
                     truncated: np.ndarray | Sequence[float]) -> np.ndarray:
    """KITTI difficulty of each object: 0 easy, 1 moderate, 2 hard, -1 none of them.

    An object is of the first level whose three limits it meets (:data:`DIFFICULTY_LEVELS`): 2D box height
    ``>=`` 40 / 25 / 25 px, occlusion level ``<=`` 0 / 1 / 2 and truncation ``<=`` 0.15 / 0.30 / 0.50
    (the official devkit's limits; occlusion 3 "unknown" is never easy/moderate/hard).
    """
    height = np.asarray(height, dtype=np.float64).reshape(-1)
    occluded = np.asarray(occluded, dtype=np.int64).reshape(-1)
    truncated = np.asarray(truncated, dtype=np.float64).reshape(-1)
    out = np.full(height.shape, -1, dtype=np.int64)
    for level in reversed(range(len(DIFFICULTY_LEVELS))):  # easiest level wins, so assign it last
        min_h, max_occ, max_trunc = DIFFICULTY_LEVELS[level]
        ok = (height >= min_h) & (occluded >= 0) & (occluded <= max_occ) & (truncated <= max_trunc)
        out[ok] = level
    return out


def count_points_in_boxes(points: torch.Tensor | np.ndarray, boxes: Boxes3D) -> np.ndarray:
    """``(N,)`` int64: LiDAR points inside each box (boundary included; a point in two overlapping boxes
    counts for both).  Uses :meth:`Boxes3D.points_inside` (the compiled ``points_in_boxes`` op)."""
    if len(boxes) == 0:
        return np.zeros(0, dtype=np.int64)
    pts = torch.as_tensor(points)[:, :3]
    return boxes.points_inside(pts).sum(dim=0).numpy().astype(np.int64)


# ------------------------------------------------------------------------------- one frame
def _rel(*parts: str) -> str:
    return "/".join(parts)


def _image_shape(path: str) -> tuple[int, int]:
    """``(h, w)`` of an image, checking that the file is a readable image (PIL ``verify``: header and, for
    PNG, chunk checksums) without decoding all pixels."""
    from PIL import Image, UnidentifiedImageError

    if not os.path.isfile(path):
        raise KittiFormatError(f"{path}: image file not found")
    try:
        with Image.open(path) as img:
            w, h = img.size
            img.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise KittiFormatError(f"{path}: not a readable image ({exc})") from None
    return int(h), int(w)


def kitti_frame_info(root: str | os.PathLike, sample_idx: str, *, split_dir: str = "training",
                     with_labels: bool = True, num_point_features: int = 4) -> dict:
    """The info dict of one frame (format in the module docstring); raises on any bad or missing file."""
    root = os.fspath(root)
    rel = {
        "lidar_path": _rel(split_dir, "velodyne", f"{sample_idx}.bin"),
        "img_path": _rel(split_dir, "image_2", f"{sample_idx}.png"),
        "calib_path": _rel(split_dir, "calib", f"{sample_idx}.txt"),
        "label_path": _rel(split_dir, "label_2", f"{sample_idx}.txt") if with_labels else None,
    }
    for key in ("calib_path", "lidar_path", "img_path", "label_path"):
        if rel[key] is not None and not os.path.isfile(os.path.join(root, rel[key])):
            what = key[:-5].replace("img", "image").replace("lidar", "point cloud")
            raise KittiFormatError(f"{os.path.join(root, rel[key])}: {what} file not found (frame {sample_idx})")
    calib = kitti_io.read_calib(os.path.join(root, rel["calib_path"]))
    points = kitti_io.read_points(os.path.join(root, rel["lidar_path"]), num_point_features)
    img_shape = _image_shape(os.path.join(root, rel["img_path"]))
    info: dict[str, Any] = {"sample_idx": sample_idx, **rel, "num_point_features": num_point_features,
                            "img_shape": img_shape, "calib": _calib_to_dict(calib), "annos": None}
    panoptic = _rel(split_dir, "panoptic", f"{sample_idx}.png")
    if os.path.isfile(os.path.join(root, panoptic)):
        info["panoptic_path"] = panoptic
    if with_labels:
        objects = kitti_io.read_label(os.path.join(root, rel["label_path"]))
        ann = kitti_io.objects_to_annotations(objects, calib)
        info["annos"] = _annotations_to_dict(ann, points)
    return info


def _calib_to_dict(calib: KittiCalibration) -> dict:
    return {"P": calib.P.copy(), "R0_rect": calib.R0_rect.copy(), "Tr_velo_to_cam": calib.Tr_velo_to_cam.copy(),
            "Tr_imu_to_velo": None if calib.Tr_imu_to_velo is None else calib.Tr_imu_to_velo.copy()}


def _annotations_to_dict(ann: ObjectAnnotations, points: np.ndarray) -> dict:
    boxes2d = ann.boxes2d.numpy().astype(np.float32).reshape(-1, 4)
    truncated = ann.truncated.numpy().astype(np.float32)
    occluded = ann.occluded.numpy().astype(np.int64)
    return {
        "names": list(ann.names),
        "boxes3d": ann.boxes3d.numpy().astype(np.float32).reshape(-1, 7),
        "boxes2d": boxes2d,
        "truncated": truncated,
        "occluded": occluded,
        "alpha": ann.alpha.numpy().astype(np.float32),
        "difficulty": kitti_difficulty(boxes2d[:, 3] - boxes2d[:, 1], occluded, truncated),
        "num_lidar_points": count_points_in_boxes(torch.from_numpy(points), ann.boxes3d),
        "dontcare": ann.dontcare.numpy().astype(np.float32).reshape(-1, 4),
    }


def frame_calibration(info: dict) -> KittiCalibration:
    """The :class:`KittiCalibration` of a frame info."""
    c = info["calib"]
    return KittiCalibration(P=c["P"], R0_rect=c["R0_rect"], Tr_velo_to_cam=c["Tr_velo_to_cam"],
                            Tr_imu_to_velo=c.get("Tr_imu_to_velo"))


def frame_annotations(info: dict) -> Optional[ObjectAnnotations]:
    """All labelled objects of a frame info (every class, DontCare regions included), or ``None`` when the
    frame has no labels."""
    a = info.get("annos")
    if a is None:
        return None
    return ObjectAnnotations(
        names=list(a["names"]), boxes3d=Boxes3D(torch.as_tensor(a["boxes3d"]).reshape(-1, 7), frame=CoordFrame.LIDAR),
        boxes2d=Boxes2D(torch.as_tensor(a["boxes2d"]).reshape(-1, 4)),
        truncated=torch.as_tensor(a["truncated"]), occluded=torch.as_tensor(a["occluded"]),
        alpha=torch.as_tensor(a["alpha"]), dontcare=Boxes2D(torch.as_tensor(a["dontcare"]).reshape(-1, 4)))


# ---------------------------------------------------------------------------------- splits
def _read_split_ids(root: str, split: str) -> list[str]:
    path = os.path.join(root, "ImageSets", f"{split}.txt")
    ids = kitti_io.read_image_set(path)
    seen: dict[str, int] = {}
    for i, sample in enumerate(ids):
        if sample in seen:
            raise KittiFormatError(
                f"{path}: sample id {sample!r} listed twice (entries {seen[sample] + 1} and {i + 1})")
        seen[sample] = i
    return ids


def _progress(iterable: Iterable, total: int, desc: str, enabled: bool) -> Iterable:
    if not enabled:
        return iterable
    from tqdm import tqdm

    return tqdm(iterable, total=total, desc=desc, unit="frame", dynamic_ncols=True)


def build_split_infos(root: str | os.PathLike, split: str, *, num_point_features: int = 4,
                      progress: bool = True) -> dict:
    """The info dict (``{'metainfo', 'data_list'}``) of one split, without writing it."""
    root = os.fspath(root)
    split_dir = SPLIT_DIRS.get(split, "training")
    with_labels = split not in UNLABELLED_SPLITS
    ids = _read_split_ids(root, split)
    image_set = os.path.join(root, "ImageSets", f"{split}.txt")
    data_list = []
    for i, sample in enumerate(_progress(ids, len(ids), f"kitti infos {split}", progress)):
        try:
            data_list.append(kitti_frame_info(root, sample, split_dir=split_dir, with_labels=with_labels,
                                              num_point_features=num_point_features))
        except (KittiFormatError, CalibrationError) as exc:
            raise type(exc)(f"{exc} [frame listed at {image_set}:{i + 1}]") from None
    metainfo: dict[str, Any] = {"dataset": "kitti", "info_version": INFO_VERSION, "split": split,
                                "split_dir": split_dir, "num_point_features": num_point_features}
    for key, name in (("panoptic_json", "panoptic.json"), ("point_labels_json", "point_labels.json")):
        if os.path.isfile(os.path.join(root, split_dir, name)):
            metainfo[key] = _rel(split_dir, name)
    return {"metainfo": metainfo, "data_list": data_list}


def write_infos(path: str | os.PathLike, infos: dict) -> None:
    """Pickle an info dict atomically (a temporary file renamed over ``path``)."""
    with atomic_open(path, "wb") as f:
        pickle.dump(infos, f, protocol=pickle.HIGHEST_PROTOCOL)


def create_kitti_infos(root: str | os.PathLike, splits: Sequence[str] = ("train", "val"), *,
                       num_point_features: int = 4, progress: bool = True,
                       log: Callable[[str], None] = print) -> dict[str, dict]:
    """Build the infos of every split, then write ``<root>/kitti_infos_<split>.pkl`` for each.

    Nothing is written unless every split was read without error.  Returns ``{split: infos}``.
    """
    root = os.fspath(root)
    if not os.path.isdir(root):
        raise FileNotFoundError(f"{root}: dataset root not found")
    all_infos = {split: build_split_infos(root, split, num_point_features=num_point_features, progress=progress)
                 for split in splits}
    for split, infos in all_infos.items():
        path = info_path(root, split)
        write_infos(path, infos)
        n_obj = sum(len(f["annos"]["names"]) for f in infos["data_list"] if f["annos"] is not None)
        log(f"wrote {path}: {len(infos['data_list'])} frames, {n_obj} objects")
    return all_infos


# ---------------------------------------------------------------------------------- reading
_FRAME_KEYS = ("sample_idx", "lidar_path", "img_path", "img_shape", "calib", "annos")
_ANNO_KEYS = ("names", "boxes3d", "boxes2d", "truncated", "occluded", "alpha", "difficulty", "num_lidar_points",
              "dontcare")


def read_info_pickle(path: str, create_command: str) -> dict:
    """The ``{"metainfo", "data_list"}`` dict pickled at ``path`` (KITTI and nuScenes info files alike).

    Raises:
        FileNotFoundError: no file (the message gives ``create_command``).
        InfoFileError: not a readable pickle of a dict with both keys.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: info file not found; create it with '{create_command}'")
    try:
        with open(path, "rb") as f:
            infos = pickle.load(f)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means a broken file
        raise InfoFileError(f"{path}: not a readable info pickle ({type(exc).__name__}: {exc})") from None
    if not isinstance(infos, dict) or not {"metainfo", "data_list"} <= set(infos):
        raise InfoFileError(f"{path}: expected a dict with 'metainfo' and 'data_list' "
                            f"(written by {create_command.split(' --')[0]}), got {type(infos).__name__}")
    return infos


def load_kitti_infos(path: str | os.PathLike) -> dict:
    """Read and validate an info file written by :func:`create_kitti_infos`.

    Raises:
        FileNotFoundError: the file does not exist (the message says how to create it).
        InfoFileError: it is not a readable pickle of the documented format (the message names the file,
            and the frame and key at fault).
    """
    path = os.fspath(path)
    infos = read_info_pickle(path, "python tools/create_data.py kitti --root DATA_ROOT")
    version = infos["metainfo"].get("info_version") if isinstance(infos["metainfo"], dict) else None
    if version != INFO_VERSION:
        raise InfoFileError(f"{path}: info_version {version!r}, this code reads version {INFO_VERSION}; "
                            f"re-create it with tools/create_data.py")
    if not isinstance(infos["data_list"], list):
        raise InfoFileError(f"{path}: 'data_list' must be a list, got {type(infos['data_list']).__name__}")
    for i, frame in enumerate(infos["data_list"]):
        if not isinstance(frame, dict):
            raise InfoFileError(f"{path}: data_list[{i}] must be a dict, got {type(frame).__name__}")
        missing = [k for k in _FRAME_KEYS if k not in frame]
        if missing:
            raise InfoFileError(f"{path}: data_list[{i}] lacks key(s) {', '.join(missing)}")
        annos = frame["annos"]
        if annos is not None:
            missing = [k for k in _ANNO_KEYS if k not in annos]
            if missing:
                raise InfoFileError(f"{path}: data_list[{i}] (frame {frame['sample_idx']}) annos lack key(s) "
                                    f"{', '.join(missing)}")
            n = len(annos["names"])
            for k in _ANNO_KEYS[1:-1]:
                if len(annos[k]) != n:
                    raise InfoFileError(f"{path}: data_list[{i}] (frame {frame['sample_idx']}) annos[{k!r}] has "
                                        f"{len(annos[k])} entries, 'names' has {n}")
    return infos
