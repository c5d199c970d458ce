"""``NuScenesDataset``: nuScenes samples (real nuScenes or the simulator's export) from the info files of
:mod:`perception.datasets.nuscenes_infos`."""
from __future__ import annotations

import os
from typing import Any, Callable, Mapping, Optional, Sequence, Union

import numpy as np
import torch
from mmengine.dataset import BaseDataset

from perception.registry import DATASETS, TRANSFORMS
from perception.structures import Boxes2D, Boxes3D, CoordFrame, ObjectAnnotations

from .empty_gt import EMPTY_SERIALIZED, filter_empty_gt, labels_present, prepare_with_gt
from .info_dataset import checked_classes, modality_flags, parse_entries
from .nuscenes_infos import load_nuscenes_infos, sample_lidar2global
from .nuscenes_io import NUSCENES_CLASSES

__all__ = ["NuScenesDataset"]


@DATASETS.register_module()
class NuScenesDataset(BaseDataset):
    """The samples (key frames) of one nuScenes split, one info entry each.

    All 3D quantities handed to the pipeline are in the sample's **LiDAR frame** (the ``LIDAR_TOP`` sensor
    frame of the key frame: x right, y forward, z up on the real car; see
    :mod:`perception.datasets.nuscenes_io`); boxes follow :mod:`perception.structures.frames`.

    Args:
        data_root: dataset root (holds ``samples/``, ``sweeps/``, ``<version>/``); info paths are relative to it.
        ann_file: info file (``nuscenes_infos_<split>.pkl``), relative to ``data_root`` or absolute.
        metainfo: ``dict(classes=(...))``: the detected classes in label order, a subset of the 10 nuScenes
            detection classes (:data:`~perception.datasets.nuscenes_io.NUSCENES_CLASSES`).
        pipeline: transforms (configs are built from :data:`perception.registry.TRANSFORMS`).
        modality: ``dict(use_lidar=..., use_camera=...)``: which sensor files must exist (the key frame and
            its sweeps; the camera images); checked when the dataset is built, naming the first missing file.
        use_valid_flag: keep only annotations with at least one LiDAR or radar point (those the devkit
            evaluates), as mmdet3d does.
        camera: the camera whose image gets 2D box targets when ``modality['use_camera']`` (``img_path`` is its
            image); then only the objects visible in it are kept.
        test_mode: evaluation mode: no sample is ever skipped.
        filter_empty_gt: *training only*: samples without an object of ``classes`` are dropped when the dataset
            is built (logged), and a sample whose pipeline output has no ground truth is replaced by another
            (mmengine's refetch).
        Other arguments are :class:`mmengine.dataset.BaseDataset`'s.

    ``parse_data_info`` turns an info entry into the pipeline's input dict:

    * ``sample_idx`` / ``token`` (str, the sample token; ``get_data_info`` adds the dataset index as
      ``dataset_idx``), ``scene_token``, ``timestamp`` (int, microseconds of the LiDAR key frame);
    * ``lidar_path`` (absolute), ``num_pts_feats`` (5: the ``.pcd.bin`` record ``[x, y, z, intensity, ring]``),
      ``lidar2ego``, ``ego2global``, ``lidar2global`` (``(4, 4)`` float64);
    * ``sweeps``: list (newest first) of ``{'data_path' (absolute), 'timestamp' (int, us), 'sensor2lidar'
      (4, 4)}`` for :class:`~perception.datasets.transforms.LoadPointsFromMultiSweeps`;
    * ``images``: ``{channel: {'img_path' (absolute), 'cam2img' (3, 3), 'lidar2cam' (4, 4), 'cam2ego' (4, 4),
      'ego2global' (4, 4), 'timestamp' (int), 'img_shape' (h, w)}}`` for the six cameras, and ``img_path`` /
      ``img_shape`` of ``CAM_FRONT`` (what single-image transforms read) when the sample has it;
    * ``ann_info`` (labelled splits): ``gt_boxes_3d`` (:class:`~perception.structures.Boxes3D`, LiDAR frame,
      float32), ``gt_labels_3d`` ``(N,)`` int64 indices into ``classes``, ``gt_names_3d`` (N str),
      ``gt_velocities_3d`` ``(N, 2)`` float32 LiDAR-frame ``[vx, vy]`` m/s (0 where the devkit cannot estimate
      it), ``gt_attributes`` (N str, ``''`` if none), ``num_lidar_pts`` ``(N,)`` int64, ``visibility`` ``(N,)``
      int64 (the nuScenes bin, 1: 0-40 % ... 4: 80-100 %): only annotations of
      ``classes`` (and valid ones, with ``use_valid_flag``);
    * with ``modality['use_camera']``, the targets of a camera model in ``camera``'s image, as ``KittiDataset``
      gives them for camera 2: ``ann_info`` keeps only the objects whose projected 3D box (edges clipped at the
      image plane) overlaps the image, and adds ``gt_bboxes`` ``(N, 4)`` float32 ``[x1, y1, x2, y2]`` pixels (the
      projection clipped to the image) and ``gt_bboxes_labels``; ``eval_ann_info`` is the same objects as
      :class:`~perception.structures.ObjectAnnotations` (``truncated``: the fraction of the projected box outside
      the image; ``occluded`` 0 / 1 / 2 from the visibility bins 80-100 / 60-80 / below 60 %; ``alpha`` 0;
      no DontCare regions).
    """

    METAINFO = {"classes": NUSCENES_CLASSES}

    def __init__(self, data_root: str, ann_file: str, metainfo: Optional[Mapping] = None,
                 pipeline: Sequence[Union[dict, Callable]] = (), modality: Optional[Mapping[str, bool]] = None,
                 use_valid_flag: bool = True, camera: str = "CAM_FRONT", test_mode: bool = False,
                 filter_empty_gt: bool = True,
                 lazy_init: bool = False, serialize_data: bool = True,
                 indices: Optional[Union[int, Sequence[int]]] = None, max_refetch: int = 1000):
        self.modality = modality_flags(modality, "NuScenesDataset")
        self.use_valid_flag = bool(use_valid_flag)
        self.camera = camera
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
        classes = checked_classes(self._metainfo.get("classes"), "NuScenesDataset")
        unknown = [c for c in classes if c not in NUSCENES_CLASSES]
        if unknown:
            raise ValueError(f"NuScenesDataset: classes {unknown} are not nuScenes detection classes "
                             f"{NUSCENES_CLASSES}")
        self._metainfo["classes"] = classes
        infos = load_nuscenes_infos(self.ann_file)
        for k, v in infos["metainfo"].items():
            if k != "classes":
                self._metainfo.setdefault(k, v)
        return parse_entries(infos["data_list"], self.parse_data_info, ann_file=self.ann_file, key="token",
                             unit="sample")

    def _abs(self, rel: str) -> str:
        return rel if os.path.isabs(rel) else os.path.join(self.data_root or "", rel)

    def _check_file(self, path: str, what: str, token: str) -> None:
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{path}: {what} of sample {token} not found (listed in {self.ann_file})")

    def parse_data_info(self, info: dict) -> dict:
        """One info entry -> the pipeline's input dict (see the class docstring)."""
        token = str(info["token"])
        data: dict[str, Any] = {
            "sample_idx": token, "token": token, "scene_token": info.get("scene_token"),
            "timestamp": int(info["timestamp"]), "lidar_path": self._abs(info["lidar_path"]),
            "num_pts_feats": int(info.get("num_point_features", 5)),
            "lidar2ego": np.asarray(info["lidar2ego"], np.float64),
            "ego2global": np.asarray(info["ego2global"], np.float64), "lidar2global": sample_lidar2global(info),
            "sweeps": [{"data_path": self._abs(s["data_path"]), "timestamp": int(s["timestamp"]),
                        "sensor2lidar": np.asarray(s["sensor2lidar"], np.float64)} for s in info["sweeps"]],
            "images": {cam: {"img_path": self._abs(c["data_path"]), "cam2img": np.asarray(c["cam2img"], np.float64),
                             "lidar2cam": np.asarray(c["lidar2cam"], np.float64),
                             "cam2ego": np.asarray(c["cam2ego"], np.float64),
                             "ego2global": np.asarray(c["ego2global"], np.float64),
                             "timestamp": int(c["timestamp"]), "img_shape": tuple(int(v) for v in c["img_shape"])}
                       for cam, c in info["cams"].items()},
        }
        if self.modality["use_lidar"]:
            self._check_file(data["lidar_path"], "LiDAR key frame", token)
            for sweep in data["sweeps"]:
                self._check_file(sweep["data_path"], "LiDAR sweep", token)
        if self.modality["use_camera"]:
            for cam, image in data["images"].items():
                self._check_file(image["img_path"], f"{cam} image", token)
        if self.camera in data["images"]:
            data["img_path"] = data["images"][self.camera]["img_path"]
            data["img_shape"] = data["images"][self.camera]["img_shape"]
        elif self.modality["use_camera"]:
            raise KeyError(f"sample {token} has no {self.camera} image (cameras: {sorted(data['images'])})")
        if info["annos"] is not None:
            data["ann_info"] = self.parse_ann_info(info)
            if self.modality["use_camera"]:
                data["ann_info"], data["eval_ann_info"] = self._camera_targets(data["ann_info"],
                                                                               data["images"][self.camera])
        return data

    def parse_ann_info(self, info: dict) -> dict:
        """The training targets of a labelled info entry: annotations of ``classes`` (valid ones with
        ``use_valid_flag``)."""
        a = info["annos"]
        label_of = {c: i for i, c in enumerate(self.classes)}
        keep = np.array([n in label_of for n in a["names"]], dtype=bool)
        if self.use_valid_flag:
            keep &= np.asarray(a["valid_flag"], bool)
        idx = np.flatnonzero(keep)
        labels = torch.tensor([label_of[a["names"][i]] for i in idx], dtype=torch.long)
        velocity = np.asarray(a["velocities"], np.float32).reshape(-1, 2)[idx]
        return {
            "gt_boxes_3d": Boxes3D(torch.as_tensor(np.asarray(a["boxes3d"], np.float32).reshape(-1, 7)[idx]),
                                   frame=CoordFrame.LIDAR),
            "gt_labels_3d": labels,
            "gt_names_3d": [a["names"][i] for i in idx],
            "gt_velocities_3d": torch.as_tensor(np.nan_to_num(velocity, nan=0.0)),
            "gt_attributes": [a["attributes"][i] for i in idx],
            "num_lidar_pts": torch.as_tensor(np.asarray(a["num_lidar_pts"], np.int64)[idx]),
            "visibility": torch.as_tensor(np.asarray(a["visibility"], np.int64).reshape(-1)[idx]),
        }

    def _camera_targets(self, ann: dict, image: dict) -> tuple[dict, ObjectAnnotations]:
        """Keep the objects visible in ``image``; add their 2D boxes (see the class docstring)."""
        from perception.datasets.sim.labels import box_edges_span

        h, w = image["img_shape"]
        lidar2cam = image["lidar2cam"]
        p = np.hstack([image["cam2img"], np.zeros((3, 1))])
        corners = ann["gt_boxes_3d"].corners().double().numpy() @ lidar2cam[:3, :3].T + lidar2cam[:3, 3]
        boxes2d = np.zeros((len(corners), 4), np.float64)
        truncated = np.ones(len(corners), np.float64)
        for i, c in enumerate(corners):
            span = box_edges_span(c, p)
            if span is None:
                continue
            clipped = np.clip(span, 0, [w, h, w, h])
            area = max(clipped[2] - clipped[0], 0.0) * max(clipped[3] - clipped[1], 0.0)
            boxes2d[i] = clipped
            truncated[i] = 1.0 - area / max((span[2] - span[0]) * (span[3] - span[1]), 1e-9)
        visible = (boxes2d[:, 2] > boxes2d[:, 0]) & (boxes2d[:, 3] > boxes2d[:, 1])
        idx = torch.as_tensor(np.flatnonzero(visible))
        out = {k: ([v[i] for i in idx.tolist()] if isinstance(v, list) else v[idx]) for k, v in ann.items()}
        out["gt_bboxes"] = torch.as_tensor(boxes2d[visible], dtype=torch.float32).reshape(-1, 4)
        out["gt_bboxes_labels"] = out["gt_labels_3d"].clone()
        level = out["visibility"]
        occluded = torch.where(level >= 4, 0, torch.where(level == 3, 1, 2))
        n = len(idx)
        eval_ann = ObjectAnnotations(names=list(out["gt_names_3d"]), boxes3d=out["gt_boxes_3d"],
                                     boxes2d=Boxes2D(out["gt_bboxes"]),
                                     truncated=torch.as_tensor(truncated[visible], dtype=torch.float32),
                                     occluded=occluded, alpha=torch.zeros(n))
        return out, eval_ann

    def filter_data(self) -> list[dict]:
        """Training with ``filter_empty_gt``: drop samples without objects of ``classes`` (logged)."""
        return filter_empty_gt(self, unit="sample")

    def _serialize_data(self) -> tuple[np.ndarray, np.ndarray]:
        return super()._serialize_data() if self.data_list else EMPTY_SERIALIZED   # a custom split may be empty

    def get_cat_ids(self, idx: int) -> list[int]:
        """Labels present in sample ``idx`` (for class-balanced sampling wrappers)."""
        return labels_present(self.get_data_info(idx))

    # ---------------------------------------------------------------------------- items
    def get_data_info(self, idx: int) -> dict:
        """The parsed info of item ``idx``; ``sample_idx`` is the sample token (mmengine's base class would
        put the dataset index there, which is kept as ``dataset_idx``)."""
        data = super().get_data_info(idx)
        data["dataset_idx"] = data["sample_idx"]
        data["sample_idx"] = data["token"]
        return data

    def prepare_data(self, idx: int) -> Any:
        return prepare_with_gt(self, idx)

    def __repr__(self) -> str:
        return (f"NuScenesDataset(ann_file={self.ann_file!r}, classes={self.classes}, "
                f"samples={len(self) if self._fully_initialized else '?'}, test_mode={self.test_mode})")
