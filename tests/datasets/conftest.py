"""Fixtures of the dataset tests: tiny synthetic KITTI directories written with the kitti_io writers,
and a temporary root around the one real KITTI frame of ../shared."""
from __future__ import annotations

import math
import os
import pathlib
import shutil
from typing import Optional, Sequence

import numpy as np
import pytest
import torch

from perception.datasets import kitti_io
from perception.structures import Boxes2D, Boxes3D, CoordFrame, KittiCalibration, ObjectAnnotations

#: Synthetic image size (h, w): small, so writing PNGs is fast.
SYNTH_IMAGE_SHAPE = (120, 400)


def synthetic_calibration() -> KittiCalibration:
    """An axis-aligned KITTI calibration: camera x = -lidar y, y = -lidar z, z = lidar x; f = 200 px."""
    h, w = SYNTH_IMAGE_SHAPE
    k = np.array([[200.0, 0.0, w / 2, 0.0], [0.0, 200.0, h / 2, 0.0], [0.0, 0.0, 1.0, 0.0]])
    tr = np.array([[0.0, -1.0, 0.0, 0.0], [0.0, 0.0, -1.0, 0.0], [1.0, 0.0, 0.0, 0.0]])
    return KittiCalibration(P=np.stack([k] * 4), R0_rect=np.eye(3), Tr_velo_to_cam=tr)


def points_in_box(box: Sequence[float], n: int, rng: np.random.Generator, shrink: float = 0.9) -> np.ndarray:
    """``n`` points ``[x, y, z, r]`` strictly inside a LiDAR box ``[x, y, z, l, w, h, yaw]``."""
    x, y, z, l, w, h, yaw = box
    local = (rng.uniform(-0.5, 0.5, size=(n, 3)) * shrink) * np.array([l, w, h])
    c, s = math.cos(yaw), math.sin(yaw)
    pts = np.stack([x + c * local[:, 0] - s * local[:, 1], y + s * local[:, 0] + c * local[:, 1], z + local[:, 2],
                    rng.uniform(0, 1, n)], axis=1)
    return pts.astype(np.float32)


def write_frame(root: pathlib.Path, idx: str, boxes: Sequence[Sequence[float]] = (), names: Sequence[str] = (),
                *, points: Optional[np.ndarray] = None, points_per_box: int = 30, n_background: int = 100,
                occluded: Optional[Sequence[int]] = None, truncated: Optional[Sequence[float]] = None,
                dontcare: Sequence[Sequence[float]] = (), split_dir: str = "training", seed: int = 0,
                with_label: bool = True) -> dict:
    """Write one synthetic frame (velodyne, image_2, calib, label_2) with the kitti_io writers.

    Boxes are LiDAR ``[x, y, z, l, w, h, yaw]``; unless ``points`` is given, each box gets
    ``points_per_box`` points inside it and there are ``n_background`` ground points outside all boxes.
    2D boxes are the boxes' projected corners clipped to the image.  Returns what was written.
    """
    from PIL import Image

    rng = np.random.default_rng(seed)
    calib = synthetic_calibration()
    boxes_t = Boxes3D(torch.tensor(np.asarray(boxes, np.float64).reshape(-1, 7)), frame=CoordFrame.LIDAR)
    if points is None:
        parts = [points_in_box(b, points_per_box, rng) for b in np.asarray(boxes, np.float64).reshape(-1, 7)]
        bg = np.stack([rng.uniform(2, 60, n_background), rng.uniform(-20, 20, n_background),
                       np.full(n_background, -1.7), rng.uniform(0, 1, n_background)], axis=1).astype(np.float32)
        if len(boxes_t):
            bg = bg[~boxes_t.points_inside(torch.from_numpy(bg)).any(dim=1).numpy()]
        points = np.concatenate(parts + [bg], axis=0) if parts else bg
    base = root / split_dir
    kitti_io.write_points(base / "velodyne" / f"{idx}.bin", points)
    (base / "calib").mkdir(parents=True, exist_ok=True)
    (base / "calib" / f"{idx}.txt").write_text(calib.to_text())
    (base / "image_2").mkdir(parents=True, exist_ok=True)
    h, w = SYNTH_IMAGE_SHAPE
    Image.fromarray(np.full((h, w, 3), 90, np.uint8)).save(base / "image_2" / f"{idx}.png")
    n = len(boxes_t)
    if n:
        cam = boxes_t.convert_to(CoordFrame.CAMERA, calib).corners().reshape(-1, 3)
        uv, _ = calib.camera_to_image(cam)
        boxes2d = Boxes2D.from_points(uv.reshape(n, 8, 2)).clip((h, w)).tensor.float()
    else:
        boxes2d = torch.zeros(0, 4)
    ann = ObjectAnnotations(
        names=list(names), boxes3d=boxes_t.to(torch.float32), boxes2d=Boxes2D(boxes2d),
        truncated=torch.tensor(list(truncated) if truncated is not None else [0.0] * n, dtype=torch.float32),
        occluded=torch.tensor(list(occluded) if occluded is not None else [0] * n, dtype=torch.long),
        alpha=torch.zeros(n), dontcare=Boxes2D(torch.tensor(np.asarray(dontcare, np.float32).reshape(-1, 4))))
    if with_label:
        kitti_io.write_label(base / "label_2" / f"{idx}.txt", kitti_io.annotations_to_objects(ann, calib))
    return {"points": points, "boxes": boxes_t, "annotations": ann, "calib": calib}


