"""A :class:`LateFusion` from a fusion config (``configs/fusion/``): the one place that reads those configs.

A fusion config names the single-sensor models (``lidar``, ``camera``, optional ``panoptic``: each a dict of
``name``, ``config``, ``checkpoint``), the ``fusion`` arguments of :class:`LateFusion`, the ``scorer`` (a registered
type: ``RuleScorer`` or ``ClocsFuser``) and ``scorer_checkpoint`` for a learned scorer.  Relative paths are taken
from the current directory first, then from the repository root.
"""
from __future__ import annotations

import os
from typing import Optional, Union

from mmengine.config import Config

from .late_fusion import LateFusion

__all__ = ["load_fusion_config", "build_late_fusion", "resolve_path", "FROM_CONFIG"]

#: ``scorer_checkpoint`` default: take the config's ``scorer_checkpoint``.
FROM_CONFIG = "from-config"

_REQUIRED = ("class_names", "lidar", "camera", "fusion", "scorer")


def resolve_path(path: Optional[str]) -> Optional[str]:
    """``path`` as given when it exists, else relative to the repository root (``None`` stays ``None``)."""
    from perception.apis.model_zoo import repo_path

    if path is None or os.path.isabs(path) or os.path.exists(path):
        return path
    return repo_path(path)


def load_fusion_config(config: Union[str, Config]) -> Config:
    """Load and check a fusion config; a ``KeyError`` names the file and the missing keys."""
    cfg = Config.fromfile(resolve_path(config)) if isinstance(config, str) else config
    missing = [k for k in _REQUIRED if k not in cfg]
    if missing:
        raise KeyError(f"fusion config {getattr(cfg, 'filename', '') or '<in memory>'} lacks {missing} "
                       f"(needs {list(_REQUIRED)}; see configs/fusion/)")
    for part in ("lidar", "camera") + (("panoptic",) if cfg.get("panoptic") else ()):
        for key in ("name", "config", "checkpoint"):
            if key not in cfg[part]:
                raise KeyError(f"fusion config {getattr(cfg, 'filename', '')}: {part} lacks '{key}'")
    return cfg


def build_late_fusion(config: Union[str, Config], *, scorer_checkpoint: Optional[str] = FROM_CONFIG,
                      device: str = "cpu") -> LateFusion:
    """The config's :class:`LateFusion`; a learned scorer's weights come from ``scorer_checkpoint`` (the config's
    ``scorer_checkpoint`` by default, ``None`` for an untrained one)."""
    import torch

    from perception.engine import load_model
    from perception.registry import MODELS

    cfg = load_fusion_config(config)
    scorer_cfg = dict(cfg.scorer)
    if scorer_checkpoint == FROM_CONFIG:
        scorer_checkpoint = cfg.get("scorer_checkpoint")
    scorer = MODELS.build(dict(scorer_cfg))
    if isinstance(scorer, torch.nn.Module):
        scorer, _ = load_model(Config(dict(model=scorer_cfg, default_scope="perception")),
                               resolve_path(scorer_checkpoint), device=device)
    elif scorer_checkpoint is not None:
        raise ValueError(f"scorer {scorer_cfg['type']} has no weights, but scorer_checkpoint={scorer_checkpoint!r}")
    return LateFusion(scorer=scorer, class_names=cfg.class_names, **cfg.fusion)
