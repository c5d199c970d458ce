"""Training/testing glue around mmengine's Runner."""
from .ddp import DeviceAwareDDP, init_distributed

__all__ = ["DeviceAwareDDP", "init_distributed"]
