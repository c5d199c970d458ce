"""Turn command-line arguments into an mmengine ``Config`` for the Runner."""
from __future__ import annotations

import os
import os.path as osp
from typing import Optional

from mmengine.config import Config, DictAction

__all__ = ["DictAction", "load_config", "override_data_root"]


def override_data_root(cfg: Config, data_root: str) -> int:
    """Point every ``data_root`` of the train/val/test dataloaders (datasets and
    their pipeline steps, e.g. ground-truth sampling) at ``data_root``.

    Python configs resolve ``data_root`` when they are read, so changing the
    top-level variable afterwards would not reach the datasets; this walks them.

    Returns:
        how many entries were changed.
    """
    changed = 0

    def visit(node) -> None:
        nonlocal changed
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "data_root" and isinstance(value, str):
                    node[key] = data_root
                    changed += 1
                else:
                    visit(value)
        elif isinstance(node, (list, tuple)):
            for item in node:
                visit(item)

    for name in ("train_dataloader", "val_dataloader", "test_dataloader"):
        if cfg.get(name) is not None:
            visit(cfg[name])
    cfg.data_root = data_root
    return changed


def load_config(config: str, *, work_dir: Optional[str], cfg_options: Optional[dict], launcher: str,
                data_root: Optional[str] = None, dist_backend: str = "none") -> Config:
    """Load ``config``, apply ``--cfg-options`` and pick the work dir.

    ``data_root`` replaces every dataloader's data root (:func:`override_data_root`).
    ``dist_backend`` is :func:`perception.engine.init_distributed`'s answer: for ``'gloo'`` the Runner is told
    to use it (mmengine would start NCCL).
    The work dir is, in order: ``--work-dir``, the config's ``work_dir``,
    ``./work_dirs/<config name>``.
    """
    if not osp.isfile(config):
        raise FileNotFoundError(f"config file not found: {config}")
    cfg = Config.fromfile(config)
    if data_root is not None:
        if not osp.isdir(data_root):
            raise FileNotFoundError(f"--data-root {data_root} is not a directory")
        override_data_root(cfg, data_root)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    cfg.launcher = launcher
    if dist_backend == "gloo":
        cfg.setdefault("env_cfg", {}).setdefault("dist_cfg", {})["backend"] = "gloo"
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get("work_dir") is None:
        cfg.work_dir = osp.join("./work_dirs", osp.splitext(osp.basename(config))[0])
    os.makedirs(cfg.work_dir, exist_ok=True)
    return cfg
