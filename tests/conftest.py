"""Shared pytest fixtures."""
from __future__ import annotations

import os
import pathlib

import pytest

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
# ../shared beside the checkout holds one real KITTI frame (see ../shared/README.md).
SHARED_KITTI = REPO_ROOT.parent / "shared" / "data" / "kitti_real_000000"


@pytest.fixture(scope="session")
def kitti_real_root() -> pathlib.Path:
    """Root of the one real KITTI frame (``training/{velodyne,image_2,calib,label_2}/000000.*``)."""
    if not (SHARED_KITTI / "training" / "calib" / "000000.txt").is_file():
        pytest.fail(f"the shared KITTI fixture is missing at {SHARED_KITTI}; it ships in ../shared beside the repo")
    return SHARED_KITTI


@pytest.fixture(scope="session")
def repo_root() -> pathlib.Path:
    return REPO_ROOT


def pytest_configure(config):
    os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(scope="session")
def tiny_sim_dataset(tmp_path_factory) -> pathlib.Path:
    """A ready-to-train tiny simulated KITTI-format root, shared by every test of the session.

    4 frames of the simulator's tiny preset (414x125 images, 32 beams), seed 0;
    frames 0 and 2 are ``train``, 1 and 3 ``val``; infos for both splits and the
    ground-truth database are written, as ``tools/create_data.py kitti --gt-database``
    would.  Treat it as read-only.
    """
    from perception.datasets.create_data import create_kitti_infos
    from perception.datasets.gt_database import create_gt_database
    from perception.datasets.sim import SimConfig, generate_dataset

    root = tmp_path_factory.mktemp("tiny_sim")
    generate_dataset(root, num_frames=4, config=SimConfig.tiny(seed=0, val_every=2), workers=1, progress=False)
    create_kitti_infos(root, ("train", "val"), progress=False, log=lambda _: None)
    create_gt_database(root, split="train", progress=False, log=lambda _: None)
    return root
