"""Run the shipped single-sensor models over a split once and store their detections (fuser training/eval input).

    python tools/cache_detections.py --data-root data/sim --split train --out work_dirs/fusion/train_dets.pt
    python tools/cache_detections.py --data-root data/sim --split val --out work_dirs/fusion/val_dets.pt \\
        --lidar sst second --camera tridentnet_fast
"""
from __future__ import annotations

import argparse
import os
import time

from perception.datasets import kitti_io
from perception.fusion.detection_cache import _resolve, build_detection_cache


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-root", default="data/sim")
    parser.add_argument("--split", default="val", help="ImageSets/<split>.txt (default: val)")
    parser.add_argument("--out", required=True, help="output .pt file")
    parser.add_argument("--lidar", nargs="*", default=["sst", "second"], help="model-zoo LiDAR models")
    parser.add_argument("--camera", nargs="*", default=["tridentnet_fast"], help="model-zoo camera models")
    parser.add_argument("--limit", type=int, help="only the first N frames")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    ids = kitti_io.read_image_set(os.path.join(args.data_root, "ImageSets", f"{args.split}.txt"))[:args.limit]
    t0 = time.perf_counter()
    cache = build_detection_cache(data_root=args.data_root, frame_ids=ids, lidar_models=_resolve(args.lidar, "lidar3d"),
                                  camera_models=_resolve(args.camera, "camera2d"), device=args.device)
    cache.save(args.out)
    print(f"wrote {args.out}: {len(ids)} frames, lidar {sorted(cache.lidar)}, camera {sorted(cache.camera)} "
          f"({time.perf_counter() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
