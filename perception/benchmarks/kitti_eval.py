"""KITTI object evaluation speed: the vectorised evaluator against the per-frame reference port.

Simulates a KITTI-val-sized set (3,769 frames by default) of ground truth and
detections of realistic density (about 5-10 labelled objects and 20-50
detections per frame, DontCare regions, truncated / occluded / small objects,
neighbouring classes, class confusions and duplicates), then times

* ``fast``: :func:`perception.evaluation.kitti.evaluate_kitti` on all of it --
  2D, BEV, 3D and AOS, easy/moderate/hard, R11 and R40, Car/Pedestrian/Cyclist,
  strict and loose overlaps -- from in-memory data and, separately, the reading
  of the same set from KITTI files;
* ``reference``: :func:`perception.evaluation.kitti.reference.evaluate_kitti_reference`,
  the plain per-frame port of the devkit, on the first ``--reference-frames`` frames (all by
  default, a couple of minutes), together with ``fast`` on exactly those frames, so the
  speed ratio compares equal work.

Both give the same APs; the report says the largest difference.
"""
from __future__ import annotations

import argparse
import math
import os
import tempfile
import time

import numpy as np

__all__ = ["simulate_kitti", "add_arguments", "run", "KITTI_P2", "IMAGE_SHAPE"]

#: A typical KITTI camera-2 projection (rectified camera frame -> pixels) and image size (h, w).
KITTI_P2 = np.array([[721.5377, 0.0, 609.5593, 44.85728], [0.0, 721.5377, 172.854, 0.2163791], [0.0, 0.0, 1.0, 0.002745884]])
IMAGE_SHAPE = (375, 1242)

# class: (probability, mean h w l, std)
_CLASS_SHAPES = {
    "Car": (0.55, (1.53, 1.63, 3.88), (0.1, 0.1, 0.4)),
    "Van": (0.06, (2.2, 1.9, 5.1), (0.2, 0.1, 0.5)),
    "Truck": (0.03, (3.2, 2.6, 10.0), (0.3, 0.2, 1.5)),
    "Pedestrian": (0.18, (1.76, 0.66, 0.84), (0.1, 0.1, 0.15)),
    "Person_sitting": (0.02, (1.27, 0.59, 0.8), (0.1, 0.1, 0.1)),
    "Cyclist": (0.10, (1.74, 0.6, 1.76), (0.1, 0.1, 0.2)),
    "Tram": (0.02, (3.5, 2.5, 16.0), (0.2, 0.1, 1.0)),
    "Misc": (0.04, (1.9, 1.5, 3.5), (0.4, 0.3, 1.0)),
}
_EVALUATED = ("Car", "Pedestrian", "Cyclist")


def _project_box(dims, loc, ry):
    """Image box of a KITTI camera box (dims h w l, bottom-centre loc) and whether it is in front."""
    h, w, l = dims
    c, s = math.cos(ry), math.sin(ry)
    xs = np.array([l, l, -l, -l, l, l, -l, -l]) / 2
    zs = np.array([w, -w, -w, w, w, -w, -w, w]) / 2
    ys = np.array([0, 0, 0, 0, -h, -h, -h, -h])
    pts = np.stack([c * xs + s * zs + loc[0], ys + loc[1], -s * xs + c * zs + loc[2], np.ones(8)])
    uvw = KITTI_P2 @ pts
    if np.any(uvw[2] <= 0.1):
        return None
    u, v = uvw[0] / uvw[2], uvw[1] / uvw[2]
    return np.array([u.min(), v.min(), u.max(), v.max()])


