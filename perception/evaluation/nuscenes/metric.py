"""``NuScenesMetric``: the nuScenes detection evaluation as an mmengine metric (``perception.registry.METRICS``)."""
from __future__ import annotations

import os
from typing import Any, Optional, Sequence

import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger

from perception.datasets.nuscenes_infos import load_nuscenes_infos, sample_lidar2global
from perception.datasets.nuscenes_io import NUSCENES_CLASSES, load_nuscenes
from perception.registry import METRICS

from .evaluate import evaluate_nuscenes_detection
from .submission import build_submission, detections_to_results, write_submission

__all__ = ["NuScenesMetric"]


def _get(obj: Any, key: str) -> Any:
    if isinstance(obj, dict):
        return obj.get(key)
    return getattr(obj, key, None)


@METRICS.register_module()
class NuScenesMetric(BaseMetric):
    """nuScenes detection mAP, ATE, ASE, AOE, AVE, AAE and NDS of the official devkit
    (:func:`~perception.evaluation.nuscenes.evaluate_nuscenes_detection`).

    ``process`` takes :class:`~perception.structures.data_sample.Det3DDataSample` s (or their ``to_dict()``,
    what mmengine's evaluator passes) with metainfo ``sample_idx`` (the sample token, as
    :class:`~perception.datasets.NuScenesDataset` sets it) and ``pred_instances_3d``: ``bboxes_3d``
    (:class:`~perception.structures.Boxes3D`, the sample's LiDAR frame), ``scores_3d``, ``labels_3d`` (indices
    into the dataset's ``classes``), optionally ``velocities_3d`` ``(N, 2)`` LiDAR-frame m/s (else reported as
    0) and ``attribute_names`` (else :func:`~perception.evaluation.nuscenes.default_attribute`).
    ``compute_metrics`` turns them into a submission with the poses of ``ann_file`` and evaluates the samples
    it was given against the database ``<data_root>/<version>``.

    Returns a flat dict (prefixed ``nuscenes/`` by mmengine): ``mAP``, ``NDS``, ``mATE`` ... ``mAAE`` and
    ``{class}_AP`` (with ``detail``, also the per-class AP per distance threshold and TP errors, see
    :meth:`~perception.evaluation.nuscenes.NuScenesDetectionResult.to_flat_dict`); the full table is logged.

    Args:
        data_root: the nuScenes root (holds ``<version>/``); ann_file: the info file of the evaluated split
            (relative to ``data_root`` or absolute).
        version: the table version; default: the info file's.
        classes: the evaluated classes; default: the dataset's ``classes`` (all 10 for the official benchmark).
        config: the devkit's evaluation config.
        jsonfile_prefix: if set, the submission is also written to ``<jsonfile_prefix>/results_nusc.json``.
        detail: also return the per-class, per-threshold values.
    """

    default_prefix = "nuscenes"

    def __init__(self, data_root: str, ann_file: str, version: Optional[str] = None,
                 classes: Optional[Sequence[str]] = None, config: str = "detection_cvpr_2019",
                 jsonfile_prefix: Optional[str] = None, detail: bool = False, collect_device: str = "cpu",
                 prefix: Optional[str] = None):
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.data_root = data_root
        self.ann_file = ann_file if os.path.isabs(ann_file) else os.path.join(data_root, ann_file)
        self.version = version
        self.classes = tuple(classes) if classes is not None else None
        self.config = config
        self.jsonfile_prefix = jsonfile_prefix
        self.detail = bool(detail)
        self._infos: Optional[dict] = None
        self._nusc = None

    def process(self, data_batch: Any, data_samples: Sequence[Any]) -> None:
        for sample in data_samples:
            token = _get(sample, "sample_idx")
            pred = _get(sample, "pred_instances_3d")
            if token is None or pred is None:
                raise KeyError("NuScenesMetric: a data sample needs metainfo 'sample_idx' (the sample token) and "
                               "'pred_instances_3d'")
            fields = {}
            for key in ("bboxes_3d", "scores_3d", "labels_3d"):
                if _get(pred, key) is None:
                    raise KeyError(f"NuScenesMetric: sample {token}: pred_instances_3d lacks {key!r}")
            boxes = _get(pred, "bboxes_3d")
            fields["boxes"] = (boxes.tensor if hasattr(boxes, "tensor") else torch.as_tensor(boxes)) \
                .detach().cpu().double().numpy().reshape(-1, 7)
            fields["scores"] = torch.as_tensor(_get(pred, "scores_3d")).detach().cpu().double().numpy()
            fields["labels"] = torch.as_tensor(_get(pred, "labels_3d")).detach().cpu().long().numpy()
            vel = _get(pred, "velocities_3d")
            fields["velocities"] = None if vel is None else torch.as_tensor(vel).detach().cpu().double().numpy()
            fields["attributes"] = _get(pred, "attribute_names")
            self.results.append((str(token), fields))

    def _label_names(self) -> tuple[str, ...]:
        names = tuple((self.dataset_meta or {}).get("classes", self.classes or NUSCENES_CLASSES))
        bad = [c for c in names if c not in NUSCENES_CLASSES]
        if bad:
            raise ValueError(f"NuScenesMetric: the dataset classes {bad} are not nuScenes detection classes")
        return names

    def _load(self):
        if self._infos is None:
            self._infos = load_nuscenes_infos(self.ann_file)
        if self._nusc is None:
            version = self.version or self._infos["metainfo"]["version"]
            self._nusc = load_nuscenes(self.data_root, version)
        return self._infos, self._nusc

    def compute_metrics(self, results: list) -> dict[str, float]:
        infos, nusc = self._load()
        poses = {d["token"]: sample_lidar2global(d) for d in infos["data_list"]}
        names = self._label_names()
        per_sample: dict[str, list[dict]] = {}
        for token, f in results:
            if token in per_sample:
                raise ValueError(f"NuScenesMetric: sample {token} was evaluated twice")
            if token not in poses:
                raise ValueError(f"NuScenesMetric: sample {token} is not in {self.ann_file}")
            labels = f["labels"]
            if len(labels) and (labels.min() < 0 or labels.max() >= len(names)):
                raise ValueError(f"NuScenesMetric: sample {token}: labels_3d outside [0, {len(names)}) for classes "
                                 f"{names}")
            per_sample[token] = detections_to_results(
                token, f["boxes"], f["scores"], [names[i] for i in labels], poses[token],
                velocities=f["velocities"], attributes=f["attributes"])
        submission = build_submission(per_sample)
        if self.jsonfile_prefix:
            write_submission(os.path.join(self.jsonfile_prefix, "results_nusc.json"), submission)
        classes = self.classes or names
        result = evaluate_nuscenes_detection(nusc, submission, sample_tokens=list(per_sample), classes=classes,
                                             config=self.config)
        logger = MMLogger.get_current_instance()
        split = infos["metainfo"].get("split")
        logger.info(f"nuScenes detection evaluation of {len(per_sample)} of the {len(poses)} samples of split "
                    f"{split!r}\n{result.table()}")
        if len(per_sample) != len(poses):
            logger.warning(f"NuScenesMetric: only {len(per_sample)} of the {len(poses)} samples of {self.ann_file} "
                           f"were evaluated; the numbers are not the split's")
        return result.to_flat_dict(detail=self.detail)
