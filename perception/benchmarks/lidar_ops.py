"""LiDAR sparse ops: the compiled extension vs its PyTorch reference, and dynamic voxelization vs spconv.

On a synthetic KITTI-size frame (``--points`` points, x 0..70 m denser near the
sensor, y within a +-40 m cone, z -3..1 m with a ground layer) every op of
:mod:`perception.ops` is timed with ``impl="ext"`` and ``impl="reference"`` on
``--device``: both are called once per round, ``--repeats`` rounds after
``--warmup`` (:func:`perception.benchmarks.timing.round_robin`; CUDA runs are
synchronised).  ``speedup`` is median(reference) / median(ext), and
``speedup_q10`` / ``speedup_q90`` the spread of the per-round ratios.  Two voxel
grids: pillars (0.32 x 0.32 x 4 m) and SECOND-like (0.05 x 0.05 x 0.1 m).

The C++ dynamic voxelization (``voxel_coords`` + ``unique_voxels`` +
``scatter_reduce(mean)`` of the point features) is compared, in the same run,
with spconv's ``PointToVoxel`` (in the same rounds; hash table into dense ``(V, max_points, C)``
voxels) when spconv imports; spconv is optional (absent on the GPU machine).

``memory_floors_s`` times the unavoidable memory traffic of three ops, with
torch's own kernels: for ``scatter_reduce``, one sequential read of the
``(P, C)`` point features and one gather of them in voxel order (a kernel
that groups points by voxel reads them so); for ``gather_regions``, writing
its output's bytes once; for ``scatter_regions``, allocating and zero-filling
its dense ``(V, C)`` output.  An op near its floor cannot get much faster, which
bounds its speed-up over a reference.

Peak memory: per op on CUDA (``torch.cuda.max_memory_allocated`` above the
allocation before the op); on CPU only the process's peak RSS is reported
(torch's CPU allocator keeps no statistics).  The load average is recorded
because other processes on a small machine distort CPU timings (OpenMP
threads stall when a core is busy elsewhere).
"""
from __future__ import annotations

import argparse
import importlib.util
import math
import os
import platform
import resource
from typing import Callable

import torch

import perception.ops as ops
from perception.benchmarks.timing import compare_impls, prepare_device, round_robin, speed_ratio
from perception.ops._extension import extension

PILLARS = dict(voxel_size=[0.32, 0.32, 4.0], point_range=[0.0, -40.0, -3.0, 70.4, 40.0, 1.0])
SECOND = dict(voxel_size=[0.05, 0.05, 0.1], point_range=[0.0, -40.0, -3.0, 70.4, 40.0, 1.0])
GRIDS = {"pillars": (PILLARS, 32), "second": (SECOND, 5)}  # spconv's max points per voxel for each
TARGET_SPEEDUP = 5.0
HAS_SPCONV = importlib.util.find_spec("spconv") is not None  # optional: the GPU machine may lack it


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--points", type=int, default=120_000, help="points in the frame (KITTI: ~120k)")
    parser.add_argument("--boxes", type=int, default=30, help="boxes for points_in_boxes")
    parser.add_argument("--channels", type=int, default=64, help="point feature channels for scatter_reduce")
    parser.add_argument("--region-channels", type=int, default=128, help="voxel channels for gather/scatter_regions")
    parser.add_argument("--window", type=int, default=12, help="window size (cells) for window_partition")
    parser.add_argument("--bucket-caps", default="30,60,100", help="region_batching caps")
    parser.add_argument("--repeats", type=int, default=30)
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


def _spconv_info() -> dict:
    if not HAS_SPCONV:
        return {"installed": False, "note": "spconv is not installed: PointToVoxel was not timed"}
    import spconv  # noqa: PLC0415  (optional dependency)

    return {"installed": True, "version": getattr(spconv, "__version__", "unknown")}


