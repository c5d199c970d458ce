"""The main job's built-in default: simulate a few frames, run the shipped models, draw the results.

    python tools/demo.py                       # 3 frames into data/demo_sim, outputs in outputs/demo
    python tools/demo.py --frames 5 --out outputs/demo5 --models centerpoint_pillar
    python tools/demo.py --list                # the shipped models and whether their weights are present
"""
from __future__ import annotations

import argparse
import sys

from perception.apis.demo import run_demo
from perception.apis.model_zoo import MODEL_ZOO


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="outputs/demo", help="output directory (default: outputs/demo)")
    parser.add_argument("--data-root", default="data/demo_sim",
                        help="simulated frames are generated here, or reused (default: data/demo_sim)")
    parser.add_argument("--frames", type=int, default=3, help="number of frames (default: 3)")
    parser.add_argument("--models", nargs="+", help="subset of the shipped models (default: all with weights)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--tiny", action="store_true", help="small simulated frames (the test preset; fast)")
    parser.add_argument("--list", action="store_true", help="list the shipped models and exit")
    args = parser.parse_args(argv)
    if args.list:
        for m in MODEL_ZOO:
            print(f"{m.name:24s} {m.task:9s} {'weights present' if m.available else 'NO WEIGHTS':16s} {m.summary}")
        return 0
    if args.frames < 1:
        parser.error("--frames must be at least 1")
    run_demo(out_dir=args.out, data_root=args.data_root, num_frames=args.frames, models=args.models,
             device=args.device, tiny=args.tiny)
    return 0


if __name__ == "__main__":
    sys.exit(main())
