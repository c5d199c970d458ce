"""``AlignPanopticToImage``: apply the image's resize and horizontal flip to panoptic maps and point labels."""
from __future__ import annotations

import numpy as np
from mmcv.transforms import BaseTransform

from perception.registry import TRANSFORMS

__all__ = ["AlignPanopticToImage", "resize_nearest"]


def resize_nearest(ids: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Nearest-neighbour resize of an integer ``(H, W)`` map to ``shape`` (any dtype): output pixel ``(y, x)``
    takes input pixel ``(floor((y + 0.5) H / h), floor((x + 0.5) W / w))``."""
    H, W = ids.shape
    h, w = int(shape[0]), int(shape[1])
    if (h, w) == (H, W):
        return ids
    ys = np.minimum(((np.arange(h) + 0.5) * H / h).astype(np.int64), H - 1)
    xs = np.minimum(((np.arange(w) + 0.5) * W / w).astype(np.int64), W - 1)
    return ids[ys][:, xs]


@TRANSFORMS.register_module()
class AlignPanopticToImage(BaseTransform):
    """Bring ``gt_panoptic_ids`` and the point labels to the current image after mmdet's ``Resize`` /
    ``RandomFlip`` (which move only the image and boxes).

    Reads ``img_shape`` (current ``(h, w)``), ``flip`` / ``flip_direction`` (``"horizontal"`` only) and, when
    present, ``gt_panoptic_ids`` (nearest-neighbour resize, :func:`resize_nearest`) and ``gt_point_coords`` with
    ``gt_point_image_size`` (pixel ``x`` of a ``W``-wide image goes to ``floor((x + 0.5) w / W)``, the resized
    pixel covering it); writes them back in the current image's pixels.
    """

    def transform(self, results: dict) -> dict:
        h, w = (int(v) for v in results["img_shape"][:2])
        flip = bool(results.get("flip", False))
        if flip and results.get("flip_direction", "horizontal") != "horizontal":
            raise ValueError(f"AlignPanopticToImage supports horizontal flips only, got "
                             f"{results.get('flip_direction')!r}")
        if "gt_panoptic_ids" in results:
            ids = resize_nearest(np.asarray(results["gt_panoptic_ids"]), (h, w))
            results["gt_panoptic_ids"] = np.ascontiguousarray(ids[:, ::-1] if flip else ids)
        if "gt_point_coords" in results:
            if "gt_point_image_size" not in results:
                raise KeyError("AlignPanopticToImage: gt_point_coords without gt_point_image_size (use "
                               "LoadPointLabels)")
            W, H = results["gt_point_image_size"]
            xy = np.asarray(results["gt_point_coords"], np.int64).reshape(-1, 2)
            x = np.minimum(((xy[:, 0] + 0.5) * w / W).astype(np.int64), w - 1)
            y = np.minimum(((xy[:, 1] + 0.5) * h / H).astype(np.int64), h - 1)
            if flip:
                x = w - 1 - x
            results["gt_point_coords"] = np.stack([x, y], 1)
            results["gt_point_image_size"] = (w, h)
        return results
