"""Choose fusion settings on a tuning split (see perception.fusion.tuning).

    python tools/tune_fusion.py configs/fusion/fusion_rule_sim.py --cache work_dirs/fusion/val_dets.pt
    python tools/tune_fusion.py configs/fusion/fusion_rule_sim.py --coordinate --cache work_dirs/fusion/tune_dets.pt
    python tools/tune_fusion.py configs/fusion/fusion_rule_sim.py --only camera_duplicate_iou \
        --values none 0.3 0.4 0.5 0.6 0.7 --cache work_dirs/fusion/val_dets.pt
    python tools/tune_fusion.py configs/fusion/fusion_clocs_sim.py --clocs --cache work_dirs/fusion/val_dets.pt

The first prints the rule fuser's per-class settings as config lines, with each class's gains on the tuning
split.  ``--only NAME [--values ...]`` tunes that one setting (over its default candidates, or ``--values``;
``none`` is None) and holds the others at the config's values: a quick refinement after adding a setting; the
full grid is the default (1,440 settings); ``--coordinate`` tunes one setting at a time from the config's values
until a sweep changes nothing (about 20 evaluations a sweep), which makes a larger tuning split affordable, then
lets every class whose tuned settings do not beat LiDAR-only on their worst fold fall back to LiDAR-only.
``--clocs`` cross-fits the learned fuser (trains it with tools/train.py on all folds but one, evaluates it on
that one, for each fold) and prints which classes it should leave alone (``identity_classes``).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

from perception.fusion.builder import load_fusion_config
from perception.fusion.detection_cache import load_detection_cache
from perception.fusion.tuning import (DEFAULT_GRID, FUSION_KEYS, SCORER_KEYS, tune_rule_fusion,
                                      tune_rule_fusion_coordinates)
from perception.utils.fileio import atomic_write_text


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("config", help="a fusion config: its models and association gates are kept")
    parser.add_argument("--cache", default="work_dirs/fusion/val_dets.pt")
    parser.add_argument("--out", help="also write the result as JSON")
    parser.add_argument("--clocs", action="store_true", help="cross-fit the learned fuser's per-class gate")
    parser.add_argument("--only", choices=SCORER_KEYS + FUSION_KEYS,
                        help="tune only this setting; the others keep the config's values")
    parser.add_argument("--values", nargs="+", help="with --only: its candidates (numbers, names, or none)")
    parser.add_argument("--coordinate", action="store_true",
                        help="coordinate search from the config's values instead of the full grid")
    parser.add_argument("--folds", type=int, default=2,
                        help="folds: the rule fuser's settings are scored by their worst fold (1: the whole split); "
                             "--clocs cross-fits over them")
    parser.add_argument("--work-dir", default="work_dirs/fusion/clocs_folds")
    args = parser.parse_args(argv)
    cfg = load_fusion_config(args.config)
    if args.clocs:
        return _clocs(args, cfg)
    if args.values and not args.only:
        parser.error("--values needs --only")
    if args.only and args.coordinate:
        parser.error("--only and --coordinate exclude each other")
    fusion = {k: v for k, v in cfg.fusion.items() if k not in FUSION_KEYS}
    grid = dict(DEFAULT_GRID)
    cache = load_detection_cache(args.cache)
    common = dict(lidar_model=cfg.lidar.name, camera_model=cfg.camera.name, classes=tuple(cfg.class_names),
                  folds=args.folds)
    if args.only or args.coordinate:
        current = _config_settings(args, cfg)
        if args.coordinate:
            result = tune_rule_fusion_coordinates(cache, fusion, start=current, **common)
            print(f"coordinate search: {result['evaluations']} evaluations in {result['sweeps']} sweep(s); "
                  f"classes whose tuned settings did not beat LiDAR-only on their worst fold, and fall back to it: "
                  f"{result['lidar_only_classes'] or 'none'}")
        else:
            candidates = tuple(_value(v) for v in args.values) if args.values else grid[args.only]
            grid = {k: (candidates if k == args.only else (current[k],)) for k in grid}
            result = tune_rule_fusion(cache, fusion, grid=grid, **common)
    else:
        result = tune_rule_fusion(cache, fusion, grid=grid, **common)
    s = result["settings"]
    if not args.coordinate:
        print(f"{result['combinations']} settings evaluated on {args.cache}")
    for c, (d3, d2) in result["gains"].items():
        print(f"  {c:11s} {s[c]}  gain on the tuning split: 3D {d3:+.2f}, 2D {d2:+.2f} (vs the better sensor; "
              f"worst of {result['folds']} fold(s) and both metrics {result['worst_fold_gain'][c]:+.2f})")
    print("\nconfig lines:")
    for key in SCORER_KEYS + FUSION_KEYS:
        print(f"  {key}={json.dumps({c: s[c][key] for c in s})},")
    if args.out:
        atomic_write_text(args.out, json.dumps(result, indent=2) + "\n")
    return 0


def _config_settings(args, cfg) -> dict:
    """The rule fuser's settings in the config (``camera_duplicate_iou`` and ``min_score`` may be unset:
    LateFusion's defaults, None and 0, keep every object)."""
    if cfg.scorer.type != "RuleScorer":
        raise SystemExit(f"tune_fusion: --only and --coordinate need a RuleScorer config, {args.config} has "
                         f"{cfg.scorer.type}")
    current = {k: cfg.scorer.get(k) for k in SCORER_KEYS} | {k: cfg.fusion.get(k) for k in FUSION_KEYS}
    current["min_score"] = cfg.fusion.get("min_score", 0.0)
    unset = sorted(k for k, v in current.items() if v is None and k not in (args.only, "camera_duplicate_iou"))
    if unset:
        raise SystemExit(f"tune_fusion: {args.config} does not set {unset}; --only and --coordinate start from "
                         f"the config's values")
    return {k: dict(v) if hasattr(v, "keys") else v for k, v in current.items()}


def _value(text: str):
    """A ``--values`` entry: ``none`` -> None, a number -> float, anything else stays a name."""
    if text.lower() == "none":
        return None
    try:
        return float(text)
    except ValueError:
        return text


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
        fusion.scorer.identity_classes = ()   # the correction on for every class (the config's gate is the output)
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
