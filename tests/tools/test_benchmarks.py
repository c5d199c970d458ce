"""tools/benchmark.py runs each benchmark end to end on tiny inputs and reports what docs/results.md quotes.

No timing is asserted here (timings live in the benchmark reports): the tests check that each report holds its
comparisons, measured in one run, and that the compiled and reference results agreed where a benchmark checks.
"""
import json
import pathlib
import subprocess
import sys

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
