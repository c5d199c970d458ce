"""Build a model from a config file and load its weights: the one way inference code gets a model."""
from __future__ import annotations

import importlib
import os
from typing import Optional, Union

import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import load_checkpoint

from perception.registry import MODELS

__all__ = ["load_model"]


def load_model(config: Union[str, Config], checkpoint: Optional[str], *, device: Union[str, torch.device] = "cpu",
               seed: Optional[int] = None) -> tuple[torch.nn.Module, Config]:
    """``(model in eval mode on device, its config)``.

    Args:
        config: config path or a loaded :class:`mmengine.Config`; its ``custom_imports`` are imported.
        checkpoint: an mmengine checkpoint or a published ``{"state_dict", "meta"}`` file (trusted local files
            only: mmengine's own checkpoints need the full unpickler, which ``import perception.engine`` registers
            with mmengine); ``None`` keeps the initialisation
            (``init_weights()``), for tests and benchmarks.
        seed: ``torch.manual_seed`` before building, so a random initialisation is reproducible.

    Raises ``FileNotFoundError`` naming a missing checkpoint, and ``RuntimeError`` (from the state-dict load,
    strict) naming missing or unexpected keys when the checkpoint belongs to another model.
    """
    cfg = Config.fromfile(config) if isinstance(config, (str, os.PathLike)) else config
    if "model" not in cfg:
        raise KeyError(f"config {getattr(cfg, 'filename', '') or '<in memory>'} has no 'model'")
    for module in cfg.get("custom_imports", {}).get("imports", []):
        importlib.import_module(module)
    init_default_scope(cfg.get("default_scope", "perception"))
    if seed is not None:
        torch.manual_seed(seed)
    model = MODELS.build(cfg.model)
    if checkpoint is not None:
        if not os.path.isfile(checkpoint):
            raise FileNotFoundError(f"checkpoint not found: {checkpoint}")
        load_checkpoint(model, checkpoint, map_location="cpu", strict=True, logger="silent")
    else:
        model.init_weights()
    return model.to(device).eval(), cfg
