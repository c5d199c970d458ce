"""The geometric rule-based fuser: no training, scores from the association alone."""
from __future__ import annotations

from typing import Mapping, Sequence

import torch

from perception.registry import MODELS

from .late_fusion import FusionInputs, PerClass, per_class

__all__ = ["RuleScorer"]


@MODELS.register_module()
class RuleScorer:
    """Fused score of each LiDAR detection.

    * matched to a 2D detection of the same class: ``s_lidar + boost * s_camera * (1 - s_lidar)`` (with
      ``boost = 1`` the noisy-OR ``1 - (1 - s_lidar)(1 - s_camera)``: both sensors agree, as if they erred
      independently);
    * in the image but unmatched: ``s_lidar * miss_factor`` (the camera should have seen it; occlusion is why
      the factor is not 0);
    * outside the image: ``s_lidar`` (no evidence either way).

    Args:
        boost: in ``[0, 1]``, for every class or per class (``{"Car": 0.5, ...}``).
        miss_factor: in ``[0, 1]``, likewise.
    """

    def __init__(self, *, boost: PerClass = 1.0, miss_factor: PerClass = 0.7):
        for name, value in (("boost", boost), ("miss_factor", miss_factor)):
            values = value.values() if isinstance(value, Mapping) else [value]
            if not all(0.0 <= float(v) <= 1.0 for v in values):
                raise ValueError(f"RuleScorer.{name} must be in [0, 1], got {value}")
        self.boost, self.miss_factor = boost, miss_factor

    def _per_object(self, value: PerClass, names: Sequence[str], what: str) -> torch.Tensor:
        table = per_class(value, sorted(set(names)), f"RuleScorer.{what}")
        return torch.tensor([float(table[n]) for n in names])

    def score(self, inputs: FusionInputs) -> torch.Tensor:
        s3d = inputs.lidar.scores.float()
        partner = inputs.association.partner_of_a(len(s3d))
        matched = partner >= 0
        s2d = torch.zeros_like(s3d)
        s2d[matched] = inputs.camera.scores.float()[partner[matched]]
        names = inputs.lidar.names
        fused = s3d + self._per_object(self.boost, names, "boost") * s2d * (1.0 - s3d)
        missed = inputs.projected.in_image & ~matched
        miss = self._per_object(self.miss_factor, names, "miss_factor")
        return torch.where(matched, fused, torch.where(missed, s3d * miss, s3d))
