"""``LoadPanopticAnnotations``: a frame's COCO panoptic ground truth (segment-id PNG + ``segments_info``)."""
from __future__ import annotations

import os
from typing import Optional

import numpy as np
from mmcv.transforms import BaseTransform

from perception.datasets.point_labels import PointLabelError, read_json, read_panoptic_png
from perception.registry import TRANSFORMS

__all__ = ["LoadPanopticAnnotations", "PanopticAnnotationError"]


class PanopticAnnotationError(ValueError):
    """A COCO panoptic JSON or PNG is missing, malformed or inconsistent."""


_CACHE: dict[tuple, dict] = {}


def _panoptic_index(path: str) -> dict:
    """``{'segments': {png file name: segments_info}, 'isthing': {category id: bool}}`` of a COCO panoptic JSON,
    parsed once per process."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise PanopticAnnotationError(f"{path}: panoptic JSON not found") from None
    key = (os.path.abspath(path), st.st_size, st.st_mtime_ns)
    if key in _CACHE:
        return _CACHE[key]
    data = read_json(path, "panoptic JSON", PanopticAnnotationError)
    if not isinstance(data, dict) or not isinstance(data.get("annotations"), list) or \
            not isinstance(data.get("categories"), list):
        raise PanopticAnnotationError(f"{path}: expected COCO panoptic JSON with 'annotations' and 'categories' lists")
    isthing = {}
    for i, c in enumerate(data["categories"]):
        if not isinstance(c, dict) or "id" not in c or "isthing" not in c:
            raise PanopticAnnotationError(f"{path}: categories[{i}] needs 'id' and 'isthing'")
        isthing[int(c["id"])] = bool(int(c["isthing"]))
    segments = {}
    for i, ann in enumerate(data["annotations"]):
        if not isinstance(ann, dict) or not isinstance(ann.get("file_name"), str) or \
                not isinstance(ann.get("segments_info"), list):
            raise PanopticAnnotationError(f"{path}: annotations[{i}] needs 'file_name' (str) and 'segments_info' "
                                          f"(list)")
        segs = []
        for j, s in enumerate(ann["segments_info"]):
            where = f"{path}: annotations[{i}] ({ann['file_name']}): segments_info[{j}]"
            if not isinstance(s, dict) or not isinstance(s.get("id"), int) or not isinstance(s.get("category_id"), int):
                raise PanopticAnnotationError(f"{where}: needs integer 'id' and 'category_id'")
            if s["category_id"] not in isthing:
                raise PanopticAnnotationError(f"{where}: category_id {s['category_id']} is not in 'categories'")
            segs.append({"id": s["id"], "category_id": s["category_id"], "iscrowd": int(s.get("iscrowd", 0)),
                         "isthing": isthing[s["category_id"]]})
        segments[ann["file_name"]] = segs
    _CACHE.clear()
    _CACHE[key] = {"segments": segments, "isthing": isthing}
    return _CACHE[key]


@TRANSFORMS.register_module()
class LoadPanopticAnnotations(BaseTransform):
    """Load the frame's panoptic ground truth.

    Reads ``panoptic_path`` (the frame's COCO panoptic PNG, set by ``KittiDataset`` from the info file); writes
    ``gt_segments_info`` (list of ``{id, category_id, iscrowd, isthing}``) and, with ``with_map``,
    ``gt_panoptic_ids`` (``(H, W)`` int64 segment ids, 0 = void, original image pixels).  Every id of the PNG must
    be listed in ``segments_info`` and vice versa (``PanopticAnnotationError`` naming the files otherwise).

    Args:
        panoptic_json: the COCO panoptic JSON.  Default: the PNG folder's name + ``.json`` (the COCO convention;
            the simulator's ``training/panoptic/`` + ``training/panoptic.json``).
        with_map: load the PNG (training with full masks); without it only ``gt_segments_info`` is set
            (evaluation reads the PNG itself).
    """

    def __init__(self, panoptic_json: Optional[str] = None, with_map: bool = True):
        self.panoptic_json = panoptic_json
        self.with_map = bool(with_map)

    def transform(self, results: dict) -> dict:
        png = results.get("panoptic_path")
        if not png:
            raise KeyError(f"LoadPanopticAnnotations: frame {results.get('sample_idx')} has no panoptic_path (the "
                           f"info file lists none: re-create it after generating panoptic ground truth)")
        json_path = self.panoptic_json or os.path.dirname(os.path.abspath(png)) + ".json"
        index = _panoptic_index(json_path)
        name = os.path.basename(png)
        if name not in index["segments"]:
            raise PanopticAnnotationError(f"{json_path}: no annotation with file_name {name!r} (for {png})")
        segments = [dict(s) for s in index["segments"][name]]
        results["gt_segments_info"] = segments
        if self.with_map:
            try:
                ids = read_panoptic_png(png)
            except PointLabelError as exc:
                raise PanopticAnnotationError(str(exc)) from None
            present = set(np.unique(ids).tolist()) - {0}
            listed = {s["id"] for s in segments}
            if present - listed or listed - present:
                raise PanopticAnnotationError(
                    f"{png}: PNG segment ids and {json_path} segments_info disagree (only in the PNG: "
                    f"{sorted(present - listed)[:10]}, only in the JSON: {sorted(listed - present)[:10]})")
            results["gt_panoptic_ids"] = ids
        return results

    def __repr__(self) -> str:
        return f"{type(self).__name__}(panoptic_json={self.panoptic_json!r}, with_map={self.with_map})"
