"""Draw a panoptic prediction over its camera image (the demo's and the docs' picture)."""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from perception.visualization import panoptic_overlay

from perception.structures.panoptic_result import PanopticResult

__all__ = ["draw_panoptic_result"]


def draw_panoptic_result(image: np.ndarray, result: PanopticResult, categories: Optional[Sequence] = None, *,
                         alpha: float = 0.55, boundaries: bool = True) -> np.ndarray:
    """``(H, W, 3)`` uint8 RGB image + a :class:`PanopticResult` of the same size -> a new image with stuff in
    its category colour, each thing instance in a shade of its category colour and white segment boundaries
    (:func:`perception.visualization.panoptic_overlay`; ``categories`` default: the simulator's)."""
    if result.ids.shape != np.asarray(image).shape[:2]:
        raise ValueError(f"prediction {result.ids.shape} and image {np.asarray(image).shape[:2]} differ in size")
    return panoptic_overlay(image, result.ids, categories, segments_info=result.segments_info(), alpha=alpha,
                            boundaries=boundaries)
