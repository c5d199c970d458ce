"""SST LiDAR detector, stage by stage, on a full KITTI-size frame: latency, ops vs reference, peak memory.

The model is ``configs/sst/sst_kitti.py`` (random weights: timings do not depend on them) on one frame: by
default the first simulated scan ``data/sim/training/velodyne/000000.bin`` (a 64-beam 360-degree scan, ~120k
points; the points outside the KITTI range are dropped by the voxelization, as in the real pipeline), else (or
with ``--frame synthetic``) a synthetic KITTI-like frame (:func:`perception.benchmarks.lidar_ops.synthetic_frame`,
``--points``; its points spread over the whole range, so it has several times the simulated scan's voxels).

Stages (median seconds of ``--repeats`` runs after ``--warmup``, CUDA synchronised; batch of one frame; an
ext / reference pair is timed round-robin, see :mod:`perception.benchmarks.timing`):

* ``voxelization``   :func:`perception.ops.dynamic_voxelize` on the config's pillar grid;
* ``voxel_encoder``  DynamicVFE: voxelization + PointNet + per-voxel max pooling;
* ``windowing``      SST's input layer: regular and shifted window partitions, region batching into the
  test-time buckets, positional encodings;
* ``encoder``        the sparse regional attention blocks;
* ``bev_scatter``, ``backbone`` (the attached 3x3 convs), ``head`` (CenterHead convs), ``decode``
  (top-k + rotated NMS), and ``total``: the whole ``LidarDetector`` forward in predict mode.

``voxelization``, ``windowing`` and ``encoder`` run twice: with the compiled ops (``ext``) and with their
PyTorch references; ``speedup`` is reference / ext, measured in the same run.  The individual ops on this
frame are compared likewise: ``scatter_reduce`` on its in-range points as the DynamicVFE calls it, and the SST
ops on its voxels (window partition, region batching, gather / scatter of regions).

Peak memory of the whole forward: on CUDA ``torch.cuda.max_memory_allocated`` (above what was allocated
before the forward); on CPU the increase of the process's peak resident set (Linux ``VmHWM``, reset through
``/proc/self/clear_refs`` just before the forward).  Target: < 4 GB.

Without mmdet (a GPU machine with only PyTorch) the stages that need it are listed under ``skipped`` with the
reason; the SST encoder is then built from :data:`SST_KITTI_ENCODER` (the test suite checks these values
against ``configs/sst/sst_kitti.py``) and fed the frame's real voxels with random features of the VFE's width.
The SST encoder (:mod:`perception.layers.sst`) imports only torch and the ops (tested in a process where the mm
packages cannot be imported).
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import pathlib
import platform
import resource
from typing import Callable

import numpy as np
import torch

import perception.ops as ops
from perception.benchmarks.lidar_ops import synthetic_frame
from perception.benchmarks.timing import compare_impls, measure, prepare_device
from perception.ops._extension import extension

REPO = pathlib.Path(__file__).resolve().parents[2]
DEFAULT_CONFIG = "configs/sst/sst_kitti.py"
DEFAULT_FRAME = "data/sim/training/velodyne/000000.bin"
MEMORY_TARGET_MB = 4096.0
#: The voxel grid and ``middle_encoder`` of configs/sst/sst_kitti.py, for machines without mmengine to read it.
SST_KITTI_GRID = dict(point_range=[0.0, -40.0, -3.0, 70.4, 40.0, 1.0], voxel_size=[0.32, 0.32, 4.0])
SST_KITTI_ENCODER = dict(in_channels=128, d_model=128, nhead=8, num_blocks=6, dim_feedforward=256,
                         window_shape=[12, 12], train_bucket_caps=[30, 60, 100], test_bucket_caps=[30, 60, 100, 144],
                         dropout=0.0, activation="gelu")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--config", default=DEFAULT_CONFIG, help="SST config (needs mmdet/mmengine to read)")
    parser.add_argument("--frame", default=None,
                        help=f"KITTI-format .bin scan (float32 x, y, z, intensity) or 'synthetic'; default "
                             f"{DEFAULT_FRAME} when present, else a synthetic frame")
    parser.add_argument("--points", type=int, default=120_000, help="points of the synthetic frame")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--seed", type=int, default=0)


def _mmdet_available() -> bool:
    return all(importlib.util.find_spec(name) is not None for name in ("mmdet", "mmcv", "mmengine"))


def load_frame(args: argparse.Namespace) -> tuple[torch.Tensor, str]:
    """``(P, 4)`` float32 points and where they came from."""
    path = args.frame or (str(REPO / DEFAULT_FRAME) if (REPO / DEFAULT_FRAME).is_file() else "synthetic")
    if path == "synthetic":
        return synthetic_frame(args.points, args.seed), f"synthetic ({args.points} points, seed {args.seed})"
    raw = np.fromfile(path, dtype=np.float32)
    if raw.size == 0 or raw.size % 4:
        raise ValueError(f"lidar benchmark: {path} must hold float32 records [x, y, z, intensity]; "
                         f"got {raw.size} values")
    return torch.from_numpy(raw.reshape(-1, 4).copy()), path


def _peak_rss_reset() -> bool:
    """Reset Linux's peak RSS (VmHWM) of this process; False where the kernel does not allow it."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return False
    return True


