"""LiDAR sparse ops: the compiled extension vs its PyTorch reference, and dynamic voxelization vs spconv.

On a synthetic KITTI-size frame (``--points`` points, x 0..70 m denser near the
sensor, y within a +-40 m cone, z -3..1 m with a ground layer) every op of
:mod:`perception.ops` is timed with ``impl="ext"`` and ``impl="reference"`` on
``--device`` (median of ``--repeats`` after ``--warmup`` runs; CUDA runs are
synchronised), and the speed ratio reference / ext is reported.  Two voxel
grids: pillars (0.32 x 0.32 x 4 m) and SECOND-like (0.05 x 0.05 x 0.1 m).

The C++ dynamic voxelization (``voxel_coords`` + ``unique_voxels`` +
``scatter_reduce(mean)`` of the point features) is compared, in the same run,
with spconv's ``PointToVoxel`` (hash table into dense ``(V, max_points, C)``
voxels) when spconv imports; spconv is optional (absent on the GPU machine).

``memory_floors_s`` times the unavoidable memory traffic of two ops (one read
of the ``(P, C)`` point features for ``scatter_reduce``; allocating and
zero-filling the dense ``(V, C)`` output of ``scatter_regions``): a kernel
cannot beat them, which bounds the possible speed-up over a reference.

Peak memory: per op on CUDA (``torch.cuda.max_memory_allocated`` above the
allocation before the op); on CPU only the process's peak RSS is reported
(torch's CPU allocator keeps no statistics).  The load average is recorded
because other processes on a small machine distort CPU timings (OpenMP
threads stall when a core is busy elsewhere).
"""
from __future__ import annotations

import argparse
import math
import os
import platform
import resource
import statistics
import time
from typing import Callable

import spconv
import torch
from spconv.pytorch.utils import PointToVoxel

import perception.ops as ops
from perception.ops._extension import extension

PILLARS = dict(voxel_size=[0.32, 0.32, 4.0], point_range=[0.0, -40.0, -3.0, 70.4, 40.0, 1.0])
SECOND = dict(voxel_size=[0.05, 0.05, 0.1], point_range=[0.0, -40.0, -3.0, 70.4, 40.0, 1.0])
GRIDS = {"pillars": (PILLARS, 32), "second": (SECOND, 5)}  # spconv's max points per voxel for each
TARGET_SPEEDUP = 5.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--points", type=int, default=120_000, help="points in the frame (KITTI: ~120k)")
    parser.add_argument("--boxes", type=int, default=30, help="boxes for points_in_boxes")
    parser.add_argument("--channels", type=int, default=64, help="point feature channels for scatter_reduce")
    parser.add_argument("--region-channels", type=int, default=128, help="voxel channels for gather/scatter_regions")
    parser.add_argument("--window", type=int, default=12, help="window size (cells) for window_partition")
    parser.add_argument("--bucket-caps", default="30,60,100", help="region_batching caps")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--seed", type=int, default=0)


def synthetic_frame(n: int, seed: int = 0) -> torch.Tensor:
    """``(n, 4)`` float32 ``[x, y, z, intensity]``: a front-facing KITTI-like scan inside the benchmark range."""
    g = torch.Generator().manual_seed(seed)
    u = lambda: torch.rand(n, generator=g)  # noqa: E731
    x = 70.0 * u() ** 1.5                                  # denser near the sensor
    y = (2 * u() - 1) * 40.0 * (0.15 + 0.85 * x / 70.0)   # a widening cone
    ground = u() < 0.6
    z = torch.where(ground, -1.7 + 0.05 * torch.randn(n, generator=g), -1.7 + 2.6 * u()).clamp(-2.99, 0.99)
    return torch.stack([x.clamp(max=69.99), y, z, u()], dim=1)


