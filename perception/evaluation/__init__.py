"""Evaluation metrics.

* :mod:`perception.evaluation.kitti` -- KITTI object detection (2D / BEV / 3D AP and AOS), numerically the
  official devkit's, as a library function, the ``KittiMetric`` mmengine metric and ``tools/eval_kitti.py``;
* :mod:`perception.evaluation.kitti_2d`, :mod:`perception.evaluation.coco_2d` -- 2D detection metrics
  (KITTI 2D AP, COCO AP through pycocotools);
* :mod:`perception.evaluation.panoptic_quality` -- PQ / SQ / RQ;
* :mod:`perception.evaluation.nuscenes` -- the nuScenes detection metric through nuscenes-devkit.

Importing this package registers the mmengine metrics in ``perception.registry.METRICS``.
"""
from .coco_2d import Coco2DMetric
from .kitti.metric import KittiMetric
from .kitti_2d import Kitti2DMetric
from .nuscenes.metric import NuScenesMetric
from .panoptic_quality import PanopticQualityMetric

__all__ = ["Coco2DMetric", "Kitti2DMetric", "KittiMetric", "NuScenesMetric", "PanopticQualityMetric"]
