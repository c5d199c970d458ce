"""perception: a multi-source perception stack for autonomous driving.

Importing the package is cheap: it loads no model code.  Subpackages:

* :mod:`perception.structures` typed boxes, calibration and frames (torch only),
* :mod:`perception.ops`        compiled sparse ops with PyTorch references (torch only),
* :mod:`perception.datasets`   KITTI-format data, transforms, the driving simulator,
* :mod:`perception.models`     detectors and heads (mmengine/mmdet),
* :mod:`perception.evaluation` KITTI / nuScenes / COCO / panoptic metrics.
"""
from .version import __version__

__all__ = ["__version__"]
