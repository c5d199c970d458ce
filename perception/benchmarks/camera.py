"""Camera 2D detection: inference latency of TridentNet, TridentNet-Fast and the single-branch network.

The three models of ``configs/tridentnet/`` (``tridentnet_sim.py``: 3 branches merged; ``tridentnet_fast_sim.py``:
the same weights, middle branch only; ``single_branch_sim.py``: a plain ResNet stage) run ``test_step`` (data
preprocessing, backbone, RPN, R-CNN, merge) on one KITTI-resolution image (``--height`` x ``--width``, default
375 x 1242, fed to the model as is) on ``--device``.  The variants are timed round-robin (one call of each per
round, ``--repeats`` rounds after ``--warmup``), so load changes on a shared machine hit all of them alike; the
report gives median seconds per variant, the backbone's share (``extract_feat`` alone, timed the same way) and
the ratios against the single-branch network measured in the same run.  Target: TridentNet-Fast within 1.2x.

Weights: ``--trident-checkpoint`` / ``--single-checkpoint`` (mmengine checkpoints) or, by default, the configs'
random initialisation (seeded).  With random weights the RPN keeps its ``max_per_img`` proposals per branch
like a trained one, so the cost structure is the same; the image is ``--image`` or a seeded synthetic one.
"""
from __future__ import annotations

import argparse
import os
import pathlib
from typing import Callable, Optional

import numpy as np
import torch

from perception.benchmarks.timing import prepare_device, round_robin

__all__ = ["add_arguments", "run"]

REPO = pathlib.Path(__file__).resolve().parents[2]
VARIANTS = {"single_branch": "single_branch_sim.py", "tridentnet": "tridentnet_sim.py",
            "tridentnet_fast": "tridentnet_fast_sim.py"}
TARGET_FAST_OVER_SINGLE = 1.2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--height", type=int, default=375)
    parser.add_argument("--width", type=int, default=1242)
    parser.add_argument("--image", help="an RGB image file to use (resized to --height x --width if needed)")
    parser.add_argument("--trident-checkpoint", help="checkpoint of tridentnet_sim.py (also used for Fast)")
    parser.add_argument("--single-checkpoint", help="checkpoint of single_branch_sim.py")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--seed", type=int, default=0)


def _image(args: argparse.Namespace) -> torch.Tensor:
    """``(3, H, W)`` uint8 RGB."""
    if args.image:
        from perception.datasets.kitti_io import read_image
        img = read_image(args.image)
        if img.shape[:2] != (args.height, args.width):
            import cv2
            img = cv2.resize(img, (args.width, args.height), interpolation=cv2.INTER_LINEAR)
    else:  # smooth shapes on a gradient: a deterministic stand-in for a road scene
        rng = np.random.default_rng(args.seed)
        yy, xx = np.mgrid[0:args.height, 0:args.width]
        img = np.stack([(xx / args.width * 200), (yy / args.height * 200), np.full_like(xx, 90.0)], -1)
        for _ in range(40):
            x0, y0 = rng.integers(0, args.width - 20), rng.integers(0, args.height - 20)
            w, h = rng.integers(8, 200), rng.integers(8, 120)
            img[y0:y0 + h, x0:x0 + w] = rng.integers(0, 255, 3)
        img = img.clip(0, 255).astype(np.uint8)
    return torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))


def _build(config: str, checkpoint: Optional[str], seed: int, device: torch.device):
    from perception.engine import load_model

    return load_model(str(REPO / "configs" / "tridentnet" / config), checkpoint, device=device, seed=seed)[0]


def run(args: argparse.Namespace) -> dict:
    from mmdet.structures import DetDataSample

    device = prepare_device(args, "camera")
    ckpt = {"single_branch": args.single_checkpoint, "tridentnet": args.trident_checkpoint,
            "tridentnet_fast": args.trident_checkpoint}
    models = {name: _build(cfg, ckpt[name], args.seed, device) for name, cfg in VARIANTS.items()}
    img = _image(args)
    shape = (args.height, args.width)

    def batch() -> dict:
        sample = DetDataSample(metainfo=dict(img_shape=shape, ori_shape=shape, scale_factor=(1.0, 1.0)))
        return dict(inputs=[img], data_samples=[sample])

    def full_call(model) -> Callable[[], object]:
        return lambda: model.test_step(batch())

    def backbone_call(model) -> Callable[[], object]:
        data = model.data_preprocessor(batch(), False)
        return lambda: model.extract_feat(data["inputs"].to(device))

    load_before = os.getloadavg()
    detections = {}
    with torch.no_grad():
        for name, model in models.items():
            detections[name] = len(model.test_step(batch())[0].pred_instances)
        fns = {}
        for name, model in models.items():
            fns[name], fns[f"{name}/backbone"] = full_call(model), backbone_call(model)
        timed = round_robin(fns, device, args.warmup, args.repeats)
    med = {name: timed[name]["median_s"] for name in models}
    med_bb = {name: timed[f"{name}/backbone"]["median_s"] for name in models}
    base = med["single_branch"]
    report = {
        "benchmark": "camera",
        "device": str(device) if device.type == "cpu" else torch.cuda.get_device_name(device),
        "torch_threads": torch.get_num_threads(),
        "input_hw": list(shape),
        "weights": {k: (v or "random init (seed %d)" % args.seed) for k, v in ckpt.items()},
        "image": args.image or "synthetic",
        "repeats": args.repeats,
        "variants": {name: {"median_s": round(med[name], 4), "min_s": round(timed[name]["min_s"], 4),
                            "backbone_median_s": round(med_bb[name], 4), "detections": detections[name],
                            "over_single_branch": round(med[name] / base, 3)} for name in models},
        "tridentnet_over_single_branch": round(med["tridentnet"] / base, 3),
        "fast_over_single_branch": round(med["tridentnet_fast"] / base, 3),
        "target_fast_over_single_branch": TARGET_FAST_OVER_SINGLE,
        "meets_target": med["tridentnet_fast"] / base <= TARGET_FAST_OVER_SINGLE,
        "loadavg_before": [round(x, 2) for x in load_before],
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
    }
    return report
