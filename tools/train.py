"""Train a model from a config with mmengine's Runner.

Examples::

    python tools/train.py configs/centerpoint_pillar/centerpoint_pillar_sim.py
    python tools/train.py CONFIG --work-dir work_dirs/run1 --cfg-options train_cfg.max_iters=100
    python tools/train.py CONFIG --resume                    # latest checkpoint in the work dir
    torchrun --nproc_per_node 2 tools/train.py CONFIG --launcher pytorch   # DDP (NCCL on GPU, gloo on CPU)
"""
from __future__ import annotations

import argparse

from mmengine.runner import Runner

from perception.engine import distributed_session
from perception.engine.runner_setup import DictAction, load_config


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("config", help="config file (see configs/)")
    parser.add_argument("--work-dir", help="where logs and checkpoints go")
    parser.add_argument("--resume", nargs="?", const="auto", default=None, metavar="CHECKPOINT",
                        help="resume from CHECKPOINT, or from the latest one in the work dir if none is given")
    parser.add_argument("--cfg-options", nargs="+", action=DictAction, metavar="KEY=VALUE",
                        help="override config entries, e.g. train_cfg.max_iters=10 optim_wrapper.optimizer.lr=1e-3")
    parser.add_argument("--data-root", help="use this dataset root in every dataloader (e.g. data/sim)")
    parser.add_argument("--launcher", choices=["none", "pytorch"], default="none",
                        help="'pytorch' for torchrun/DDP (one process per GPU, or per CPU worker with gloo)")
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    with distributed_session(args.launcher) as backend:
        cfg = load_config(args.config, work_dir=args.work_dir, cfg_options=args.cfg_options, launcher=args.launcher,
                          data_root=args.data_root, dist_backend=backend)
        if args.resume == "auto":
            cfg.resume, cfg.load_from = True, None
        elif args.resume is not None:
            cfg.resume, cfg.load_from = True, args.resume
        runner = Runner.from_cfg(cfg)
        runner.train()


if __name__ == "__main__":
    main()
