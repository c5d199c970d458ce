"""Generate the simulated KITTI-format driving benchmark.

Examples::

    python tools/make_sim.py --out data/sim --frames 500 --seed 0 --workers 2
    python tools/make_sim.py --out /tmp/sim_tiny --frames 3 --tiny        # small and fast (tests, demos)
    python tools/make_sim.py --format nuscenes --out data/sim_nuscenes --scenes 10 --workers 2
    python tools/make_sim.py --format nuscenes --out /tmp/sim_nusc_tiny --tiny   # 2 scenes x 3 samples

``--format nuscenes`` writes a nuScenes database (tables, sweeps, six cameras) that the nuscenes-devkit
loads, with ego motion between samples; see docs/nuscenes.md.

Frame ``i`` depends only on the settings and ``i``: the output is
byte-identical for any ``--workers``, and re-running into the same directory
with the same settings reuses finished frames (an interrupted run resumes).
A directory made with other settings is refused.  See docs/simulator.md.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from perception.datasets.sim import SimConfig, SimDatasetError, generate_dataset  # noqa: E402


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="make_sim.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="output root (created; holds training/, ImageSets/, sim_meta.json)")
    parser.add_argument("--frames", type=int, default=500, help="number of frames (default: 500)")
    parser.add_argument("--seed", type=int, default=0, help="base seed; frame i uses (seed, i) (default: 0)")
    parser.add_argument("--workers", type=int, default=1, help="worker processes (default: 1)")
    parser.add_argument("--tiny", action="store_true",
                        help="the tiny preset: 414x125 image, 32 beams, few objects (for tests)")
    parser.add_argument("--width", type=int, help="image width (default 1242; intrinsics are scaled)")
    parser.add_argument("--height", type=int, help="image height (default 375)")
    parser.add_argument("--beams", type=int, help="LiDAR beams, 1-64 (default 64)")
    parser.add_argument("--azimuth-step", type=float, help="LiDAR azimuth step in degrees (default 0.1728)")
    parser.add_argument("--no-shadows", action="store_true", help="render without sun shadows (faster)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--summary", help="also write the run summary (JSON) to this file")
    nusc = parser.add_argument_group("nuScenes format (--format nuscenes; --frames is not used)")
    nusc.add_argument("--format", choices=("kitti", "nuscenes"), default="kitti",
                      help="output format (default: kitti)")
    nusc.add_argument("--scenes", type=int, help="scenes, one log each (default 10; 2 with --tiny)")
    nusc.add_argument("--samples-per-scene", type=int, help="key frames per scene, 0.5 s apart (default 10; 3 tiny)")
    nusc.add_argument("--sweeps-per-sample", type=int,
                      help="LiDAR sweeps between key frames (default 9, i.e. 20 Hz; 2 tiny)")
    nusc.add_argument("--cameras", nargs="+", help="camera channels to render (default: all six)")
    nusc.add_argument("--version", default=None, help="table directory name (default v1.0-mini)")
    return parser


def _nuscenes(args: argparse.Namespace, config: SimConfig) -> int:
    from perception.datasets.sim.nuscenes_writer import NuScenesSimConfig, generate_nuscenes_dataset

    changes = {"sim": config}
    for name, attr in (("scenes", "num_scenes"), ("samples_per_scene", "samples_per_scene"),
                       ("sweeps_per_sample", "sweeps_per_sample"), ("cameras", "cameras"), ("version", "version"),
                       ("width", "image_width"), ("height", "image_height")):
        if getattr(args, name) is not None:
            changes[attr] = getattr(args, name)
    try:
        nconfig = NuScenesSimConfig.tiny(**changes) if args.tiny else NuScenesSimConfig(**changes)
    except ValueError as exc:
        print(f"make_sim.py: invalid settings: {exc}", file=sys.stderr)
        return 2
    try:
        summary = generate_nuscenes_dataset(args.out, nconfig, workers=args.workers, progress=not args.quiet)
    except (SimDatasetError, ValueError) as exc:
        print(f"make_sim.py: {exc}", file=sys.stderr)
        return 1
    stats = summary["stats"]
    print(f"{'reused' if summary['reused'] else 'wrote'} a nuScenes {nconfig.version} database in {args.out}: "
          f"{stats['scenes']} scenes, {stats['samples']} samples, {stats['lidar_sweeps']} LiDAR sweeps, "
          f"{stats['images']} images, {stats['annotations']} annotations {stats['annotations_per_category']} "
          f"in {summary['seconds']:.1f} s; splits {stats['splits']}")
    if args.summary:
        from perception.utils.fileio import atomic_write_text

        atomic_write_text(args.summary, json.dumps(summary, indent=2) + "\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    config = SimConfig.tiny() if args.tiny else SimConfig()
    changes = {"seed": args.seed}
    image_size = (("width", "image_width"), ("height", "image_height")) if args.format == "kitti" else ()
    for name, attr in image_size + (("beams", "num_beams"), ("azimuth_step", "azimuth_step_deg")):
        if getattr(args, name) is not None:
            changes[attr] = getattr(args, name)
    if args.no_shadows:
        changes["shadows"] = False
    try:
        config = config.replace(**changes)
    except ValueError as exc:
        print(f"make_sim.py: invalid settings: {exc}", file=sys.stderr)
        return 2
    if args.format == "nuscenes":
        return _nuscenes(args, config)
    start = time.perf_counter()
    try:
        summary = generate_dataset(args.out, num_frames=args.frames, config=config, workers=args.workers,
                                   progress=not args.quiet)
    except (SimDatasetError, ValueError) as exc:
        print(f"make_sim.py: {exc}", file=sys.stderr)
        return 1
    elapsed = time.perf_counter() - start
    stats = summary["stats"]
    print(f"wrote {summary['frames']} frames to {args.out} ({summary['generated']} generated, "
          f"{summary['reused']} reused) in {elapsed:.1f} s with {args.workers} worker(s)"
          + (f": {elapsed / summary['generated']:.2f} s per frame" if summary["generated"] else ""))
    if summary["mean_stage_seconds"]:
        stages = ", ".join(f"{k} {v:.3f}" for k, v in summary["mean_stage_seconds"].items())
        print(f"mean seconds per frame and stage (inside a worker): {stages}")
    print(f"LiDAR points per frame: mean {stats['lidar_points_mean']:.0f} "
          f"(min {stats['lidar_points_min']}, max {stats['lidar_points_max']}); "
          f"labels {stats['labels']}, DontCare {stats['dontcare']}")
    if args.summary:
        from perception.utils.fileio import atomic_write_text

        atomic_write_text(args.summary, json.dumps({**summary, "elapsed": elapsed}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