def _status_mb(field: str) -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise KeyError(f"/proc/self/status has no {field}")


def peak_memory(fn: Callable[[], object], device: torch.device) -> dict:
    """Peak memory (MiB) of one call of ``fn`` above what was in use before it."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)
        fn()
        torch.cuda.synchronize(device)
        peak = torch.cuda.max_memory_allocated(device)
        return {"method": "torch.cuda.max_memory_allocated", "peak_mb": round((peak - before) / 2**20, 1),
                "peak_total_allocated_mb": round(peak / 2**20, 1)}
    if _peak_rss_reset():
        before = _status_mb("VmRSS")
        fn()
        return {"method": "VmHWM - VmRSS before (peak RSS reset via /proc/self/clear_refs)",
                "peak_mb": round(_status_mb("VmHWM") - before, 1)}
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    fn()
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"method": "ru_maxrss increase (a lower bound: peak RSS could not be reset)",
            "peak_mb": round(after - before, 1)}


class _Stages:
    """Collects stage rows: ``time(name, fn)`` and ``compare(name, run_impl)`` (ext vs reference)."""

    def __init__(self, device: torch.device, args: argparse.Namespace, has_ext: bool):
        self.device, self.args, self.has_ext, self.rows = device, args, has_ext, []

    def _measure(self, fn: Callable[[], object]) -> float:
        return round(measure(fn, self.device, self.args.warmup, self.args.repeats)["median_s"], 6)

    def time(self, name: str, fn: Callable[[], object], **info) -> None:
        self.rows.append({"stage": name, "median_s": self._measure(fn), **info})

    def compare(self, name: str, run_impl: Callable[[str], object], **info) -> None:
        """``run_impl("reference")`` and ``run_impl("ext")`` timed round-robin (the same rounds)."""
        row = {"stage": name, **compare_impls(run_impl, self.device, self.args.warmup, self.args.repeats,
                                              self.has_ext), **info}
        row["median_s"] = row.get("ext_s", row["reference_s"])
        self.rows.append(row)


def _build_with_mmdet(config: str, device: torch.device):
    """The config's LidarDetector (random init, eval mode) and its SST encoder."""
    from mmengine.config import Config  # noqa: PLC0415 - only where mmengine is installed
    from mmengine.registry import init_default_scope  # noqa: PLC0415

    from perception.registry import MODELS  # noqa: PLC0415

    cfg = Config.fromfile(config)
    init_default_scope(cfg.default_scope)
    model = MODELS.build(cfg.model)
    model.init_weights()
    return model.to(device).eval()


def _build_torch_only(device: torch.device):
    from perception.layers.sst import SSTEncoder  # noqa: PLC0415  (torch and perception.ops only)

    voxels = ops.grid_shape(**SST_KITTI_GRID)
    torch.manual_seed(0)
    encoder = SSTEncoder(sparse_shape=voxels[1:], **SST_KITTI_ENCODER)
    return encoder.to(device).eval()


