"""Registries of the ``perception`` scope: the config boundary, nothing more.

Each is a child of mmdet's registry of the same kind (itself a child of
mmengine's), so configs with ``default_scope = 'perception'`` can name our
classes and anything mmdet/mmengine provides (``type='mmdet.ResNet'`` or plain
``'ResNet'``).  ``locations`` are imported lazily the first time a registry is
searched, so importing this module is cheap.
"""
from mmdet.registry import DATA_SAMPLERS as MMDET_DATA_SAMPLERS
from mmdet.registry import DATASETS as MMDET_DATASETS
from mmdet.registry import HOOKS as MMDET_HOOKS
from mmdet.registry import METRICS as MMDET_METRICS
from mmdet.registry import MODEL_WRAPPERS as MMDET_MODEL_WRAPPERS
from mmdet.registry import MODELS as MMDET_MODELS
from mmdet.registry import TASK_UTILS as MMDET_TASK_UTILS
from mmdet.registry import TRANSFORMS as MMDET_TRANSFORMS
from mmdet.registry import VISUALIZERS as MMDET_VISUALIZERS
from mmengine.registry import Registry

__all__ = ["DATASETS", "DATA_SAMPLERS", "HOOKS", "METRICS", "MODELS", "MODEL_WRAPPERS", "TASK_UTILS", "TRANSFORMS",
           "VISUALIZERS"]

MODELS = Registry("model", parent=MMDET_MODELS, scope="perception", locations=["perception.models", "perception.fusion"])
DATASETS = Registry("dataset", parent=MMDET_DATASETS, scope="perception", locations=["perception.datasets"])
DATA_SAMPLERS = Registry("data sampler", parent=MMDET_DATA_SAMPLERS, scope="perception",
                         locations=["perception.datasets"])
TRANSFORMS = Registry("transform", parent=MMDET_TRANSFORMS, scope="perception",
                      locations=["perception.datasets.transforms"])
METRICS = Registry("metric", parent=MMDET_METRICS, scope="perception", locations=["perception.evaluation"])
TASK_UTILS = Registry("task util", parent=MMDET_TASK_UTILS, scope="perception", locations=["perception.models"])
HOOKS = Registry("hook", parent=MMDET_HOOKS, scope="perception", locations=["perception.engine"])
VISUALIZERS = Registry("visualizer", parent=MMDET_VISUALIZERS, scope="perception",
                       locations=["perception.visualization"])
MODEL_WRAPPERS = Registry("model_wrapper", parent=MMDET_MODEL_WRAPPERS, scope="perception",
                          locations=["perception.engine"])
