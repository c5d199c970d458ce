"""Evaluate KITTI object detection results: 2D / BEV / 3D AP and AOS, as the official devkit computes them.

Usage::

    python tools/eval_kitti.py GT_LABEL_DIR RESULT_DIR [--split ImageSets/val.txt]
        [--classes Car Pedestrian Cyclist] [--overlaps strict loose] [--metrics 2D BEV 3D]
        [--missing error|skip|empty] [--out report.json]

``GT_LABEL_DIR`` holds ``<id>.txt`` KITTI label files, ``RESULT_DIR`` one ``<id>.txt`` result file per frame
(label lines plus a score; or a ``data/`` folder holding them, the devkit's layout).  Frames are those of
``--split`` or, without it, every label file.  A frame without result file is an error unless ``--missing``
says to leave it out (``skip``, as the offline devkit does) or to count it as having no detections
(``empty``); either way the report counts them.  Malformed input (a bad line, a missing score, an unknown
class, NaN or negative sizes) stops with the file and line.  Prints R40 and R11 tables; ``--out`` writes the
full report (flat AP dict, curves, counts) as JSON.  See docs/evaluation.md.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from perception.datasets.kitti_io import KittiFormatError  # noqa: E402
from perception.evaluation.kitti import (CLASSES, METRICS, MISSING_POLICIES, OVERLAP_SETS,  # noqa: E402
                                         evaluate_kitti, load_kitti_dirs)
from perception.utils.fileio import atomic_write_text  # noqa: E402


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("gt_dir", metavar="GT_LABEL_DIR", help="directory of KITTI label files (label_2)")
    p.add_argument("result_dir", metavar="RESULT_DIR", help="directory of KITTI result files (with scores)")
    p.add_argument("--split", help="ImageSets file listing the frames to evaluate (default: all label files)")
    p.add_argument("--classes", nargs="+", default=list(CLASSES), help="classes to evaluate (default: %(default)s)")
    p.add_argument("--overlaps", nargs="+", default=list(OVERLAP_SETS), choices=OVERLAP_SETS,
                   help="overlap sets: strict = official 0.7/0.5/0.5, loose = BEV/3D at 0.5/0.25/0.25")
    p.add_argument("--metrics", nargs="+", default=list(METRICS), choices=METRICS,
                   help="metric families (AOS comes with 2D)")
    p.add_argument("--missing", default="error", choices=MISSING_POLICIES,
                   help="frames without a result file: error (default), skip (leave the frame out), "
                        "empty (evaluate it with no detections)")
    p.add_argument("--out", help="write the JSON report here")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        data, info = load_kitti_dirs(args.gt_dir, args.result_dir, split=args.split, missing=args.missing)
        result = evaluate_kitti(data, classes=args.classes, overlap_sets=args.overlaps, metrics=args.metrics)
    except (KittiFormatError, ValueError) as exc:
        print(f"eval_kitti: error: {exc}", file=sys.stderr)
        return 1
    print(f"frames evaluated: {info['num_frames']}")
    if info["missing"]:
        what = "left out" if args.missing == "skip" else "evaluated without detections"
        print(f"frames without result file: {len(info['missing'])} ({what}, --missing {args.missing})")
    if info["extra_results"]:
        print(f"result files not in the frame list (ignored): {len(info['extra_results'])}")
    for note in result.skipped:
        print(f"note: {note}")
    for variant in ("R40", "R11"):
        print()
        print(result.table(variant))
    if args.out:
        report = {"gt_dir": info["gt_dir"], "result_dir": info["result_dir"], "split": args.split,
                  "num_frames": info["num_frames"],
                  "missing": {"policy": args.missing, "count": len(info["missing"]), "ids": info["missing"]},
                  "extra_results": {"count": len(info["extra_results"]), "ids": info["extra_results"]},
                  "metrics": result.to_flat_dict(), "detail": result.to_json()}
        atomic_write_text(args.out, json.dumps(report, indent=1) + "\n")
        print(f"\nreport written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