def _compare(name: str, config: str, run_impl: Callable[[str], object], device, args, has_ext: bool) -> dict:
    """One op, ext vs reference, timed round-robin (see :mod:`perception.benchmarks.timing`)."""
    row = {"op": name, "config": config, **compare_impls(run_impl, device, args.warmup, args.repeats, has_ext)}
    if has_ext:
        row["meets_5x"] = row["speedup"] >= TARGET_SPEEDUP
    return row


def run(args: argparse.Namespace) -> dict:
    device = prepare_device(args, "lidar_ops")
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

    # Memory floors: what the unavoidable memory traffic of an op costs here (to read speed ratios against).
    in_voxel_order = torch.argsort(p2v, stable=True)  # the point rows as scatter_reduce must read them
    same_bytes_as_gathered = torch.randn(sum(b.index.numel() for b in batches.buckets), args.region_channels,
                                         generator=g).to(device)
    floors = round_robin({
        "read_point_feats_once": lambda: feats.sum(),
        "gather_point_rows_in_voxel_order": lambda: feats.index_select(0, in_voxel_order),
        "copy_gather_regions_output_bytes": lambda: same_bytes_as_gathered.clone(),
        "zero_fill_scatter_regions_output": lambda: torch.zeros(num_voxels, args.region_channels, device=device),
    }, device, args.warmup, args.repeats)
    floors = {name: timed["median_s"] for name, timed in floors.items()}

    # Dynamic voxelization, end to end, vs spconv's PointToVoxel on the same frame.
    dynvox = []
    for grid_name, (grid, max_points) in GRIDS.items():
        def ours(impl, grid=grid):
            result = ops.dynamic_voxelize(points, voxel_size=grid["voxel_size"], point_range=grid["point_range"],
                                          impl=impl)
            return ops.scatter_reduce(points, result.point_to_voxel, result.num_voxels, "mean", impl=impl)

        fns = {"reference": lambda f=ours: f("reference")}
        if has_ext:
            fns["ext"] = lambda f=ours: f("ext")
        if HAS_SPCONV:
            from spconv.pytorch.utils import PointToVoxel  # noqa: PLC0415  (optional dependency)

            generator = PointToVoxel(vsize_xyz=grid["voxel_size"], coors_range_xyz=grid["point_range"],
                                     num_point_features=points.shape[1], max_num_voxels=args.points,
                                     max_num_points_per_voxel=max_points, device=device)
            fns["spconv"] = lambda gen=generator: gen(points)
        timed = round_robin(fns, device, args.warmup, args.repeats)  # all of them in the same rounds
        row = {"op": "dynamic_voxelization (coords + unique + scatter mean)", "config": grid_name,
               "reference_s": round(timed["reference"]["median_s"], 6),
               "reference_peak_mb": timed["reference"]["peak_mb"]}
        if has_ext:
            row.update(ext_s=round(timed["ext"]["median_s"], 6), ext_peak_mb=timed["ext"]["peak_mb"],
                       **speed_ratio(timed["reference"], timed["ext"]))
            row["meets_5x"] = row["speedup"] >= TARGET_SPEEDUP
        if HAS_SPCONV:
            row.update(spconv_s=round(timed["spconv"]["median_s"], 6), spconv_peak_mb=timed["spconv"]["peak_mb"],
                       spconv_max_points_per_voxel=max_points)
        if has_ext and HAS_SPCONV:
            over = speed_ratio(timed["spconv"], timed["ext"])
            row.update(spconv_over_ext=over["speedup"], spconv_over_ext_q10=over["speedup_q10"],
                       spconv_over_ext_q90=over["speedup_q90"])
            row["ext_at_least_as_fast_as_spconv"] = row["ext_s"] <= row["spconv_s"]
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
        "spconv": _spconv_info(),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "targets": {"speedup_vs_reference": TARGET_SPEEDUP,
                    "dynamic_voxelization": "ext at least as fast as spconv PointToVoxel"},
    }
    if not has_ext:
        report["note"] = "perception._ops_ext is not usable on this device: only the references were timed"
    return report
