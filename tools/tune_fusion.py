"""Choose fusion settings on a tuning split (see perception.fusion.tuning).

    python tools/tune_fusion.py configs/fusion/fusion_rule_sim.py --cache work_dirs/fusion/val_dets.pt
    python tools/tune_fusion.py configs/fusion/fusion_clocs_sim.py --clocs --cache work_dirs/fusion/val_dets.pt

The first prints the rule fuser's per-class settings as config lines, with each class's gains on the tuning
split.  ``--clocs`` cross-fits the learned fuser (trains it with tools/train.py on all folds but one, evaluates it
on that one, for each fold) and prints which classes it should leave alone (``identity_classes``).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

from perception.fusion.builder import load_fusion_config
from perception.fusion.detection_cache import load_detection_cache
from perception.fusion.tuning import tune_rule_fusion
from perception.utils.fileio import atomic_write_text


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("config", help="a fusion config: its models and association gates are kept")
    parser.add_argument("--cache", default="work_dirs/fusion/val_dets.pt")
    parser.add_argument("--out", help="also write the result as JSON")
    parser.add_argument("--clocs", action="store_true", help="cross-fit the learned fuser's per-class gate")
    parser.add_argument("--folds", type=int, default=2)
    parser.add_argument("--work-dir", default="work_dirs/fusion/clocs_folds")
    args = parser.parse_args(argv)
    cfg = load_fusion_config(args.config)
    if args.clocs:
        return _clocs(args, cfg)
    fusion = {k: v for k, v in cfg.fusion.items() if k not in ("camera_only_factor", "box2d")}
    result = tune_rule_fusion(load_detection_cache(args.cache), fusion, lidar_model=cfg.lidar.name,
                              camera_model=cfg.camera.name, classes=tuple(cfg.class_names))
    s = result["settings"]
    print(f"{result['combinations']} settings evaluated on {args.cache}")
    for c, (d3, d2) in result["gains"].items():
        print(f"  {c:11s} {s[c]}  gain on the tuning split: 3D {d3:+.2f}, 2D {d2:+.2f} (vs the better sensor)")
    print("\nconfig lines:")
    for key in ("boost", "miss_factor", "camera_only_factor", "box2d"):
        print(f"  {key}={json.dumps({c: s[c][key] for c in s})},")
    if args.out:
        atomic_write_text(args.out, json.dumps(result, indent=2) + "\n")
    return 0


def _clocs(args, cfg) -> int:
    from perception.fusion.builder import build_late_fusion
    from perception.fusion.tuning import clocs_gate_from_folds

    cache = load_detection_cache(args.cache)
    n = len(cache.frame_ids)
    folds = []
    for k in range(args.folds):
        held = [i for i in range(n) if i % args.folds == k]
        rest = [i for i in range(n) if i % args.folds != k]
        work = os.path.join(args.work_dir, f"fold{k}")
        os.makedirs(work, exist_ok=True)
        train_cache = os.path.join(work, "train_dets.pt")
        cache.subset(rest).save(train_cache)
        cmd = [sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)), "train.py"), args.config,
               "--work-dir", work, "--cfg-options", f"train_dataloader.dataset.cache_file={train_cache}",
               "model.identity_classes=[]"]
        print(f"fold {k}: training on {len(rest)} frames", flush=True)
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        ckpt = os.path.join(work, f"iter_{cfg.train_cfg.max_iters}.pth")
        fusion = build_late_fusion(cfg, scorer_checkpoint=ckpt)
        folds.append((cache.subset(held), fusion.scorer))
    fusion_kwargs = dict(cfg.fusion)
    result = clocs_gate_from_folds(folds, fusion_kwargs, lidar_model=cfg.lidar.name, camera_model=cfg.camera.name,
                                   classes=tuple(cfg.class_names))
    for c, g in result["gains"].items():
        print(f"  {c:11s} correction on vs off per held-out fold (3D, 2D): "
              + ", ".join(f"({d3:+.2f}, {d2:+.2f})" for d3, d2 in g))
    print(f"\nconfig line:\n  identity_classes={json.dumps(result['identity_classes'])}")
    if args.out:
        atomic_write_text(args.out, json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
