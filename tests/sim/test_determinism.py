"""Same settings -> byte-identical files (across runs and worker counts); resume and refusal rules."""
from __future__ import annotations

import json
import os
import pathlib

import numpy as np
import pytest

from perception.datasets import kitti_io
from perception.datasets.sim import SimConfig, SimDatasetError, generate_dataset
from perception.datasets.sim.generator import FRAME_FILES

NUM_FRAMES = 3  # as in conftest.py


def _tree(root: pathlib.Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_layout_and_every_file_loads(sim_root, tiny_config):
    train = sim_root / "training"
    for i in range(NUM_FRAMES):
        name = f"{i:06d}"
        for d, ext in FRAME_FILES:
            assert (train / d / f"{name}{ext}").is_file(), f"missing {d}/{name}{ext}"
        pts = kitti_io.read_points(train / "velodyne" / f"{name}.bin")
        assert pts.dtype == np.float32 and pts.shape[1] == 4 and len(pts) > 5000
        assert 0.0 <= pts[:, 3].min() and pts[:, 3].max() <= 1.0
        assert np.linalg.norm(pts[:, :3], axis=1).max() <= tiny_config.max_range + 0.2
        img = kitti_io.read_image(train / "image_2" / f"{name}.png")
        assert img.shape == (tiny_config.image_height, tiny_config.image_width, 3)
        calib = kitti_io.read_calib(train / "calib" / f"{name}.txt")
        assert calib.P.shape == (4, 3, 4)
        kitti_io.read_label(train / "label_2" / f"{name}.txt")
    for split in ("train", "val", "trainval"):
        assert (sim_root / "ImageSets" / f"{split}.txt").is_file()
    train_ids = kitti_io.read_image_set(sim_root / "ImageSets" / "train.txt")
    val_ids = kitti_io.read_image_set(sim_root / "ImageSets" / "val.txt")
    assert sorted(train_ids + val_ids) == [f"{i:06d}" for i in range(NUM_FRAMES)]
    assert not set(train_ids) & set(val_ids)
    meta = json.loads((sim_root / "sim_meta.json").read_text())
    assert meta["complete"] is True and meta["num_frames"] == NUM_FRAMES and meta["seed"] == 0
    assert SimConfig.from_dict(meta["config"]) == tiny_config
    assert (train / "panoptic.json").is_file() and (train / "point_labels.json").is_file()


def test_same_seed_is_byte_identical_across_runs_and_worker_counts(sim_root, sim_root_w2):
    a, b = _tree(sim_root), _tree(sim_root_w2)
    assert sorted(a) == sorted(b)
    differing = [name for name in a if a[name] != b[name]]
    assert not differing, f"files differ between workers=1 and workers=2: {differing}"


def test_different_seed_gives_different_scenes(sim_root, tmp_path, tiny_config):
    other = tmp_path / "seed1"
    generate_dataset(other, num_frames=1, config=tiny_config.replace(seed=1), workers=1, progress=False)
    for d, ext in (("velodyne", ".bin"), ("image_2", ".png"), ("label_2", ".txt")):
        assert (other / "training" / d / f"000000{ext}").read_bytes() != \
            (sim_root / "training" / d / f"000000{ext}").read_bytes()
    # and frames of one run differ from each other
    v0 = (sim_root / "training" / "velodyne" / "000000.bin").read_bytes()
    v1 = (sim_root / "training" / "velodyne" / "000001.bin").read_bytes()
    assert v0 != v1


def test_rerun_reuses_complete_frames_and_redoes_broken_ones(sim_root, tmp_path, tiny_config):
    root = tmp_path / "resume"
    generate_dataset(root, num_frames=2, config=tiny_config, workers=1, progress=False)
    # frame 1 loses files (as if interrupted before its record was written)
    (root / "training" / "sim_frames" / "000001.json").unlink()
    (root / "training" / "image_2" / "000001.png").unlink()
    marker0 = root / "training" / "sim_frames" / "000000.json"
    mtime0 = marker0.stat().st_mtime_ns
    summary = generate_dataset(root, num_frames=NUM_FRAMES, config=tiny_config, workers=1, progress=False)
    assert summary["reused"] == 1 and summary["generated"] == NUM_FRAMES - 1
    assert marker0.stat().st_mtime_ns == mtime0  # frame 0 untouched
    assert _tree(root) == _tree(sim_root)  # identical to an uninterrupted run
    assert not [p for p in root.rglob("*.tmp")], "temporary files left behind"


def test_refuses_other_settings_foreign_dirs_and_extra_frames(sim_root, tmp_path, tiny_config):
    with pytest.raises(SimDatasetError, match="other settings"):
        generate_dataset(sim_root, num_frames=NUM_FRAMES, config=tiny_config.replace(seed=5), progress=False)
    with pytest.raises(SimDatasetError, match="beyond"):
        generate_dataset(sim_root, num_frames=1, config=tiny_config, progress=False)
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("not a dataset")
    with pytest.raises(SimDatasetError, match="no sim_meta.json"):
        generate_dataset(foreign, num_frames=1, config=tiny_config, progress=False)
    assert sorted(os.listdir(foreign)) == ["notes.txt"]


def test_generating_in_process_leaves_the_torch_thread_count_alone(tmp_path, tiny_config):
    """Regression: the single-worker path used to call the pool initializer, pinning torch to 1 thread for
    the rest of the process (the demo and the ROS node then ran their models on one core)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        generate_dataset(tmp_path / "one", num_frames=1, config=tiny_config, workers=1, progress=False)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(threads)
