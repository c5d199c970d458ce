"""``KittiDataset``: KITTI-format frames (real KITTI or the simulator) from the info files of ``create_data``."""
from __future__ import annotations

import os
from typing import Any, Callable, Mapping, Optional, Sequence, Union

import numpy as np
import torch
from mmengine.dataset import BaseDataset

from perception.registry import DATASETS, TRANSFORMS
from perception.structures import Boxes3D, CoordFrame

from .create_data import frame_annotations, frame_calibration, load_kitti_infos
from .empty_gt import EMPTY_SERIALIZED, filter_empty_gt, labels_present, prepare_with_gt
from .info_dataset import checked_classes, modality_flags, parse_entries

__all__ = ["KittiDataset"]


@DATASETS.register_module()
class KittiDataset(BaseDataset):
    """Frames of a KITTI-format dataset, one info entry each (see :mod:`perception.datasets.create_data`).

    Args:
        data_root: dataset root; the info file's relative paths are joined to it.
        ann_file: info file (``kitti_infos_<split>.pkl``), relative to ``data_root`` or absolute.
        metainfo: ``dict(classes=(...))``: the detected classes, in label order (label-file names).
            Objects of other types are removed from ``ann_info`` (they stay in ``eval_ann_info``).
        pipeline: transforms (configs are built from :data:`perception.registry.TRANSFORMS`, so
            this works without a default scope).
        modality: ``dict(use_lidar=..., use_camera=...)``: which sensor files must exist; the check
            happens when the dataset is built, naming the first missing file.
        test_mode: evaluation mode: no frame is ever skipped.
        filter_empty_gt: *training only* (ignored when ``test_mode``): frames with no object of ``classes``
            are dropped when the dataset is built (the count is logged; ``ValueError`` if that leaves no
            frame at all), and a frame whose pipeline output has no ground truth (e.g. after range
            filtering) is replaced by another random frame (mmengine's refetch, at most ``max_refetch``
            times).  Frames are never dropped from the info files themselves.
        Other arguments are :class:`mmengine.dataset.BaseDataset`'s.

    ``parse_data_info`` turns an info entry into the pipeline's input dict:

    * ``sample_idx`` (str, the KITTI frame id; also ``frame_id``; ``get_data_info`` adds the dataset index
      as ``dataset_idx``), ``lidar_path``, ``img_path`` (absolute), ``num_pts_feats`` (int),
      ``calib`` (:class:`~perception.structures.KittiCalibration`), ``img_shape`` ``(h, w)``,
      ``panoptic_path`` (absolute, when the info has one);
    * ``ann_info`` (labelled frames): ``gt_boxes_3d`` (:class:`~perception.structures.Boxes3D`, LiDAR frame),
      ``gt_labels_3d`` ``(N,)`` int64 indices into ``classes``, ``gt_names_3d`` (list of N str),
      ``gt_bboxes`` ``(N, 4)`` float32 camera-2 pixels, ``gt_bboxes_labels`` ``(N,)`` int64,
      ``difficulty`` ``(N,)`` int64, ``num_lidar_points`` ``(N,)`` int64: only objects of ``classes``;
    * ``eval_ann_info`` (labelled frames): :class:`~perception.structures.ObjectAnnotations` with *all*
      objects (Van, Misc, ...) and the DontCare regions, for the KITTI metric.
    """

    METAINFO = {"classes": ("Car", "Pedestrian", "Cyclist")}

    def __init__(self, data_root: str, ann_file: str, metainfo: Optional[Mapping] = None,
                 pipeline: Sequence[Union[dict, Callable]] = (), modality: Optional[Mapping[str, bool]] = None,
                 test_mode: bool = False, filter_empty_gt: bool = True, lazy_init: bool = False,
                 serialize_data: bool = True, indices: Optional[Union[int, Sequence[int]]] = None,
                 max_refetch: int = 1000):
        self.modality = modality_flags(modality, "KittiDataset")
        self.filter_empty_gt = bool(filter_empty_gt)
        pipeline = [TRANSFORMS.build(t) if isinstance(t, dict) else t for t in pipeline]
        super().__init__(ann_file=ann_file, metainfo=metainfo, data_root=data_root, data_prefix={},
                         pipeline=pipeline, test_mode=test_mode, lazy_init=lazy_init,
                         serialize_data=serialize_data, indices=indices, max_refetch=max_refetch)

    # ---------------------------------------------------------------------------- loading
    @property
    def classes(self) -> tuple:
        return tuple(self.metainfo["classes"])

    def load_data_list(self) -> list[dict]:
        self._metainfo["classes"] = checked_classes(self._metainfo.get("classes"), "KittiDataset")
        infos = load_kitti_infos(self.ann_file)
        for k, v in infos["metainfo"].items():
            self._metainfo.setdefault(k, v)
        return parse_entries(infos["data_list"], self.parse_data_info, ann_file=self.ann_file, key="sample_idx",
                             unit="frame")

    def _abs(self, rel: Optional[str]) -> Optional[str]:
        if rel is None:
            return None
        return rel if os.path.isabs(rel) else os.path.join(self.data_root or "", rel)

    def parse_data_info(self, info: dict) -> dict:
        """One info entry -> the pipeline's input dict (see the class docstring)."""
        lidar_path, img_path = self._abs(info["lidar_path"]), self._abs(info["img_path"])
        for needed, path, what in ((self.modality["use_lidar"], lidar_path, "point cloud"),
                                   (self.modality["use_camera"], img_path, "image")):
            if needed and not os.path.isfile(path):
                raise FileNotFoundError(f"{path}: {what} file of frame {info['sample_idx']} not found "
                                        f"(listed in {self.ann_file})")
        data: dict[str, Any] = {
            "sample_idx": str(info["sample_idx"]), "frame_id": str(info["sample_idx"]),
            "lidar_path": lidar_path, "img_path": img_path,
            "num_pts_feats": int(info.get("num_point_features", 4)), "calib": frame_calibration(info),
            "img_shape": tuple(int(v) for v in info["img_shape"]),
        }
        if info.get("panoptic_path"):
            data["panoptic_path"] = self._abs(info["panoptic_path"])
        if info["annos"] is not None:
            data["ann_info"] = self.parse_ann_info(info)
            data["eval_ann_info"] = frame_annotations(info)
        return data

    def parse_ann_info(self, info: dict) -> dict:
        """The training targets of a labelled info entry: objects of ``classes`` only."""
        a = info["annos"]
        names = list(a["names"])
        label_of = {c: i for i, c in enumerate(self.classes)}
        keep = np.array([n in label_of for n in names], dtype=bool)
        idx = np.flatnonzero(keep)
        labels = torch.tensor([label_of[names[i]] for i in idx], dtype=torch.long)
        boxes3d = torch.as_tensor(np.asarray(a["boxes3d"], np.float32).reshape(-1, 7)[idx])
        return {
            "gt_boxes_3d": Boxes3D(boxes3d, frame=CoordFrame.LIDAR),
            "gt_labels_3d": labels,
            "gt_names_3d": [names[i] for i in idx],
            "gt_bboxes": torch.as_tensor(np.asarray(a["boxes2d"], np.float32).reshape(-1, 4)[idx]),
            "gt_bboxes_labels": labels.clone(),
            "difficulty": torch.as_tensor(np.asarray(a["difficulty"], np.int64)[idx]),
            "num_lidar_points": torch.as_tensor(np.asarray(a["num_lidar_points"], np.int64)[idx]),
        }

    def filter_data(self) -> list[dict]:
        """Training with ``filter_empty_gt``: drop frames without objects of ``classes`` (logged)."""
        return filter_empty_gt(self, unit="frame")

    def _serialize_data(self) -> tuple[np.ndarray, np.ndarray]:
        return super()._serialize_data() if self.data_list else EMPTY_SERIALIZED   # an empty image set is legal

    def get_cat_ids(self, idx: int) -> list[int]:
        """Labels present in frame ``idx`` (for class-balanced sampling wrappers)."""
        return labels_present(self.get_data_info(idx))

    # ---------------------------------------------------------------------------- items
    def get_data_info(self, idx: int) -> dict:
        """The parsed info of item ``idx``.  mmengine's ``BaseDataset.get_data_info`` overwrites
        ``sample_idx`` with the dataset index; it is restored to the KITTI frame id here and the index is
        kept as ``dataset_idx``."""
        data = super().get_data_info(idx)
        data["dataset_idx"] = data["sample_idx"]
        data["sample_idx"] = data["frame_id"]
        return data

    def prepare_data(self, idx: int) -> Any:
        return prepare_with_gt(self, idx)

    def __repr__(self) -> str:
        return (f"KittiDataset(ann_file={self.ann_file!r}, classes={self.classes}, "
                f"frames={len(self) if self._fully_initialized else '?'}, test_mode={self.test_mode})")
