"""``LoadPointLabels``: the point labels of a frame from a point-label JSON file."""
from __future__ import annotations

import os
from typing import Optional

from mmcv.transforms import BaseTransform

from perception.datasets.point_labels import PointLabelError, PointLabelSet, load_point_labels
from perception.registry import TRANSFORMS

__all__ = ["LoadPointLabels"]

_CACHE: dict[tuple, PointLabelSet] = {}


def _cached_point_labels(path: str) -> PointLabelSet:
    """Parse each file once per process (keyed by path, size and modification time)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise PointLabelError(f"{path}: point-label file not found") from None
    key = (os.path.abspath(path), st.st_size, st.st_mtime_ns)
    if key not in _CACHE:
        _CACHE.clear()  # one file at a time is what a dataset uses; keep memory bounded
        _CACHE[key] = load_point_labels(path)
    return _CACHE[key]


@TRANSFORMS.register_module()
class LoadPointLabels(BaseTransform):
    """Look up the frame's image (by the file name of ``img_path``) in a point-label file.

    Reads ``img_path``; writes (original image pixels)::

        gt_point_coords        (K, 2) int64 [x, y] pixel column / row
        gt_point_category_ids  (K,) int64 COCO category ids
        gt_point_segment_ids   (K,) int64
        gt_point_isthing       (K,) bool
        gt_point_image_size    (w, h) of the labelled image

    Args:
        ann_file: the point-label JSON.  Default: ``point_labels.json`` in the parent of the image directory
            (the simulator's / KITTI layout: ``training/image_2/000042.png`` -> ``training/point_labels.json``),
            so that it follows the dataset's ``data_root``.
    """

    def __init__(self, ann_file: Optional[str] = None):
        self.ann_file = ann_file

    def _path(self, img_path: str) -> str:
        if self.ann_file is not None:
            return self.ann_file
        return os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(img_path))), "point_labels.json")

    def transform(self, results: dict) -> dict:
        if "img_path" not in results:
            raise KeyError("LoadPointLabels needs results['img_path']")
        labels = _cached_point_labels(self._path(results["img_path"]))
        image = labels.get(os.path.basename(results["img_path"]))
        if "img" in results:
            h, w = results["img"].shape[:2]
            if (image.width, image.height) != (w, h):
                raise PointLabelError(f"{labels.path}: image {image.file_name!r} is labelled as {image.width}x"
                                      f"{image.height} but {results['img_path']} is {w}x{h}")
        arrays = image.arrays()
        results["gt_point_coords"] = arrays["coords"]
        results["gt_point_category_ids"] = arrays["category_ids"]
        results["gt_point_segment_ids"] = arrays["segment_ids"]
        results["gt_point_isthing"] = arrays["isthing"]
        results["gt_point_image_size"] = (int(image.width), int(image.height))
        return results

    def __repr__(self) -> str:
        return f"{type(self).__name__}(ann_file={self.ann_file!r})"

