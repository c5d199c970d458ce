"""The one check of the stack's image type: ``(H, W, 3)`` uint8 RGB numpy arrays."""
from __future__ import annotations

import numpy as np

__all__ = ["check_rgb_image"]


def check_rgb_image(image, what: str = "image") -> np.ndarray:
    """``image`` as a numpy array when it is ``(H, W, 3)`` uint8 RGB; otherwise a ``ValueError`` that starts
    with ``what`` (e.g. ``"Frame 000042"``, ``"image 3"``) and says what was found."""
    array = np.asarray(image)
    if array.ndim != 3 or array.shape[2] != 3 or array.dtype != np.uint8:
        raise ValueError(f"{what}: expected an (H, W, 3) uint8 RGB array, got shape {array.shape} {array.dtype}")
    return array
