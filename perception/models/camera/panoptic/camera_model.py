"""``CameraModel``: a 2D detector and the panoptic head on one shared backbone, one backbone pass per batch."""
from __future__ import annotations

from typing import Mapping, Optional, Sequence, Union

from mmengine.config import ConfigDict
from mmengine.model import BaseModel
from torch import Tensor

from perception.registry import MODELS

from .image_cues import images_from_preprocessor
from .segmentor import attach_panoptic_predictions

__all__ = ["CameraModel"]


@MODELS.register_module()
class CameraModel(BaseModel):
    """TridentNet (or any detector with the same feature interface) + :class:`~.panoptic_head.PanopticHead`.

    The detector is built from ``detector`` and keeps its own modules (``detector.backbone``, its RPN / R-CNN
    heads, ``detector.neck`` if any); this model owns the pass through the backbone:

    1. ``levels = detector.backbone(images[, branches])`` -- the backbone must return the levels
       ``panoptic_levels`` + the detector's level(s): configure its ``out_indices`` accordingly (e.g.
       ``(0, 1, 2)`` for a C4 TridentNet: C2 and C3 once per image, C4 branch-major ``(n_branches * B, ...)``);
    2. the detector gets the last level (through its neck if it has one):
       ``detector.loss_from_feat(x, samples, branches)`` / ``predict_from_feat(x, samples, branches)``;
    3. the panoptic head gets ``levels[i] for i in panoptic_levels``; a branch-major level (``n_branches * B``
       rows) contributes the rows of ``panoptic_branch`` only.

    Detector interface (what another detector must provide to plug in): ``backbone`` (called with
    ``branches=`` when it has a ``num_branch`` attribute), ``active_branches() -> tuple[int, ...]``,
    ``loss_from_feat(x, samples, branches) -> dict`` and ``predict_from_feat(x, samples, branches, rescale)
    -> list[InstanceData]`` (see ``perception.models.camera.trident.TridentRCNN``); ``neck`` / ``with_neck``
    optional.

    Args:
        detector: detector config (e.g. ``TridentRCNN``; its ``data_preprocessor`` is ignored, this model's is
            used).
        panoptic_head: :class:`~.panoptic_head.PanopticHead` config (``in_strides`` of ``panoptic_levels``).
        data_preprocessor: e.g. ``mmdet.DetDataPreprocessor`` (mean/std in RGB 0-255 units).
        backbone_out_indices: replaces the detector backbone's ``out_indices`` (so that a detector config written
            for the detector alone, e.g. C4 only, also returns the panoptic levels); ``None`` keeps it.
        panoptic_levels: indices into the backbone outputs fed to the panoptic head.
        panoptic_branch: the trident branch whose features the panoptic head sees (must run at training and
            test time; TridentNet-Fast runs branch 1).
        with_detector / with_panoptic: switch a task off (its losses and predictions).
        loss_weights: ``{"detector": w, "panoptic": w}`` multiply each task's losses.

    ``predict`` fills ``pred_instances`` (detections, original image pixels) and ``pred_panoptic``
    (:class:`~.panoptic_result.PanopticResult`) of each sample.
    """

    def __init__(self, detector: dict, panoptic_head: dict, data_preprocessor: Optional[dict] = None,
                 backbone_out_indices: Optional[Sequence[int]] = None, panoptic_levels: Sequence[int] = (0, 1, 2),
                 panoptic_branch: int = 1, with_detector: bool = True, with_panoptic: bool = True,
                 loss_weights: Optional[Mapping[str, float]] = None, init_cfg=None):
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        detector = ConfigDict(detector)  # nested train/test cfgs need attribute access (mmdet detectors)
        detector.pop("data_preprocessor", None)
        if backbone_out_indices is not None:
            detector.backbone.out_indices = tuple(int(i) for i in backbone_out_indices)
        self.detector = MODELS.build(detector)
        for name in ("backbone", "loss_from_feat", "predict_from_feat", "active_branches"):
            if not hasattr(self.detector, name):
                raise TypeError(f"CameraModel: detector {type(self.detector).__name__} lacks {name!r} (see the "
                                f"detector interface in the CameraModel docstring)")
        self.panoptic_head = MODELS.build(panoptic_head)
        self.panoptic_levels = tuple(int(i) for i in panoptic_levels)
        self.panoptic_branch = int(panoptic_branch)
        self.num_branch = int(getattr(self.detector.backbone, "num_branch", 1))
        if not 0 <= self.panoptic_branch < self.num_branch:
            raise ValueError(f"panoptic_branch={panoptic_branch} but the backbone has {self.num_branch} branch(es)")
        self.with_detector = bool(with_detector)
        self.with_panoptic = bool(with_panoptic)
        if not (self.with_detector or self.with_panoptic):
            raise ValueError("CameraModel: at least one of with_detector / with_panoptic must be on")
        self.loss_weights = {"detector": 1.0, "panoptic": 1.0, **dict(loss_weights or {})}

    # ------------------------------------------------------------------------------------------ features
    def branches(self) -> tuple[int, ...]:
        """Branches run in this pass: the detector's active ones (with the panoptic branch among them)."""
        branches = tuple(self.detector.active_branches()) if self.with_detector else (self.panoptic_branch,)
        if self.with_panoptic and self.panoptic_branch not in branches:
            raise ValueError(f"CameraModel: the panoptic head reads branch {self.panoptic_branch}, which the "
                             f"detector does not run now (branches {branches}); set panoptic_branch to one of them")
        return branches

    def extract_feat(self, inputs: Tensor) -> tuple[tuple[Tensor, ...], tuple[Tensor, ...], tuple[int, ...]]:
        """One backbone pass -> ``(detector features, panoptic features, branches)``."""
        branches = self.branches()
        backbone = self.detector.backbone
        levels = tuple(backbone(inputs, branches=branches) if hasattr(backbone, "num_branch") else backbone(inputs))
        b = inputs.shape[0]
        det_feats = (levels[-1],)
        if getattr(self.detector, "with_neck", False):
            det_feats = tuple(self.detector.neck(det_feats))
        k = branches.index(self.panoptic_branch)
        pan_feats = []
        for i in self.panoptic_levels:
            x = levels[i]
            if x.shape[0] == len(branches) * b and len(branches) > 1:
                x = x[k * b:(k + 1) * b]
            elif x.shape[0] != b:
                raise ValueError(f"CameraModel: backbone level {i} has batch {x.shape[0]}, expected {b} or "
                                 f"{len(branches)} x {b}")
            pan_feats.append(x)
        return det_feats, tuple(pan_feats), branches

    def panoptic_feats(self, inputs: Tensor) -> tuple[Tensor, ...]:
        """The panoptic head's input levels (one backbone pass, the detector's branches)."""
        return self.extract_feat(inputs)[1]

    def images_01(self, inputs: Tensor) -> Tensor:
        """The normalised batch back to RGB in ``[0, 1]`` (for the head's colour cues)."""
        return images_from_preprocessor(inputs, self.data_preprocessor)

    # ------------------------------------------------------------------------------------------ modes
    def forward(self, inputs: Tensor, data_samples: Optional[list] = None, mode: str = "tensor"
                ) -> Union[dict, list, tuple]:
        if mode == "loss":
            return self.loss(inputs, data_samples)
        if mode == "predict":
            return self.predict(inputs, data_samples)
        if mode == "tensor":
            det_feats, pan_feats, _ = self.extract_feat(inputs)
            return det_feats, self.panoptic_head(pan_feats) if self.with_panoptic else None
        raise ValueError(f"CameraModel: unknown mode {mode!r} (loss, predict, tensor)")

    def loss(self, inputs: Tensor, data_samples: list) -> dict:
        det_feats, pan_feats, branches = self.extract_feat(inputs)
        losses = {}
        if self.with_detector:
            det = self.detector.loss_from_feat(det_feats, data_samples, branches)
            losses.update(_scaled(det, self.loss_weights["detector"]))
        if self.with_panoptic:
            pan = self.panoptic_head.loss(pan_feats, data_samples, self.images_01(inputs))
            overlap = set(pan) & set(losses)
            if overlap:
                raise KeyError(f"CameraModel: detector and panoptic losses share names {sorted(overlap)}")
            losses.update(_scaled(pan, self.loss_weights["panoptic"]))
        return losses

    def predict(self, inputs: Tensor, data_samples: list, rescale: bool = True) -> list:
        det_feats, pan_feats, branches = self.extract_feat(inputs)
        if self.with_detector:
            dets = self.detector.predict_from_feat(det_feats, data_samples, branches, rescale=rescale)
            for sample, det in zip(data_samples, dets):
                sample.pred_instances = det
        if self.with_panoptic:
            results = self.panoptic_head.predict(pan_feats, data_samples, tuple(inputs.shape[-2:]), rescale=rescale)
            attach_panoptic_predictions(data_samples, results)
        return data_samples


def _scaled(losses: dict, weight: float) -> dict:
    """Multiply the entries whose name contains ``loss`` (what mmengine sums) by ``weight``."""
    if weight == 1.0:
        return dict(losses)
    out = {}
    for k, v in losses.items():
        if "loss" in k:
            v = [x * weight for x in v] if isinstance(v, (list, tuple)) else v * weight
        out[k] = v
    return out
