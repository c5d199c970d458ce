"""``PointShuffle``: random order of the points."""
from __future__ import annotations

import numpy as np
import torch
from mmcv.transforms import BaseTransform

from perception.registry import TRANSFORMS

from ._common import get_points

__all__ = ["PointShuffle"]


@TRANSFORMS.register_module()
class PointShuffle(BaseTransform):
    """Permute the rows of ``points`` (numpy's global RNG, which mmengine seeds per worker).

    Reads and writes ``points``.
    """

    def transform(self, results: dict) -> dict:
        points = get_points(results, self)
        perm = torch.from_numpy(np.random.permutation(points.shape[0]))
        results["points"] = points[perm]
        return results

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"