def run(args: argparse.Namespace) -> dict:
    device = prepare_device(args, "lidar")
    module = extension()
    has_ext = module is not None and (device.type == "cpu" or module.with_cuda())
    with_mmdet = _mmdet_available()
    load_before = os.getloadavg()

    points, source = load_frame(args)
    points = points.to(device)
    batch_index = torch.zeros(points.shape[0], dtype=torch.long, device=device)
    stages = _Stages(device, args, has_ext)
    skipped: dict[str, str] = {}
    model = None
    if with_mmdet:
        model = _build_with_mmdet(str(REPO / args.config) if not os.path.isabs(args.config) else args.config, device)
        encoder = model.middle_encoder.encoder
        grid = dict(point_range=list(model.voxel_encoder.grid.point_range),
                    voxel_size=list(model.voxel_encoder.grid.voxel_size))
        config = args.config
    else:
        encoder = _build_torch_only(device)
        grid = SST_KITTI_GRID
        config = "SST_KITTI_ENCODER (configs/sst/sst_kitti.py values; mmengine absent)"
        reason = "needs mmdet/mmcv/mmengine (not installed): {}"
        skipped = {"voxel_encoder": reason.format("DynamicVFE registers in perception.registry"),
                   "bev_scatter": reason.format("bev_scatter.py imports perception.registry"),
                   "backbone": reason.format("BEVBackbone registers in perception.registry"),
                   "head": reason.format("CenterHead uses mmdet's Gaussian targets and losses"),
                   "decode": reason.format("CenterHead"), "total": reason.format("LidarDetector is an mmengine model")}

    with torch.inference_mode():
        # --- peak memory first, while the process's peak RSS is not yet raised by the timing loops
        if model is not None:
            memory = peak_memory(lambda: model({"points": [points]}, mode="predict"), device)
            memory["scope"] = "whole LidarDetector forward (predict mode)"
        else:
            vox0 = ops.dynamic_voxelize(points, batch_index, **grid)
            feats0 = torch.randn(vox0.num_voxels, encoder.in_channels, device=device)
            memory = peak_memory(lambda: encoder(feats0, vox0.voxels), device)
            memory["scope"] = "voxelization excluded: SST encoder (windowing + blocks) only"
        memory["target_mb"] = MEMORY_TARGET_MB
        memory["meets_target"] = memory["peak_mb"] < MEMORY_TARGET_MB

        # --- stages
        stages.compare("voxelization", lambda impl: ops.dynamic_voxelize(points, batch_index, impl=impl, **grid))
        vox = ops.dynamic_voxelize(points, batch_index, **grid)
        if model is not None:
            stages.time("voxel_encoder", lambda: model.voxel_encoder([points]))
            voxel_feats = model.voxel_encoder([points])
            features, voxels = voxel_feats.features, voxel_feats.voxels
        else:
            features = torch.randn(vox.num_voxels, encoder.in_channels, device=device)
            voxels = vox.voxels

        def windowing(impl: str):
            encoder.set_ops_impl(impl)
            return encoder.tokens(features, voxels)

        def encode(impl: str, tokens):
            encoder.set_ops_impl(impl)
            return encoder.encode(tokens)

        tokens = windowing("auto")
        buckets = [[tuple(b.index.shape) for b in layout.batches.buckets] for layout in tokens.layouts]
        stages.compare("windowing", windowing, windows=[layout.partition.num_windows for layout in tokens.layouts],
                       buckets_regular_shifted=buckets, dropped_voxels=tokens.num_dropped)
        stages.compare("encoder", lambda impl: encode(impl, tokens), blocks=len(encoder.blocks),
                       d_model=encoder.d_model)
        encoder.set_ops_impl("auto")
        op_rows = _point_op_rows(stages, points, vox, (64, encoder.d_model), device)
        op_rows += _op_rows(stages, voxels, tokens, encoder.d_model, device)

        if model is not None:
            from perception.models.middle_encoders.bev_scatter import scatter_to_bev  # noqa: PLC0415
            from perception.models.voxel_encoders.dynamic_vfe import VoxelFeatures  # noqa: PLC0415

            encoded = encoder.encode(tokens)
            kept = VoxelFeatures(features=encoded.features, voxels=encoded.voxels, batch_size=1)
            stages.time("bev_scatter", lambda: scatter_to_bev(kept, model.middle_encoder.grid))
            bev = scatter_to_bev(kept, model.middle_encoder.grid)

            def backbone():
                out = model.backbone(bev) if model.backbone is not None else bev
                out = model.neck(out) if model.neck is not None else out
                return out[0] if isinstance(out, (list, tuple)) else out

            stages.time("backbone", backbone)
            neck_in = backbone()
            stages.time("head", lambda: model.bbox_head(neck_in), bev_shape=list(neck_in.shape))
            heat, reg = model.bbox_head(neck_in)
            stages.time("decode", lambda: model.bbox_head.decode(heat, reg))
            stages.time("total", lambda: model({"points": [points]}, mode="predict"))

    device_name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu"
    in_range = int((vox.point_to_voxel >= 0).sum())
    return {
        "benchmark": "lidar",
        "device": str(device), "device_name": device_name, "cpu_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(), "torch": torch.__version__,
        "extension": {"built": module is not None, "with_cuda": bool(module and module.with_cuda()),
                      "used": has_ext},
        "mmdet": with_mmdet, "config": config,
        "frame": {"source": source, "points": int(points.shape[0]), "points_in_range": in_range,
                  "voxels": vox.num_voxels, "grid_zyx": list(ops.grid_shape(**grid))},
        "repeats": args.repeats, "warmup": args.warmup,
        "load_average_before": [round(v, 2) for v in load_before],
        "load_average_after": [round(v, 2) for v in os.getloadavg()],
        "stages": stages.rows, "ops": op_rows, "skipped": skipped, "peak_memory": memory,
    }


