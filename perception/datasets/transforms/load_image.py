"""``LoadImageFromFileRGB``: the camera-2 image of a frame."""
from __future__ import annotations

from mmcv.transforms import BaseTransform

from perception.datasets import kitti_io
from perception.registry import TRANSFORMS

__all__ = ["LoadImageFromFileRGB"]


@TRANSFORMS.register_module()
class LoadImageFromFileRGB(BaseTransform):
    """Read ``results['img_path']`` with :func:`kitti_io.read_image`.

    Reads ``img_path`` (and ``img_shape`` if present); writes ``img`` (``np.ndarray (H, W, 3)`` uint8,
    **RGB** order, unlike mmcv's BGR ``LoadImageFromFile``), ``img_shape`` and ``ori_shape`` ``(H, W)``.
    A missing or unreadable file raises ``KittiFormatError`` naming it.

    Args:
        check_shape: raise ``ValueError`` when the image size differs from the ``img_shape`` recorded in
            the info file (the calibration and 2D labels refer to that size).
    """

    def __init__(self, check_shape: bool = True):
        self.check_shape = bool(check_shape)

    def transform(self, results: dict) -> dict:
        img = kitti_io.read_image(results["img_path"])
        shape = (int(img.shape[0]), int(img.shape[1]))
        expected = results.get("img_shape")
        if self.check_shape and expected is not None and tuple(expected)[:2] != shape:
            raise ValueError(f"{results['img_path']}: image is {shape[0]}x{shape[1]} (h x w), the info file "
                             f"says {tuple(expected)[0]}x{tuple(expected)[1]}; re-create the info files")
        results["img"] = img
        results["img_shape"] = shape
        results["ori_shape"] = shape
        return results

    def __repr__(self) -> str:
        return f"{type(self).__name__}(check_shape={self.check_shape})"
