"""Evaluation metrics.

* :mod:`perception.evaluation.kitti` -- KITTI object detection (2D / BEV / 3D AP and AOS), numerically the
  official devkit's, as a library function, the ``KittiMetric`` mmengine metric and ``tools/eval_kitti.py``.

Importing this package registers the mmengine metrics in ``perception.registry.METRICS`` (when mmengine is
installed; the library functions do not need it).
"""
try:
    import mmengine  # noqa: F401
except ImportError:  # the library functions and the CLI work without mmengine
    pass
else:
    from .kitti.metric import KittiMetric  # noqa: F401  (registers the metric)
