"""tools/benchmark.py runs each benchmark end to end on tiny inputs and reports what docs/results.md quotes.

No timing is asserted here (timings live in the benchmark reports): the tests check that each report holds its
comparisons, measured in one run, and that the compiled and reference results agreed where a benchmark checks.
"""
import json
import os
import pathlib
import subprocess
import sys

import pytest
import torch

REPO = pathlib.Path(__file__).resolve().parents[2]


def bench(*args, tmp_path):
    out = tmp_path / "report.json"
    proc = subprocess.run([sys.executable, "tools/benchmark.py", *args, "--out", str(out)], cwd=REPO,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(out.read_text())


def test_list_names_every_benchmark():
    proc = subprocess.run([sys.executable, "tools/benchmark.py", "--list"], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0
    for name in ("camera", "kitti_eval", "lidar", "lidar_ops", "ros", "sim"):
        assert name in proc.stdout


def test_lidar_ops_compares_ext_reference_and_spconv(tmp_path):
    report = bench("lidar_ops", "--points", "3000", "--boxes", "4", "--repeats", "1", "--warmup", "0",
                   tmp_path=tmp_path)
    assert report["extension"]["used"] and report["spconv"]["version"].startswith("2.")
    ops = {row["op"] for row in report["ops"]}
    assert {"window_partition", "region_batching", "gather_regions", "scatter_regions", "unique_voxels"} <= ops
    assert all(row["ext_s"] > 0 and row["reference_s"] > 0 and "speedup" in row for row in report["ops"])
    for row in report["dynamic_voxelization"]:
        assert row["spconv_s"] > 0 and "ext_at_least_as_fast_as_spconv" in row


def test_lidar_ops_reports_the_spread_of_per_round_ratios(tmp_path):
    report = bench("lidar_ops", "--points", "2000", "--boxes", "2", "--repeats", "3", "--warmup", "0",
                   tmp_path=tmp_path)
    for row in report["ops"] + report["dynamic_voxelization"]:
        assert 0 < row["speedup_q10"] <= row["speedup_q90"], row
    assert report["repeats"] == 3


def test_lidar_benchmark_times_every_stage_and_compares_ext_with_reference(tmp_path):
    report = bench("lidar", "--frame", "synthetic", "--points", "3000", "--repeats", "2", "--warmup", "0",
                   tmp_path=tmp_path)
    stages = {row["stage"]: row for row in report["stages"]}
    assert {"voxelization", "voxel_encoder", "windowing", "encoder", "bev_scatter", "backbone", "head", "decode",
            "total"} <= set(stages)
    for name in ("voxelization", "windowing", "encoder"):
        row = stages[name]
        assert row["ext_s"] > 0 and row["reference_s"] > 0 and row["speedup_q10"] <= row["speedup_q90"]
    ops = {row["op"]: row for row in report["ops"]}
    assert set(ops) >= {"region_batching", "gather_regions", "scatter_regions",
                        "scatter_reduce[mean] xyz (VFE cluster centres)", "scatter_reduce[max] (VFE layer, C=64)",
                        "scatter_reduce[max] forward+backward (VFE layer, C=128)"}
    assert all(row["ext_s"] > 0 and row["reference_s"] > 0 for row in ops.values())
    assert ops["scatter_reduce[max] (VFE layer, C=64)"]["points"] <= report["frame"]["points"]
    assert report["peak_memory"]["peak_mb"] >= 0 and report["frame"]["points"] == 3000


def test_camera_benchmark_times_the_three_variants_in_the_same_rounds(tmp_path):
    report = bench("camera", "--height", "64", "--width", "96", "--repeats", "2", "--warmup", "0",
                   tmp_path=tmp_path)
    variants = report["variants"]
    assert set(variants) == {"single_branch", "tridentnet", "tridentnet_fast"}
    for row in variants.values():
        assert 0 < row["min_s"] <= row["median_s"] and 0 < row["backbone_median_s"]
    assert variants["single_branch"]["over_single_branch"] == 1.0
    assert report["fast_over_single_branch"] == variants["tridentnet_fast"]["over_single_branch"]


# Runs a tool as on the GPU machine, where only PyTorch is installed: mmdet, mmcv, mmengine and spconv unimportable.
TORCH_ONLY = """
import runpy, sys
for name in ("mmdet", "mmcv", "mmengine", "spconv"):
    sys.modules[name] = None
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def test_lidar_benchmarks_run_where_only_pytorch_is_installed(tmp_path):
    """tools/gpu_check.sh runs both on the GPU machine: the stages needing mmdet are listed as skipped, PointToVoxel
    is left out, and everything else is timed."""
    small = ["--repeats", "1", "--warmup", "0"]
    for name, extra in (("lidar", ["--frame", "synthetic", "--points", "3000"]),
                        ("lidar_ops", ["--points", "2000", "--boxes", "2"])):
        out = tmp_path / f"{name}.json"
        proc = subprocess.run([sys.executable, "-c", TORCH_ONLY, "tools/benchmark.py", name, *extra, *small,
                               "--out", str(out)], cwd=REPO, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr[-3000:]
        report = json.loads(out.read_text())
        if name == "lidar":
            assert report["mmdet"] is False and "total" in report["skipped"]
            assert [row["stage"] for row in report["stages"]] == ["voxelization", "windowing", "encoder"]
            assert all(row["ext_s"] > 0 for row in report["ops"])
        else:
            assert report["spconv"]["installed"] is False
            assert all("spconv_s" not in row and row["ext_s"] > 0 for row in report["dynamic_voxelization"])


@pytest.mark.skipif(torch.cuda.is_available(), reason="on a GPU machine the script runs its full checks")
def test_gpu_check_script_refuses_a_machine_without_a_gpu(tmp_path):
    proc = subprocess.run(["bash", "tools/gpu_check.sh"], cwd=REPO, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "OUT": str(tmp_path / "gpu_check")})
    assert proc.returncode == 2 and "no CUDA GPU here" in proc.stderr
    assert not (tmp_path / "gpu_check" / "build.log").exists()      # nothing was built or run


def test_kitti_eval_fast_and_reference_agree(tmp_path):
    report = bench("kitti_eval", "--frames", "30", "--repeat", "1", tmp_path=tmp_path)
    assert report["set"]["frames"] == 30
    assert report["reference"]["frames"] == 30 and report["reference"]["max_abs_ap_diff"] < 1e-9
    assert report["files_vs_memory_max_abs_ap_diff"] == 0.0


def test_ros_node_benchmark_reports_throughput_overhead_and_bounded_queues(tmp_path):
    report = bench("ros", "--tiny", "--frames", "1", "--data-root", str(tmp_path / "sim"), "--sustained", "2",
                   "--warmup", "1", "--overload-seconds", "4", "--no-panoptic", tmp_path=tmp_path)
    sustained, overload = report["sustained"], report["overload"]
    assert sustained["frames"] == 2 and sustained["fps"] > 0
    assert 0 < sustained["node_overhead_share_median"] < 1 and "meets_target" in sustained
    assert overload["frames_offered"] >= overload["frames_processed"] > 0
    assert overload["frame_queue_max"] <= overload["frame_queue_size"] == 2       # the queue stayed bounded
    assert overload["frames_dropped_queue_full"] + overload["frames_processed"] <= overload["frames_offered"]
    assert overload["rss_mb_end"] > 0
