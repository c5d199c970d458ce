"""Loading mmengine checkpoints with torch >= 2.6.

Since torch 2.6, ``torch.load`` defaults to ``weights_only=True``, which only
rebuilds tensors and plain containers.  mmengine 0.10 (its last release) was
written for the old default: every checkpoint it saves holds the Runner's
message hub, whose ``HistoryBuffer`` objects pickle NumPy arrays and bound
methods (``getattr(HistoryBuffer, 'min')``), so ``--resume``, ``load_from`` and
``tools/test.py`` fail with "Unsupported global".  Allow-listing ``getattr``
would make the safe unpickler unsafe anyway, so
:func:`use_full_unpickler_for_local_checkpoints` restores mmengine's intended
behaviour for *local* checkpoint files: ``torch.load(..., weights_only=False)``.
As with any pickle, load only checkpoints you trust (your own training runs).
"""
from __future__ import annotations

import os.path as osp

import torch
from mmengine.runner.checkpoint import CheckpointLoader

__all__ = ["load_from_local", "use_full_unpickler_for_local_checkpoints"]


def load_from_local(filename: str, map_location=None):
    """mmengine's local-file loader with ``weights_only=False`` (see the module docstring).

    Named like mmengine's own: its log line "Loads checkpoint by <name[10:]> backend" reads "local".
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f"checkpoint {filename} not found")
    return torch.load(filename, map_location=map_location, weights_only=False)


def use_full_unpickler_for_local_checkpoints() -> None:
    """Register :func:`load_from_local` as mmengine's loader for local paths (idempotent)."""
    CheckpointLoader.register_scheme(prefixes="", loader=load_from_local, force=True)