def simulate_kitti(num_frames: int = 3769, seed: int = 0, gt_per_frame: tuple[int, int] = (5, 10),
                   dets_per_frame: tuple[int, int] = (20, 50)):
    """Simulated KITTI ground truth and detections.

    Returns:
        ``(gt_frames, dt_frames)``: per-frame lists of :class:`~perception.datasets.kitti_io.KittiObject`,
        ground truth including ``DontCare`` lines, detections with scores.  Values are rounded like KITTI
        files (2 decimals for boxes and truncation, 2 for sizes/positions), so the in-memory and the
        written-then-read sets are identical.
    """
    from perception.datasets.kitti_io import KittiObject

    rng = np.random.default_rng(seed)
    names = list(_CLASS_SHAPES)
    probs = np.array([v[0] for v in _CLASS_SHAPES.values()])
    probs = probs / probs.sum()
    hw = IMAGE_SHAPE[1]
    gt_frames, dt_frames = [], []
    for _ in range(num_frames):
        gts, dets = [], []
        n_gt = int(rng.integers(gt_per_frame[0], gt_per_frame[1] + 1))
        tries = 0
        while len(gts) < n_gt and tries < 100:
            tries += 1
            cls = names[rng.choice(len(names), p=probs)]
            mean, std = np.array(_CLASS_SHAPES[cls][1]), np.array(_CLASS_SHAPES[cls][2])
            dims = np.round(np.maximum(mean + rng.normal(size=3) * std, 0.3), 2)
            z = rng.uniform(4.0, 70.0)
            x = rng.uniform(-0.6, 0.6) * z
            loc = np.round(np.array([x, rng.normal(1.65, 0.1), z]), 2)
            ry = round(float(rng.uniform(-math.pi, math.pi)), 2)
            box = _project_box(dims, loc, ry)
            if box is None or box[0] > hw - 5 or box[2] < 5:
                continue
            full_w = box[2] - box[0]
            clipped = np.array([max(box[0], 0), max(box[1], 0), min(box[2], hw - 1), min(box[3], IMAGE_SHAPE[0] - 1)])
            trunc = round(float(np.clip(1 - (clipped[2] - clipped[0]) / max(full_w, 1e-6), 0, 1)), 2)
            occ = int(rng.choice(4, p=[0.55, 0.25, 0.15, 0.05]))
            alpha = round(float((ry - math.atan2(loc[0], loc[2]) + math.pi) % (2 * math.pi) - math.pi), 2)
            gts.append(KittiObject(type=cls, truncated=trunc, occluded=occ, alpha=alpha,
                                   bbox=tuple(np.round(clipped, 2).tolist()), dimensions=tuple(dims.tolist()),
                                   location=tuple(loc.tolist()), rotation_y=ry))
        # detections around the ground truth: quality drives both overlap and score
        n_det = int(rng.integers(dets_per_frame[0], dets_per_frame[1] + 1))
        for g in gts:
            if g.type not in _EVALUATED + ("Van", "Person_sitting") or len(dets) >= n_det:
                continue
            for _k in range(int(rng.choice([0, 1, 1, 1, 2, 2, 3]))):
                quality = rng.uniform(0, 1)
                noise = (1.05 - quality)
                dims = np.round(np.maximum(np.array(g.dimensions) * (1 + rng.normal(size=3) * 0.08 * noise), 0.2), 2)
                loc = np.round(np.array(g.location) + rng.normal(size=3) * np.array([0.5, 0.1, 0.8]) * noise, 2)
                flip = math.pi if rng.uniform() < 0.1 else 0.0
                ry = round(float((g.rotation_y + rng.normal() * 0.3 * noise + flip + math.pi) % (2 * math.pi)
                                 - math.pi), 2)
                cls = g.type if g.type in _EVALUATED else {"Van": "Car", "Person_sitting": "Pedestrian"}[g.type]
                if rng.uniform() < 0.05:
                    cls = _EVALUATED[int(rng.integers(3))]
                dets.append(_det_from_box(KittiObject, cls, dims, loc, ry,
                                          float(np.clip(quality * 0.8 + rng.normal(0, 0.15), 0.01, 0.999))))
        while len(dets) < n_det:  # background false positives
            cls = _EVALUATED[int(rng.choice(3, p=[0.6, 0.25, 0.15]))]
            mean, std = np.array(_CLASS_SHAPES[cls][1]), np.array(_CLASS_SHAPES[cls][2])
            dims = np.round(np.maximum(mean + rng.normal(size=3) * std, 0.3), 2)
            z = rng.uniform(4.0, 70.0)
            loc = np.round(np.array([rng.uniform(-0.6, 0.6) * z, rng.normal(1.65, 0.1), z]), 2)
            d = _det_from_box(KittiObject, cls, dims, loc, round(float(rng.uniform(-math.pi, math.pi)), 2),
                              float(rng.uniform(0.01, 0.6)))
            if d is not None:
                dets.append(d)
        dets = [d for d in dets if d is not None]
        # DontCare regions, some on top of detections
        for _k in range(int(rng.integers(0, 4))):
            x1, y1 = rng.uniform(0, hw - 60), rng.uniform(120, 300)
            gts.append(KittiObject(type="DontCare", truncated=-1, occluded=-1, alpha=-10,
                                   bbox=tuple(np.round([x1, y1, x1 + rng.uniform(10, 120), y1 + rng.uniform(10, 60)],
                                                       2).tolist()),
                                   dimensions=(-1, -1, -1), location=(-1000, -1000, -1000), rotation_y=-10))
        order = rng.permutation(len(gts))
        gt_frames.append([gts[i] for i in order])
        dt_frames.append([dets[i] for i in rng.permutation(len(dets))])
    return gt_frames, dt_frames


