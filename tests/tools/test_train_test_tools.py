"""tools/train.py and tools/test.py end to end on a tiny simulated dataset, incl. 2-process DDP (gloo)."""
import os
import pathlib
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
TINY = "configs/centerpoint_pillar/centerpoint_pillar_sim_tiny.py"


def without_warnings(text: str) -> str:
    """``text`` less Python's warning lines (and the source line each quotes), so a failure shows its cause."""
    kept, skip_next = [], False
    for line in text.splitlines():
        if skip_next and line.startswith("  "):
            skip_next = False
            continue
        skip_next = "Warning: " in line
        if not skip_next:
            kept.append(line)
    return "\n".join(kept)


def run(args, **kwargs):
    env = dict(os.environ, PYTHONUNBUFFERED="1", OMP_NUM_THREADS="1")
    proc = subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True, timeout=600, **kwargs)
    assert proc.returncode == 0, (f"{' '.join(map(str, args))} failed:\n{proc.stdout[-3000:]}\n"
                                  f"{without_warnings(proc.stderr)[-8000:]}")
    return proc


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_sim_dataset):
    work = tmp_path_factory.mktemp("train_tiny")
    proc = run([sys.executable, "tools/train.py", TINY, "--work-dir", str(work), "--data-root", str(tiny_sim_dataset)])
    return work, proc


def test_train_writes_checkpoint_and_logs_losses(trained):
    work, proc = trained
    assert (work / "iter_4.pth").is_file()
    log = "".join(p.read_text() for p in work.rglob("*.log"))
    assert "loss_heatmap" in log and "loss_reg" in log
    assert "Iter(train) [4/4]" in log


def test_resume_continues_from_the_last_checkpoint(trained, tiny_sim_dataset):
    work, _ = trained
    run([sys.executable, "tools/train.py", TINY, "--work-dir", str(work), "--resume", "--data-root",
         str(tiny_sim_dataset), "--cfg-options", "train_cfg.max_iters=6", "train_cfg.val_interval=1000"])
    assert (work / "iter_6.pth").is_file()
    logs = sorted(work.rglob("*.log"), key=lambda p: p.stat().st_mtime)
    text = logs[-1].read_text()
    assert "resumed" in text.lower() and "Iter(train) [5/6]" in text and "Iter(train) [1/6]" not in text


def test_test_tool_reports_kitti_metrics(trained, tiny_sim_dataset, tmp_path):
    work, _ = trained
    proc = run([sys.executable, "tools/test.py", TINY, str(work / "iter_4.pth"), "--work-dir", str(tmp_path),
                "--data-root", str(tiny_sim_dataset)])
    out = proc.stdout + proc.stderr
    assert "Car_3D_moderate_R40" in out
    assert "Loads checkpoint by local backend" in out  # perception.engine's loader (weights_only=False)


def test_two_process_ddp_training_on_cpu(tiny_sim_dataset, tmp_path):
    proc = run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29517",
                "tools/train.py", TINY, "--launcher", "pytorch", "--work-dir", str(tmp_path),
                "--data-root", str(tiny_sim_dataset), "--cfg-options", "train_cfg.max_iters=2",
                "train_cfg.val_interval=1000"])
    log = "".join(p.read_text() for p in tmp_path.rglob("*.log"))
    # mmengine prints "Distributed training: True" only when the process group has more than one rank
    assert "Distributed launcher: pytorch" in log and "Distributed training: True" in log
    assert "Iter(train) [2/2]" in log
    assert (tmp_path / "iter_2.pth").is_file()


def test_publish_checkpoint_keeps_weights_and_loads_safely(trained, tmp_path):
    import torch

    work, _ = trained
    out = tmp_path / "published.pth"
    run([sys.executable, "tools/publish_checkpoint.py", str(work / "iter_4.pth"), str(out)])
    full = torch.load(work / "iter_4.pth", map_location="cpu", weights_only=False)
    slim = torch.load(out, map_location="cpu", weights_only=True)  # no pickled objects left
    assert set(slim) == {"state_dict", "meta"} and slim["meta"]["iter"] == 4
    assert slim["state_dict"].keys() == full["state_dict"].keys()
    assert all(torch.equal(slim["state_dict"][k], v) for k, v in full["state_dict"].items())


def test_test_tool_evaluates_the_untrained_model_for_baseline_rows(tiny_sim_dataset, tmp_path):
    proc = run([sys.executable, "tools/test.py", TINY, "random", "--work-dir", str(tmp_path),
                "--data-root", str(tiny_sim_dataset)])
    out = proc.stdout + proc.stderr
    assert "evaluating the randomly initialised model" in out and "Car_3D_moderate_R40" in out
    assert "Loads checkpoint" not in out  # nothing was loaded
