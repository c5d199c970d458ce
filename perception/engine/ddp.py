"""Distributed training that also works on CPU-only machines (gloo)."""
from __future__ import annotations

import contextlib
import os
from typing import Iterator, Optional

import torch
import torch.distributed as dist
from mmengine.model import MMDistributedDataParallel

from perception.registry import MODEL_WRAPPERS

__all__ = ["DeviceAwareDDP", "distributed_session", "init_distributed", "shutdown_distributed"]


@MODEL_WRAPPERS.register_module()
class DeviceAwareDDP(MMDistributedDataParallel):
    """``MMDistributedDataParallel`` that drops ``device_ids`` for a CPU module.

    mmengine's Runner always passes ``device_ids=[LOCAL_RANK]``, which PyTorch
    rejects for modules on the CPU; on GPU this behaves exactly like the parent.
    """

    def __init__(self, module: torch.nn.Module, device_ids: Optional[list[int]] = None, **kwargs):
        first = next(module.parameters(), None)
        if first is not None and first.device.type == "cpu":
            device_ids = None
        super().__init__(module=module, device_ids=device_ids, **kwargs)


def init_distributed(launcher: str) -> str:
    """Initialise the process group for ``launcher`` when the Runner cannot.

    mmengine's ``init_dist('pytorch')`` calls ``torch.cuda.set_device``, which a
    CPU build of torch does not have.  On a machine without CUDA this starts a
    gloo process group from torchrun's environment instead; with CUDA it does
    nothing (the Runner starts NCCL itself).

    Returns:
        the backend that will be used: ``'none'``, ``'gloo'`` or ``'nccl'``.
    """
    if launcher == "none":
        return "none"
    if torch.cuda.is_available():
        return "nccl"
    if launcher != "pytorch":
        raise ValueError(f"on a CPU-only machine only --launcher pytorch (torchrun) is supported, got {launcher!r}")
    missing = [k for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT") if k not in os.environ]
    if missing:
        raise RuntimeError(f"--launcher pytorch needs torchrun's environment; missing {', '.join(missing)}. "
                           "Start with: torchrun --nproc_per_node N tools/train.py CONFIG --launcher pytorch")
    if not dist.is_initialized():
        dist.init_process_group(backend="gloo")
    return "gloo"


def shutdown_distributed(*, wait_for_peers: bool = True) -> None:
    """Destroy the process group (gloo or NCCL) while the interpreter is still fully alive.

    A process that exits with its group still alive leaves gloo's worker threads
    holding finished work (and the tensors in it) for interpreter finalisation,
    which can abort the process with SIGABRT after a successful run.  Call this
    at the end of every ``--launcher pytorch`` entry point.

    Args:
        wait_for_peers: meet every rank at a barrier first, so no rank tears its
            connections down while another still talks to it (e.g. rank 0 saving
            the last checkpoint).  Pass ``False`` on an error path, where a peer
            may be gone and a barrier would only wait for the timeout.
    """
    if not dist.is_available() or not dist.is_initialized():
        return
    if wait_for_peers:
        dist.barrier()
    dist.destroy_process_group()


@contextlib.contextmanager
def distributed_session(launcher: str) -> Iterator[str]:
    """``with distributed_session(args.launcher) as backend:`` around a tool's work.

    Starts the process group like :func:`init_distributed` (yielding its
    backend) and always destroys it on the way out: after a barrier when the
    work finished, at once when it raised.
    """
    backend = init_distributed(launcher)
    try:
        yield backend
    except BaseException:
        shutdown_distributed(wait_for_peers=False)
        raise
    shutdown_distributed()
