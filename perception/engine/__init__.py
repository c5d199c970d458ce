"""Training/testing glue around mmengine's Runner.

Importing it makes mmengine read its own local checkpoints under torch >= 2.6
(:func:`use_full_unpickler_for_local_checkpoints`).
"""
from .checkpoints import load_from_local, use_full_unpickler_for_local_checkpoints
from .ddp import DeviceAwareDDP, distributed_session, init_distributed, shutdown_distributed
from .model_loading import load_model

use_full_unpickler_for_local_checkpoints()

__all__ = ["DeviceAwareDDP", "distributed_session", "init_distributed", "load_from_local", "load_model", "shutdown_distributed",
           "use_full_unpickler_for_local_checkpoints"]