def _point_op_rows(stages: _Stages, points: torch.Tensor, vox: ops.VoxelizationResult, vfe_channels: tuple[int, int],
                   device: torch.device) -> list[dict]:
    """``scatter_reduce`` on this frame's in-range points, as the DynamicVFE calls it (mean of the xyz; max of the
    point features of each layer, forward and forward + backward), plus sum / mean of 64-channel features,
    which the model does not use but ``tools/benchmark.py lidar_ops`` times on a random-order frame.  ``vox``:
    the frame's voxelization."""
    in_range = vox.point_to_voxel >= 0
    p2v, xyz = vox.point_to_voxel[in_range], points[in_range, :3].contiguous()
    g = torch.Generator().manual_seed(0)
    feats = {c: torch.randn(p2v.shape[0], c, generator=g).to(device) for c in sorted(set(vfe_channels) | {64})}
    ops_stages = _Stages(device, stages.args, stages.has_ext)
    info = dict(points=int(p2v.shape[0]), voxels=vox.num_voxels)
    ops_stages.compare("scatter_reduce[mean] xyz (VFE cluster centres)",
                       lambda impl: ops.scatter_reduce(xyz, p2v, vox.num_voxels, "mean", impl=impl), channels=3,
                       **info)
    for c in vfe_channels:
        ops_stages.compare(f"scatter_reduce[max] (VFE layer, C={c})",
                           lambda impl, c=c: ops.scatter_reduce(feats[c], p2v, vox.num_voxels, "max", impl=impl),
                           channels=c, **info)
        with torch.inference_mode(False):  # the forward runs in inference mode; autograd needs normal tensors
            leaf, index = feats[c].clone().requires_grad_(True), p2v.clone()

        def fwd_bwd(impl: str, leaf=leaf, index=index):
            with torch.inference_mode(False), torch.enable_grad():
                leaf.grad = None
                ops.scatter_reduce(leaf, index, vox.num_voxels, "max", impl=impl).sum().backward()

        ops_stages.compare(f"scatter_reduce[max] forward+backward (VFE layer, C={c})", fwd_bwd, channels=c, **info)
    for reduce in ("sum", "mean"):
        ops_stages.compare(f"scatter_reduce[{reduce}] (not used by SST), C=64",
                           lambda impl, r=reduce: ops.scatter_reduce(feats[64], p2v, vox.num_voxels, r, impl=impl),
                           channels=64, **info)
    return _as_op_rows(ops_stages)


def _op_rows(stages: _Stages, voxels: torch.Tensor, tokens, channels: int, device: torch.device) -> list[dict]:
    """The SST ops on this frame's voxels: ext vs reference (rows added to a private ``_Stages``)."""
    layer = tokens.layouts[0]
    sparse_shape, window_shape = layer.partition.sparse_shape, layer.partition.window_shape
    caps = [b.cap for b in layer.batches.buckets]
    ops_stages = _Stages(device, stages.args, stages.has_ext)
    for shifted in (False, True):
        ops_stages.compare(f"window_partition[shifted={shifted}]",
                           lambda impl, s=shifted: ops.window_partition(voxels, sparse_shape=sparse_shape,
                                                                        window_shape=window_shape, shifted=s,
                                                                        impl=impl), voxels=int(voxels.shape[0]))
    ops_stages.compare("region_batching", lambda impl: ops.region_batching(layer.partition, bucket_caps=caps,
                                                                           impl=impl), caps=caps)
    x = torch.randn(tokens.num_tokens, channels, device=device)
    regions = [ops.gather_regions(x, b.index) for b in layer.batches.buckets]
    ops_stages.compare("gather_regions", lambda impl: [ops.gather_regions(x, b.index, impl=impl)
                                                       for b in layer.batches.buckets], channels=channels)
    indices = [b.index for b in layer.batches.buckets]
    ops_stages.compare("scatter_regions", lambda impl: ops.scatter_regions(regions, indices, tokens.num_tokens,
                                                                           impl=impl), channels=channels)
    return _as_op_rows(ops_stages)


def _as_op_rows(ops_stages: _Stages) -> list[dict]:
    """The rows of a private ``_Stages`` as op rows: ``op`` for ``stage``, no ``median_s``."""
    for row in ops_stages.rows:
        row["op"] = row.pop("stage")
        row.pop("median_s")
    return ops_stages.rows
