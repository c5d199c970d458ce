"""Derive point labels (one labelled pixel per segment) from COCO panoptic annotations.

Works on any COCO-panoptic-format dataset (COCO, Cityscapes / KITTI-STEP converted to COCO panoptic, the
simulator's ``training/panoptic.json``).  Each non-crowd segment gets one pixel, drawn with a seeded random
stream per image (``--seed`` and the image's file name) among the segment's most interior pixels; the output is
the point-label JSON that ``LoadPointLabels`` reads (see ``perception/datasets/point_labels.py``).

Examples::

    python tools/make_point_labels.py --panoptic-json data/sim/training/panoptic.json \\
        --out data/sim/training/point_labels_seed1.json --seed 1
    python tools/make_point_labels.py --panoptic-json annotations/panoptic_val2017.json \\
        --panoptic-dir annotations/panoptic_val2017 --out panoptic_val2017_points.json

A bad annotation (missing PNG, ids that disagree with ``segments_info``) is reported with its file and the run
goes on; the output is then written only with ``--skip-bad`` (leaving those images out), otherwise the exit status
is 1 and nothing is written.
"""
from __future__ import annotations

import argparse
import sys

from perception.datasets.point_labels import PointLabelError, derive_point_label_set, save_point_labels


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="make_point_labels.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--panoptic-json", required=True, help="COCO panoptic annotation JSON")
    parser.add_argument("--panoptic-dir", help="folder of its PNGs (default: the JSON's path without .json)")
    parser.add_argument("--out", required=True, help="output point-label JSON (written atomically)")
    parser.add_argument("--seed", type=int, default=0, help="base seed (default: 0)")
    parser.add_argument("--interior-fraction", type=float, default=0.5,
                        help="candidates: pixels at least this fraction of the segment's largest distance to its "
                             "border inside it (default: 0.5)")
    parser.add_argument("--skip-bad", action="store_true", help="write the output without the bad annotations")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not 0.0 <= args.interior_fraction <= 1.0:
        print(f"make_point_labels.py: --interior-fraction must be in [0, 1], got {args.interior_fraction}",
              file=sys.stderr)
        return 2
    bad: list[tuple[str, Exception]] = []
    try:
        labels = derive_point_label_set(args.panoptic_json, args.panoptic_dir, seed=args.seed,
                                        interior_fraction=args.interior_fraction, progress=not args.quiet,
                                        on_error=lambda name, exc: bad.append((name, exc)))
    except PointLabelError as exc:
        print(f"make_point_labels.py: {exc}", file=sys.stderr)
        return 1
    for name, exc in bad:
        print(f"make_point_labels.py: skipped {name}: {exc}", file=sys.stderr)
    if bad and not args.skip_bad:
        print(f"make_point_labels.py: {len(bad)} bad annotation(s); nothing written (use --skip-bad to write the "
              f"others)", file=sys.stderr)
        return 1
    save_point_labels(args.out, labels)
    n_points = sum(len(im.points) for im in labels.images)
    print(f"wrote {args.out}: {len(labels.images)} images, {n_points} points (seed {args.seed})"
          + (f", {len(bad)} bad annotation(s) left out" if bad else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
