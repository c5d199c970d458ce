"""tools/make_sim.py end to end (tiny preset, subprocess)."""
from __future__ import annotations

import subprocess
import sys

from perception.datasets import kitti_io


def _run(repo_root, *args):
    return subprocess.run([sys.executable, str(repo_root / "tools" / "make_sim.py"), *args], cwd=repo_root,
                          capture_output=True, text=True, timeout=300)


def test_help_explains_the_options(repo_root):
    out = _run(repo_root, "--help")
    assert out.returncode == 0
    for option in ("--out", "--frames", "--seed", "--workers", "--tiny"):
        assert option in out.stdout


def test_cli_writes_a_loadable_dataset(repo_root, tmp_path, sim_root):
    root = tmp_path / "cli"
    out = _run(repo_root, "--out", str(root), "--frames", "2", "--tiny", "--seed", "0", "--quiet")
    assert out.returncode == 0, out.stderr
    assert "wrote 2 frames" in out.stdout and " s per frame" in out.stdout
    train = root / "training"
    for name in ("000000", "000001"):
        calib = kitti_io.read_calib(train / "calib" / f"{name}.txt")
        objects = kitti_io.read_label(train / "label_2" / f"{name}.txt")
        kitti_io.objects_to_annotations(objects, calib)
        assert len(kitti_io.read_points(train / "velodyne" / f"{name}.bin"))
        kitti_io.read_image(train / "image_2" / f"{name}.png")
        # the CLI's frames are those of the library call with the same settings
        assert (train / "velodyne" / f"{name}.bin").read_bytes() == \
            (sim_root / "training" / "velodyne" / f"{name}.bin").read_bytes()
    # a second run with other settings is refused with a clear message and exit code 1
    again = _run(repo_root, "--out", str(root), "--frames", "2", "--tiny", "--seed", "1", "--quiet")
    assert again.returncode == 1 and "other settings" in again.stderr
