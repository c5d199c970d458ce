"""Create the info files (and optionally the ground-truth database) of a dataset.

Examples::

    python tools/create_data.py kitti --root data/kitti                       # train + val infos
    python tools/create_data.py kitti --root data/sim --gt-database           # + kitti_gt_database/
    python tools/create_data.py kitti --root data/kitti --splits train val test
    python tools/create_data.py nuscenes --root data/nuscenes --version v1.0-trainval    # train + val infos
    python tools/create_data.py nuscenes --root data/sim_nuscenes --version v1.0-mini    # splits.json's splits

One subcommand per dataset format; the library code is in :mod:`perception.datasets.create_data` and
:mod:`perception.datasets.gt_database` (KITTI) and :mod:`perception.datasets.nuscenes_infos` (nuScenes).
A bad or missing file stops the run with an error naming the file (and line); no info file is written unless
every split was read.
"""
from __future__ import annotations

import argparse
import sys

from perception.datasets.create_data import create_kitti_infos, info_path
from perception.datasets.gt_database import DEFAULT_DB_CLASSES, create_gt_database


def _kitti(args: argparse.Namespace) -> None:
    infos = create_kitti_infos(args.root, args.splits, num_point_features=args.num_point_features,
                               progress=not args.no_progress)
    if args.gt_database:
        # built from the train infos of this run, or from the existing info file
        create_gt_database(args.root, infos.get("train"), split="train", classes=args.db_classes,
                           min_points=args.db_min_points, progress=not args.no_progress)


def _nuscenes(args: argparse.Namespace) -> None:
    from perception.datasets.nuscenes_infos import create_nuscenes_infos

    try:
        create_nuscenes_infos(args.root, args.version, args.splits, max_sweeps=args.max_sweeps,
                              progress=not args.no_progress)
    except (FileNotFoundError, ValueError) as exc:  # NuScenesFormatError is a ValueError; messages name the file
        raise SystemExit(f"create_data.py nuscenes: {exc}") from exc


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="dataset", required=True, metavar="DATASET")
    kitti = sub.add_parser("kitti", help="KITTI-format data (real KITTI or the simulator's output)",
                           description="Write <root>/kitti_infos_<split>.pkl for each split listed in "
                                       "<root>/ImageSets/, and with --gt-database <root>/kitti_gt_database/ "
                                       "and <root>/kitti_dbinfos_train.pkl.")
    kitti.add_argument("--root", required=True, help="dataset root holding training/ (testing/) and ImageSets/")
    kitti.add_argument("--splits", nargs="+", default=["train", "val"],
                       help="image sets to convert (ImageSets/<split>.txt); default: train val")
    kitti.add_argument("--gt-database", action="store_true",
                       help=f"also build the ground-truth database from the train split (needs "
                            f"{info_path('<root>', 'train')} or 'train' in --splits)")
    kitti.add_argument("--db-classes", nargs="+", default=list(DEFAULT_DB_CLASSES),
                       help="object types stored in the GT database; default: %(default)s")
    kitti.add_argument("--db-min-points", type=int, default=1,
                       help="objects with fewer LiDAR points are not stored; default: %(default)s")
    kitti.add_argument("--num-point-features", type=int, default=4,
                       help="float32 values per velodyne record; default: %(default)s")
    kitti.add_argument("--no-progress", action="store_true", help="no progress bar")
    kitti.set_defaults(func=_kitti)
    nusc = sub.add_parser("nuscenes", help="a nuScenes database (real nuScenes or the simulator's export)",
                          description="Load <root>/<version> with the nuscenes-devkit and write "
                                      "<root>/nuscenes_infos_<split>.pkl for each split.")
    nusc.add_argument("--root", required=True, help="dataset root holding <version>/, samples/, sweeps/, maps/")
    nusc.add_argument("--version", required=True, help="table version, e.g. v1.0-mini, v1.0-trainval, v1.0-test")
    nusc.add_argument("--splits", nargs="+", default=None,
                      help="devkit splits to convert (predefined, e.g. train val / mini_train mini_val, or custom "
                           "ones of <root>/<version>/splits.json); default: the custom splits when that file "
                           "exists, else the version's predefined ones")
    nusc.add_argument("--max-sweeps", type=int, default=10,
                      help="previous LiDAR sweeps recorded per sample; default: %(default)s")
    nusc.add_argument("--no-progress", action="store_true", help="no progress bar")
    nusc.set_defaults(func=_nuscenes)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    args.func(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
