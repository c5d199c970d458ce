"""Evaluate a checkpoint on a config's test set with mmengine's Runner.

Examples::

    python tools/test.py CONFIG CHECKPOINT
    python tools/test.py CONFIG CHECKPOINT --work-dir work_dirs/eval --cfg-options test_dataloader.batch_size=2
    torchrun --nproc_per_node 2 tools/test.py CONFIG CHECKPOINT --launcher pytorch
    python tools/test.py CONFIG random             # the untrained (randomly initialised) model: a baseline row
"""
from __future__ import annotations

import argparse
import os.path as osp

from mmengine.runner import Runner

from perception.engine import distributed_session
from perception.engine.runner_setup import DictAction, load_config


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("config", help="config file (see configs/)")
    parser.add_argument("checkpoint", help="checkpoint file (.pth), or 'random' for the untrained model")
    parser.add_argument("--work-dir", help="where logs and metrics go")
    parser.add_argument("--cfg-options", nargs="+", action=DictAction, metavar="KEY=VALUE",
                        help="override config entries")
    parser.add_argument("--data-root", help="use this dataset root in every dataloader (e.g. data/sim)")
    parser.add_argument("--launcher", choices=["none", "pytorch"], default="none")
    return parser.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    random_init = args.checkpoint == "random"
    if not random_init and not osp.isfile(args.checkpoint):
        raise FileNotFoundError(f"checkpoint file not found: {args.checkpoint}")
    with distributed_session(args.launcher) as backend:
        cfg = load_config(args.config, work_dir=args.work_dir, cfg_options=args.cfg_options, launcher=args.launcher,
                          data_root=args.data_root, dist_backend=backend)
        cfg.load_from = None if random_init else args.checkpoint
        runner = Runner.from_cfg(cfg)
        if random_init:
            runner.logger.info("evaluating the randomly initialised model (checkpoint 'random')")
            if hasattr(runner.model, "init_weights"):
                runner.model.init_weights()
        return runner.test()


if __name__ == "__main__":
    main()
