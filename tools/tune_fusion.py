"""Choose the rule fuser's per-class settings on a tuning split (see perception.fusion.tuning).

    python tools/tune_fusion.py configs/fusion/fusion_rule_sim.py --cache work_dirs/fusion/val_dets.pt

Prints the chosen settings as config lines for the fusion config, and each class's gains on the tuning split.
"""
from __future__ import annotations

import argparse
import json

from perception.fusion.builder import load_fusion_config
from perception.fusion.detection_cache import load_detection_cache
from perception.fusion.tuning import tune_rule_fusion
from perception.utils.fileio import atomic_write_text


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("config", help="a fusion config: its models and association gates are kept")
    parser.add_argument("--cache", default="work_dirs/fusion/val_dets.pt")
    parser.add_argument("--out", help="also write the result as JSON")
    args = parser.parse_args(argv)
    cfg = load_fusion_config(args.config)
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


if __name__ == "__main__":
    raise SystemExit(main())