def _det_from_box(cls_, name, dims, loc, ry, score):
    box = _project_box(dims, loc, ry)
    if box is None or box[0] > IMAGE_SHAPE[1] - 5 or box[2] < 5:
        return None
    clipped = [max(box[0], 0), max(box[1], 0), min(box[2], IMAGE_SHAPE[1] - 1), min(box[3], IMAGE_SHAPE[0] - 1)]
    alpha = (ry - math.atan2(loc[0], loc[2]) + math.pi) % (2 * math.pi) - math.pi
    return cls_(type=name, truncated=0.0, occluded=0, alpha=round(alpha, 4), bbox=tuple(np.round(clipped, 2).tolist()),
                dimensions=tuple(dims.tolist()), location=tuple(loc.tolist()), rotation_y=ry, score=round(score, 4))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--frames", type=int, default=3769, help="frames in the simulated set (KITTI val: 3769)")
    parser.add_argument("--reference-frames", type=int, default=None,
                        help="frames on which the slow reference runs, and fast again for the ratio (default: all)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=3, help="fast runs; the best is reported")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (the 2-core target)")


def _max_diff(a, b) -> float:
    fa, fb = a.to_flat_dict(), b.to_flat_dict()
    if fa.keys() != fb.keys():
        return float("inf")
    return max((abs(fa[k] - fb[k]) for k in fa), default=0.0)


def run(args: argparse.Namespace) -> dict:
    import torch

    from perception.evaluation.kitti import KittiEvalData, evaluate_kitti, load_kitti_dirs, write_kitti_results
    from perception.evaluation.kitti.reference import evaluate_kitti_reference

    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    gt_frames, dt_frames = simulate_kitti(args.frames, seed=args.seed)
    t_sim = time.perf_counter() - t0
    data = KittiEvalData.from_objects(gt_frames, dt_frames)
    n_gt = sum(sum(o.type != "DontCare" for o in g) for g in gt_frames)
    n_dc = sum(sum(o.type == "DontCare" for o in g) for g in gt_frames)
    n_dt = sum(len(d) for d in dt_frames)

    fast_times = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        full = evaluate_kitti(data)
        fast_times.append(time.perf_counter() - t0)

    with tempfile.TemporaryDirectory() as tmp:
        ids = [f"{i:06d}" for i in range(args.frames)]
        _write_gt(os.path.join(tmp, "gt"), ids, gt_frames)
        write_kitti_results(os.path.join(tmp, "res"), list(zip(ids, dt_frames)))
        t0 = time.perf_counter()
        data_files, _ = load_kitti_dirs(os.path.join(tmp, "gt"), os.path.join(tmp, "res"))
        t_read = time.perf_counter() - t0
        t0 = time.perf_counter()
        from_files = evaluate_kitti(data_files)
        t_eval_files = time.perf_counter() - t0

    k = args.frames if args.reference_frames is None else min(args.reference_frames, args.frames)
    sub = KittiEvalData.from_objects(gt_frames[:k], dt_frames[:k])
    t0 = time.perf_counter()
    fast_sub = evaluate_kitti(sub)
    t_fast_sub = time.perf_counter() - t0
    t0 = time.perf_counter()
    ref_sub = evaluate_kitti_reference(sub)
    t_ref_sub = time.perf_counter() - t0

    flat = full.to_flat_dict()
    return {
        "set": {"frames": args.frames, "gt_objects": n_gt, "dontcare_regions": n_dc, "detections": n_dt,
                "gt_per_frame": n_gt / args.frames, "detections_per_frame": n_dt / args.frames,
                "simulate_seconds": round(t_sim, 2)},
        "work": "2D+BEV+3D AP and AOS, easy/moderate/hard, R11+R40, Car/Pedestrian/Cyclist, strict+loose overlaps",
        "torch_threads": args.threads,
        "fast_seconds": round(min(fast_times), 3),
        "fast_seconds_all_runs": [round(t, 3) for t in fast_times],
        "read_files_seconds": round(t_read, 3),
        "end_to_end_from_files_seconds": round(t_read + t_eval_files, 3),
        "files_vs_memory_max_abs_ap_diff": _max_diff(full, from_files),
        "reference": {"frames": k, "reference_seconds": round(t_ref_sub, 2), "fast_seconds": round(t_fast_sub, 3),
                      "speedup": round(t_ref_sub / t_fast_sub, 1),
                      "max_abs_ap_diff": _max_diff(fast_sub, ref_sub)},
        "headline": {key: round(flat[key], 4) for key in
                     ("kitti/Car_3D_moderate_R40", "kitti/Pedestrian_3D_moderate_R40", "kitti/Cyclist_3D_moderate_R40",
                      "kitti/Car_BEV_moderate_R40", "kitti/Car_2D_moderate_R40", "kitti/Car_AOS_moderate_R40")},
    }


def _write_gt(folder, ids, gt_frames):
    from perception.datasets.kitti_io import write_label

    os.makedirs(folder, exist_ok=True)
    for i, objects in zip(ids, gt_frames):
        write_label(os.path.join(folder, f"{i}.txt"), objects)