def synthetic_boxes(n: int, seed: int = 0) -> torch.Tensor:
    """``(n, 7)`` car-sized boxes on the ground across the frame."""
    g = torch.Generator().manual_seed(seed + 1)
    u = lambda: torch.rand(n, generator=g)  # noqa: E731
    x = 5 + 60 * u()
    return torch.stack([x, (2 * u() - 1) * 0.8 * x * 40 / 70, torch.full((n,), -0.9), 3.5 + u(), 1.6 + 0.2 * u(),
                        1.5 + 0.2 * u(), (2 * u() - 1) * math.pi], dim=1)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure(fn: Callable[[], object], device: torch.device, warmup: int, repeats: int) -> dict:
    """Median seconds of ``fn`` (and the peak CUDA memory it allocated, MiB)."""
    for _ in range(warmup):
        fn()
    _sync(device)
    peak = None
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
    times = []
    for _ in range(repeats):
        _sync(device)
        start = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - start)
    if device.type == "cuda":
        peak = round((torch.cuda.max_memory_allocated(device) - base) / 2**20, 2)
    return {"median_s": statistics.median(times), "min_s": min(times), "peak_mb": peak}


def _compare(name: str, config: str, run_impl: Callable[[str], object], device, args, has_ext: bool) -> dict:
    row = {"op": name, "config": config}
    ref = measure(lambda: run_impl("reference"), device, args.warmup, args.repeats)
    row.update(reference_s=round(ref["median_s"], 6), reference_peak_mb=ref["peak_mb"])
    if has_ext:
        ext = measure(lambda: run_impl("ext"), device, args.warmup, args.repeats)
        row.update(ext_s=round(ext["median_s"], 6), ext_peak_mb=ext["peak_mb"],
                   speedup=round(ref["median_s"] / ext["median_s"], 2))
        row["meets_5x"] = row["speedup"] >= TARGET_SPEEDUP
    return row


