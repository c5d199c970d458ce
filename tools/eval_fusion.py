"""The fusion benchmark: 3D AP of LiDAR-only vs each fusion config, 2D AP of camera-only vs each fusion config.

    python tools/cache_detections.py --split val --out work_dirs/fusion/val_dets.pt      # once
    python tools/eval_fusion.py configs/fusion/fusion_rule_sim.py configs/fusion/fusion_clocs_sim.py \\
        --cache work_dirs/fusion/val_dets.pt --out work_dirs/fusion/eval.json
"""
from __future__ import annotations

import argparse
import json
import os

from perception.fusion.builder import build_late_fusion, load_fusion_config
from perception.fusion.detection_cache import load_detection_cache
from perception.fusion.evaluation import evaluate_fusion, format_table
from perception.utils.fileio import atomic_write_text


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("configs", nargs="+", help="fusion configs (configs/fusion/*.py)")
    parser.add_argument("--cache", default="work_dirs/fusion/val_dets.pt", help="detection cache of the split")
    parser.add_argument("--out", help="write the table as JSON here")
    args = parser.parse_args(argv)
    cfgs = {os.path.splitext(os.path.basename(p))[0]: load_fusion_config(p) for p in args.configs}
    pairs = {(c.lidar.name, c.camera.name) for c in cfgs.values()}
    if len(pairs) != 1:
        parser.error(f"the configs fuse different models {sorted(pairs)}; compare configs of one LiDAR/camera pair")
    (lidar_model, camera_model), = pairs
    cache = load_detection_cache(args.cache)
    fusions = {name: build_late_fusion(cfg) for name, cfg in cfgs.items()}
    table = evaluate_fusion(cache, fusions, lidar_model=lidar_model, camera_model=camera_model, progress=True)
    table |= {"cache": args.cache, "lidar_model": lidar_model, "camera_model": camera_model}
    print(f"{table['frames']} frames of {cache.data_root}; LiDAR {lidar_model}, camera {camera_model}\n")
    print(format_table(table))
    if args.out:
        atomic_write_text(args.out, json.dumps(table, indent=2) + "\n")
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
