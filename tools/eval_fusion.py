"""The fusion benchmark: 3D AP of LiDAR-only vs each fusion config, 2D AP of camera-only vs each fusion config.

    python tools/cache_detections.py --split val --out work_dirs/fusion/val_dets.pt      # once
    python tools/eval_fusion.py configs/fusion/fusion_rule_sim.py configs/fusion/fusion_clocs_sim.py \\
        --cache work_dirs/fusion/val_dets.pt --out work_dirs/fusion/eval.json

``--bootstrap N`` adds each fused row's gain over the better single sensor with its interval over N paired
bootstrap resamples of the frames (how much of a difference the split's size can tell from zero).
``--unforced-last-sample`` adds the APs with the devkit's forced last recall sample taken by the rule of the
others (a check of how much of a difference that sample makes; not the benchmark's number).
``--camera-only-purity`` adds, per class and camera score, how many of the camera-only objects in LiDAR range
are real objects the LiDAR missed (with every object kept, ``min_score`` 0): what an honest score for them is.
``--class-isolated`` adds the APs with each class evaluated on its own detections only: the devkit lets short
boxes of any class absorb the evaluated class's ground truth, so one class's AP can move with another's boxes
(a diagnostic beside the devkit's numbers).
"""
from __future__ import annotations

import argparse
import json
import os

from perception.fusion.builder import build_late_fusion, load_fusion_config
from perception.fusion.detection_cache import load_detection_cache
from perception.fusion.evaluation import (ap_table, bootstrap_gains, camera_only_purity, class_isolated_table,
                                         format_gains, format_table, fusion_eval_data)
from perception.utils.fileio import atomic_write_text


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("configs", nargs="+", help="fusion configs (configs/fusion/*.py)")
    parser.add_argument("--cache", default="work_dirs/fusion/val_dets.pt", help="detection cache of the split")
    parser.add_argument("--out", help="write the table as JSON here")
    parser.add_argument("--bootstrap", type=int, default=0, metavar="N",
                        help="also the gains over the better single sensor with their interval over N paired "
                             "bootstrap resamples of the frames (0: none)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the bootstrap resamples")
    parser.add_argument("--unforced-last-sample", action="store_true",
                        help="also the APs with the devkit's last recall sample taken by the rule of the others "
                             "instead of always (a check of the metric, not the benchmark's number)")
    parser.add_argument("--camera-only-purity", action="store_true",
                        help="also how many camera-only objects in LiDAR range are real (per class and camera score)")
    parser.add_argument("--class-isolated", action="store_true",
                        help="also the APs with each class evaluated on its own detections only (the devkit lets "
                             "short boxes of any class absorb ground truth; a diagnostic)")
    args = parser.parse_args(argv)
    if args.bootstrap < 0:
        parser.error(f"--bootstrap must be >= 0, got {args.bootstrap}")
    cfgs = {os.path.splitext(os.path.basename(p))[0]: load_fusion_config(p) for p in args.configs}
    pairs = {(c.lidar.name, c.camera.name) for c in cfgs.values()}
    if len(pairs) != 1:
        parser.error(f"the configs fuse different models {sorted(pairs)}; compare configs of one LiDAR/camera pair")
    (lidar_model, camera_model), = pairs
    cache = load_detection_cache(args.cache)
    fusions = {name: build_late_fusion(cfg) for name, cfg in cfgs.items()}
    data = fusion_eval_data(cache, fusions, lidar_model=lidar_model, camera_model=camera_model, progress=True)
    table = ap_table(data) | {"frames": len(cache.frame_ids), "cache": args.cache, "lidar_model": lidar_model,
                              "camera_model": camera_model}
    print(f"{table['frames']} frames of {cache.data_root}; LiDAR {lidar_model}, camera {camera_model}\n")
    print(format_table(table))
    if args.unforced_last_sample:
        table["unforced_last_sample"] = ap_table(data, force_last_threshold=False)
        print("Sensitivity check, not the devkit's AP: the last true positive sampled only when its recall reaches "
              "the next 1/40 step\n")
        print(format_table(table["unforced_last_sample"]))
    if args.class_isolated:
        table["class_isolated"] = class_isolated_table(data)
        print("Diagnostic, not the devkit's AP: each class evaluated on its own detections only\n")
        print(format_table(table["class_isolated"]))
    if args.camera_only_purity:
        table["camera_only_purity"] = {}
        for name, fusion in fusions.items():
            purity = camera_only_purity(cache, fusion, lidar_model=lidar_model, camera_model=camera_model)
            table["camera_only_purity"][name] = purity
            print(f"{name}: camera-only objects in LiDAR range that are real (2D IoU >= 0.5 with a labelled object "
                  f"no LiDAR-backed object covers), all objects kept")
            for c, v in purity.items():
                bins = ", ".join(f"[{lo:.1f}, {hi:.1f}) {k}/{n}" for lo, hi, n, k in v["by_camera_score"])
                print(f"  {c:11s} {v['real']}/{v['objects']} ({100.0 * v['real'] / max(v['objects'], 1):.2f} %); "
                      f"by camera score: {bins}")
            print()
    if args.bootstrap:
        table["gains"] = bootstrap_gains(data, resamples=args.bootstrap, seed=args.seed, progress=True)
        print(format_gains(table["gains"]))
    if args.out:
        atomic_write_text(args.out, json.dumps(table, indent=2) + "\n")
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