def run(args: argparse.Namespace) -> dict:
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("lidar_ops: --device cuda but torch sees no CUDA GPU")
    if args.threads:
        torch.set_num_threads(args.threads)
    module = extension()
    has_ext = module is not None and (device.type == "cpu" or module.with_cuda())
    load_before = os.getloadavg()

    points = synthetic_frame(args.points, args.seed).to(device)
    boxes = synthetic_boxes(args.boxes, args.seed).to(device)
    g = torch.Generator().manual_seed(args.seed)
    rows = []

    rows.append(_compare("points_in_boxes", f"P={args.points} N={args.boxes}",
                         lambda impl: ops.points_in_boxes(points, boxes, impl=impl), device, args, has_ext))
    rows.append(_compare("points_in_boxes_index", f"P={args.points} N={args.boxes}",
                         lambda impl: ops.points_in_boxes_index(points, boxes, impl=impl), device, args, has_ext))

    grids = {}
    for grid_name, (grid, _) in GRIDS.items():
        coords = ops.voxel_coords(points, impl="reference", **grid)
        coords4 = torch.cat([coords.new_zeros(coords.shape[0], 1), coords], dim=1)
        voxels, p2v, _ = ops.unique_voxels(coords4, impl="reference")
        grids[grid_name] = (voxels, p2v)
        config = f"{grid_name} grid {ops.grid_shape(**grid)}, V={voxels.shape[0]}"
        rows.append(_compare("voxel_coords", config,
                             lambda impl, grid=grid: ops.voxel_coords(points, impl=impl, **grid), device, args, has_ext))
        rows.append(_compare("unique_voxels", config,
                             lambda impl, c=coords4: ops.unique_voxels(c, impl=impl), device, args, has_ext))

    voxels, p2v = grids["pillars"]
    num_voxels = voxels.shape[0]
    feats = torch.randn(args.points, args.channels, generator=g).to(device)
    for reduce in ops.REDUCTIONS:
        config = f"pillars P={args.points} C={args.channels} V={num_voxels}"
        rows.append(_compare(f"scatter_reduce[{reduce}] forward", config,
                             lambda impl, r=reduce: ops.scatter_reduce(feats, p2v, num_voxels, r, impl=impl),
                             device, args, has_ext))
        leaf = feats.clone().requires_grad_(True)

        def fwd_bwd(impl, r=reduce, leaf=leaf):
            leaf.grad = None
            ops.scatter_reduce(leaf, p2v, num_voxels, r, impl=impl).sum().backward()

        rows.append(_compare(f"scatter_reduce[{reduce}] forward+backward", config, fwd_bwd, device, args, has_ext))

    nz, ny, nx = ops.grid_shape(**PILLARS)
    window = (args.window, args.window)
    caps = [int(c) for c in args.bucket_caps.split(",")]
    for shifted in (False, True):
        config = f"pillars V={num_voxels} sparse_shape={(ny, nx)} window={window} shifted={shifted}"
        rows.append(_compare("window_partition", config,
                             lambda impl, s=shifted: ops.window_partition(voxels, sparse_shape=(ny, nx),
                                                                          window_shape=window, shifted=s, impl=impl),
                             device, args, has_ext))
    partition = ops.window_partition(voxels, sparse_shape=(ny, nx), window_shape=window, impl="reference")
    rows.append(_compare("region_batching", f"W={partition.num_windows} caps={caps}",
                         lambda impl: ops.region_batching(partition, bucket_caps=caps, impl=impl),
                         device, args, has_ext))
    batches = ops.region_batching(partition, bucket_caps=caps, impl="reference")
    voxel_feats = torch.randn(num_voxels, args.region_channels, generator=g).to(device)
    regions = [torch.randn(*b.index.shape, args.region_channels, generator=g).to(device) for b in batches.buckets]
    config = (f"V={num_voxels} C={args.region_channels} buckets="
              f"{[tuple(b.index.shape) for b in batches.buckets]}")
    rows.append(_compare("gather_regions", config,
                         lambda impl: [ops.gather_regions(voxel_feats, b.index, impl=impl) for b in batches.buckets],
                         device, args, has_ext))
    indices = [b.index for b in batches.buckets]
    rows.append(_compare("scatter_regions", config,   # every bucket into one (V, C), as the SST encoder calls it
                         lambda impl: ops.scatter_regions(regions, indices, num_voxels, impl=impl),
                         device, args, has_ext))

    # Memory floors: what the slowest unavoidable pass of an op costs here (to read speed ratios against).
    floors = {
        "read_point_feats_once": measure(lambda: feats.sum(), device, args.warmup, args.repeats)["median_s"],
        "zero_fill_scatter_regions_output": measure(
            lambda: torch.zeros(num_voxels, args.region_channels, device=device),
            device, args.warmup, args.repeats)["median_s"],
    }

    # Dynamic voxelization, end to end, vs spconv's PointToVoxel on the same frame.
    dynvox = []
    for grid_name, (grid, max_points) in GRIDS.items():
        def ours(impl, grid=grid):
            result = ops.dynamic_voxelize(points, voxel_size=grid["voxel_size"], point_range=grid["point_range"],
                                          impl=impl)
            return ops.scatter_reduce(points, result.point_to_voxel, result.num_voxels, "mean", impl=impl)

        row = _compare("dynamic_voxelization (coords + unique + scatter mean)", grid_name, ours, device, args,
                       has_ext)
        generator = PointToVoxel(vsize_xyz=grid["voxel_size"], coors_range_xyz=grid["point_range"],
                                 num_point_features=points.shape[1], max_num_voxels=args.points,
                                 max_num_points_per_voxel=max_points, device=device)
        theirs = measure(lambda gen=generator: gen(points), device, args.warmup, args.repeats)
        row.update(spconv_s=round(theirs["median_s"], 6), spconv_peak_mb=theirs["peak_mb"],
                   spconv_max_points_per_voxel=max_points)
        if "ext_s" in row:
            row["spconv_over_ext"] = round(theirs["median_s"] / row["ext_s"], 2)
            row["ext_at_least_as_fast_as_spconv"] = row["ext_s"] <= theirs["median_s"]
        dynvox.append(row)

    device_name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu"
    report = {
        "benchmark": "lidar_ops",
        "device": str(device),
        "device_name": device_name,
        "cpu_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
        "extension": {"built": module is not None, "with_cuda": bool(module and module.with_cuda()),
                      "used": has_ext},
        "frame": {"points": args.points, "boxes": args.boxes, "seed": args.seed},
        "repeats": args.repeats, "warmup": args.warmup,
        "load_average_before": [round(v, 2) for v in load_before],
        "load_average_after": [round(v, 2) for v in os.getloadavg()],
        "ops": rows,
        "dynamic_voxelization": dynvox,
        "memory_floors_s": {k: round(v, 6) for k, v in floors.items()},
        "spconv": {"version": getattr(spconv, "__version__", "unknown")},
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "targets": {"speedup_vs_reference": TARGET_SPEEDUP,
                    "dynamic_voxelization": "ext at least as fast as spconv PointToVoxel"},
    }
    if not has_ext:
        report["note"] = "perception._ops_ext is not usable on this device: only the references were timed"
    return report
