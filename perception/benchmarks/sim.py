"""Simulator speed: where the time of one frame goes.

Generates ``--frames`` frames (default config, or ``--tiny``) one after the
other in this process and times each stage of a frame:

* ``scene``: sampling the layout, stuff and things and building the meshes,
* ``lidar``: the 64-beam sweep (ray casting; the first cast also builds the BVH),
* ``camera``: the per-pixel render (ray casting, textures, shading, shadow rays),
* ``labels``: KITTI labels (amodal silhouettes per object), panoptic segments, point labels,
* ``write``: encoding and atomically writing the frame's files (to a temporary directory),

reported as mean seconds and as shares of the frame time.  The first frame is
a warm-up and not counted.  The baseline is a fixed NumPy workload timed
before every frame of the same run (``baseline_seconds``, median), so
``frame_over_baseline`` (median frame time / median baseline) can be compared
between machines and stays meaningful on a busy one.  Ray casting uses ``--threads`` threads (default 1, i.e.
what one worker of ``make_sim.py --workers N`` gets).
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import numpy as np

__all__ = ["add_arguments", "run", "numpy_baseline"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--frames", type=int, default=6, help="frames to time after one warm-up frame (default 6)")
    parser.add_argument("--tiny", action="store_true", help="use SimConfig.tiny() instead of the default config")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="ray-casting threads (0: all cores; default 1)")


def numpy_baseline(repeats: int = 1) -> float:
    """Seconds of a fixed NumPy workload (sorting 2M floats, 20 small matmuls); best of ``repeats``."""
    rng = np.random.default_rng(0)
    a = rng.random(2_000_000, dtype=np.float32)
    m = rng.random((256, 256))
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        np.sort(a)
        x = m
        for _ in range(20):
            x = (x @ m) / 256.0
        best = min(best, time.perf_counter() - t)
    return best


def run(args: argparse.Namespace) -> dict:
    from perception.datasets.sim import SimConfig
    from perception.datasets.sim.generator import STAGES, simulate_frame, write_frame

    config = (SimConfig.tiny() if args.tiny else SimConfig()).replace(seed=args.seed)
    baselines = []
    per_stage: dict[str, list[float]] = {s: [] for s in STAGES}
    totals, points, labels = [], [], []
    with tempfile.TemporaryDirectory(prefix="sim_bench_") as tmp:
        for i in range(args.frames + 1):
            base = numpy_baseline()
            t0 = time.perf_counter()
            frame = simulate_frame(i, config, nthreads=args.threads)
            write_frame(tmp, frame, config)
            total = time.perf_counter() - t0
            if i == 0:
                continue  # warm-up: imports, caches
            totals.append(total)
            baselines.append(base)
            for s in STAGES:
                per_stage[s].append(frame.timings[s])
            points.append(len(frame.scan.points))
            labels.append(sum(o.type != "DontCare" for o in frame.labels.objects))
    mean_total = statistics.fmean(totals)
    baseline = statistics.median(baselines)
    stage_mean = {s: statistics.fmean(v) for s, v in per_stage.items()}
    return {
        "benchmark": "sim",
        "config": "tiny" if args.tiny else "default",
        "image": [config.image_width, config.image_height],
        "beams": config.num_beams,
        "frames_timed": args.frames,
        "raycast_threads": args.threads,
        "seconds_per_frame": round(mean_total, 4),
        "seconds_per_frame_median": round(statistics.median(totals), 4),
        "stage_seconds": {s: round(v, 4) for s, v in stage_mean.items()},
        "stage_share": {s: round(v / mean_total, 3) for s, v in stage_mean.items()},
        "baseline_seconds": round(baseline, 4),
        "frame_over_baseline": round(statistics.median(totals) / baseline, 2),
        "estimated_minutes_for_500_frames_on_2_workers": round(500 * mean_total / 2 / 60, 2),
        "lidar_points_mean": round(statistics.fmean(points)),
        "labels_per_frame": round(statistics.fmean(labels), 2),
    }