def write_image_sets(root: pathlib.Path, **splits: Sequence[str]) -> None:
    for split, ids in splits.items():
        kitti_io.write_image_set(root / "ImageSets" / f"{split}.txt", list(ids))


#: Boxes of the standard synthetic dataset (frame id -> (boxes, names)); frame 000002 has no objects.
SYNTH_FRAMES = {
    "000000": ([[10.0, 2.0, -0.9, 4.0, 1.8, 1.6, 0.3], [15.0, -3.0, -0.8, 0.8, 0.6, 1.8, -1.0],
                [20.0, 5.0, -0.9, 4.5, 1.9, 1.7, 1.2]], ["Car", "Pedestrian", "Van"]),
    "000001": ([[12.0, -1.0, -0.9, 3.9, 1.7, 1.5, -0.2], [8.0, 3.0, -0.9, 1.7, 0.6, 1.7, 0.5]],
               ["Car", "Cyclist"]),
    "000002": ([], []),
    "000003": ([[25.0, 0.0, -0.9, 4.2, 1.8, 1.5, 2.0]], ["Car"]),
}


@pytest.fixture
def synthetic_kitti(tmp_path) -> pathlib.Path:
    """A four-frame KITTI root: train = 000000, 000001, 000002 (no objects); val = 000003.
    Frame 000000 also has a DontCare region."""
    root = tmp_path / "kitti"
    for i, (idx, (boxes, names)) in enumerate(SYNTH_FRAMES.items()):
        write_frame(root, idx, boxes, names, seed=i,
                    dontcare=[[1.0, 2.0, 30.0, 40.0]] if idx == "000000" else ())
    write_image_sets(root, train=["000000", "000001", "000002"], val=["000003"])
    return root


@pytest.fixture
def real_kitti_root(tmp_path, kitti_real_root) -> pathlib.Path:
    """A writable root around the real frame: a copy of ``training/`` plus ImageSets (train and val = 000000)."""
    root = tmp_path / "kitti_real"
    shutil.copytree(kitti_real_root / "training", root / "training")
    for dirpath, _, filenames in os.walk(root):
        os.chmod(dirpath, 0o755)
        for name in filenames:
            os.chmod(os.path.join(dirpath, name), 0o644)
    write_image_sets(root, train=["000000"], val=["000000"])
    return root


@pytest.fixture(scope="session")
def kitti_synth():
    """The helpers of this module (test modules cannot import a conftest under --import-mode=importlib)."""
    import types

    return types.SimpleNamespace(write_frame=write_frame, write_image_sets=write_image_sets,
                                 points_in_box=points_in_box, synthetic_calibration=synthetic_calibration,
                                 SYNTH_FRAMES=SYNTH_FRAMES, SYNTH_IMAGE_SHAPE=SYNTH_IMAGE_SHAPE)
