"""``TridentRCNN``: TridentNet (Li et al., ICCV 2019) as a Faster R-CNN with scale-aware training."""
from __future__ import annotations

import copy
from typing import Optional, Sequence

import torch
from mmdet.models.detectors import TwoStageDetector
from mmdet.structures import DetDataSample, SampleList
from mmdet.structures.bbox import scale_boxes
from mmengine.structures import InstanceData
from torch import Tensor

from perception.registry import MODELS

from .branch_merge import merge_branch_detections
from .scale_range import ScaleRange, parse_scale_ranges
from .trident_resnet import TridentStageResNet

__all__ = ["TridentRCNN"]


@MODELS.register_module()
class TridentRCNN(TwoStageDetector):
    """Faster R-CNN over a trident backbone; every branch has its own RPN and R-CNN pass (shared heads).

    Branches (paper, Sec. 3): the backbone's trident stage runs with dilations ``(1, 2, 3)`` and shared
    weights; its output is branch-major along the batch axis (see :class:`TridentStageResNet`), and the
    RPN head and RoI head (shared modules) see ``n_branches * B`` images.

    Scale-aware training: branch ``b`` is responsible for ground truth whose scale ``sqrt(w h)`` (input
    pixels) lies in ``branch_ranges[b]``.  Each branch gets its own copy of every image's ``gt_instances``
    with a ``scale_valid`` ``(G,)`` bool field; the RPN and R-CNN assigners must be wrapped in
    :class:`~.scale_aware_assigner.ScaleAwareAssigner`, which gives out-of-range objects no positive anchor
    or proposal in that branch (they are *ignored*, not background).

    Inference: ``test_branch_idx=-1`` (full TridentNet) runs all branches, drops each branch's detections
    outside its range (``test_range_filter``) and merges the branches with class-wise NMS
    (``test_cfg.rcnn.nms``, ``max_per_img``); ``test_branch_idx=i`` (TridentNet-Fast: ``1``, dilation 2)
    runs branch ``i`` alone with no range filter.

    A plain backbone (e.g. mmdet ``ResNet``) gives the single-branch detector (one branch, one range).

    Reuse by other heads (one backbone pass)::

        feats = detector.extract_feat(images, branches=(1,))   # tuple of (B, C, H/16, W/16) for one branch
        dets = detector.predict_from_feat(feats, data_samples, branches=(1,))
        other_head(feats[-1])

    With several branches each feature map is ``(n_branches * B, C, h, w)``, rows ``[i*B, (i+1)*B)`` =
    branch ``branches[i]``.

    Args:
        backbone, rpn_head, roi_head, train_cfg, test_cfg, neck, data_preprocessor, init_cfg:
            mmdet ``TwoStageDetector``'s.
        branch_ranges: one ``(low, high)`` per branch (``high=None``: unbounded), input pixels;
            default: every branch learns everything.
        test_branch_idx: ``-1`` full TridentNet, ``i >= 0`` only branch ``i`` at test time.
        test_range_filter: full inference drops detections outside their branch's range.
    """

    def __init__(self, backbone: dict, rpn_head: dict, roi_head: dict, train_cfg: Optional[dict],
                 test_cfg: dict, neck: Optional[dict] = None, data_preprocessor: Optional[dict] = None,
                 init_cfg=None, branch_ranges: Optional[Sequence] = None, test_branch_idx: int = -1,
                 test_range_filter: bool = True):
        super().__init__(backbone=backbone, neck=neck, rpn_head=rpn_head, roi_head=roi_head, train_cfg=train_cfg,
                         test_cfg=test_cfg, data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.num_branch = self.backbone.num_branch if isinstance(self.backbone, TridentStageResNet) else 1
        if branch_ranges is None:
            branch_ranges = [(0.0, None)] * self.num_branch
        self.branch_ranges: tuple[ScaleRange, ...] = parse_scale_ranges(branch_ranges, self.num_branch)
        if not -1 <= int(test_branch_idx) < self.num_branch:
            raise ValueError(f"test_branch_idx must be -1 (all branches) or in [0, {self.num_branch}), "
                             f"got {test_branch_idx}")
        self.test_branch_idx = int(test_branch_idx)
        self.test_range_filter = bool(test_range_filter)
        for key in ("nms", "max_per_img"):
            if key not in self.test_cfg.rcnn:
                raise KeyError(f"TridentRCNN: test_cfg.rcnn.{key} is needed to merge the branches")

    # ------------------------------------------------------------------ branches
    def active_branches(self) -> tuple[int, ...]:
        """All branches in training and full inference; ``(test_branch_idx,)`` for TridentNet-Fast."""
        if self.training or self.test_branch_idx == -1:
            return tuple(range(self.num_branch))
        return (self.test_branch_idx,)

    def branch_data_samples(self, batch_data_samples: SampleList, branches: Sequence[int]) -> SampleList:
        """Branch-major copies of the samples (``len(branches) * B``), matching the features' layout.

        Copies are shallow except ``gt_instances`` (when it has boxes), which gets the branch's ``scale_valid``
        ``(G,)`` field.
        """
        out = []
        for b in branches:
            for sample in batch_data_samples:
                copy_ = sample.new()
                if "gt_instances" in sample and "bboxes" in sample.gt_instances:
                    gt = sample.gt_instances.new()
                    gt.scale_valid = self.branch_ranges[b].contains(gt.bboxes)
                    copy_.gt_instances = gt
                out.append(copy_)
        return out

    # ------------------------------------------------------------------ features
    def extract_feat(self, batch_inputs: Tensor, branches: Optional[Sequence[int]] = None) -> tuple[Tensor, ...]:
        """``(B, 3, H, W)`` images -> feature maps of the ``branches`` (default :meth:`active_branches`),
        branch-major along the batch axis."""
        branches = self.active_branches() if branches is None else tuple(branches)
        if isinstance(self.backbone, TridentStageResNet):
            x = self.backbone(batch_inputs, branches=branches)
        else:
            if branches != (0,):
                raise ValueError(f"a single-branch detector has branch 0 only, got branches={branches}")
            x = self.backbone(batch_inputs)
        return self.neck(x) if self.with_neck else x

    # ------------------------------------------------------------------ training
    def loss(self, batch_inputs: Tensor, batch_data_samples: SampleList) -> dict:
        branches = self.active_branches()
        return self.loss_from_feat(self.extract_feat(batch_inputs, branches), batch_data_samples, branches)

    def loss_from_feat(self, x: Sequence[Tensor], batch_data_samples: SampleList,
                       branches: Sequence[int]) -> dict:
        """RPN and R-CNN losses of all ``branches`` from features made by :meth:`extract_feat`."""
        samples = self.branch_data_samples(batch_data_samples, branches)
        rpn_samples = copy.deepcopy(samples)
        for sample in rpn_samples:  # the RPN is class-agnostic
            sample.gt_instances.labels = torch.zeros_like(sample.gt_instances.labels)
        proposal_cfg = self.train_cfg.get("rpn_proposal", self.test_cfg.rpn)
        rpn_losses, rpn_results = self.rpn_head.loss_and_predict(x, rpn_samples, proposal_cfg=proposal_cfg)
        losses = {(k if "rpn" in k or "loss" not in k else f"rpn_{k}"): v for k, v in rpn_losses.items()}
        losses.update(self.roi_head.loss(x, rpn_results, samples))
        return losses

    # ------------------------------------------------------------------ inference
    def predict(self, batch_inputs: Tensor, batch_data_samples: SampleList, rescale: bool = True) -> SampleList:
        branches = self.active_branches()
        results = self.predict_from_feat(self.extract_feat(batch_inputs, branches), batch_data_samples, branches,
                                         rescale=rescale)
        return self.add_pred_to_datasample(batch_data_samples, results)

    def detect_branches(self, x: Sequence[Tensor], batch_data_samples: SampleList,
                        branches: Sequence[int]) -> list[list[InstanceData]]:
        """Per branch, per image: the R-CNN detections (``bboxes`` in input pixels, ``scores``, ``labels``)
        before the merge, from features of those ``branches``."""
        samples = self.branch_data_samples(batch_data_samples, branches)
        rpn_results = self.rpn_head.predict(x, samples, rescale=False)
        dets = self.roi_head.predict(x, rpn_results, samples, rescale=False)
        n = len(batch_data_samples)
        return [dets[i * n:(i + 1) * n] for i in range(len(branches))]

    def predict_from_feat(self, x: Sequence[Tensor], batch_data_samples: SampleList, branches: Sequence[int],
                          rescale: bool = True) -> list[InstanceData]:
        """Merged detections per image (original-image pixels if ``rescale``) from :meth:`extract_feat`'s
        features of ``branches``.  Ranges are applied only in full inference (all branches, ``test_branch_idx
        == -1``, ``test_range_filter``)."""
        branches = tuple(branches)
        per_branch = self.detect_branches(x, batch_data_samples, branches)
        full = self.test_branch_idx == -1 and branches == tuple(range(self.num_branch))
        ranges = [self.branch_ranges[b] for b in branches] if full and self.test_range_filter else None
        rcnn = self.test_cfg.rcnn
        results = []
        for i, sample in enumerate(batch_data_samples):
            merged = merge_branch_detections([dets[i] for dets in per_branch], nms_cfg=rcnn.nms,
                                             max_per_img=rcnn.max_per_img, ranges=ranges)
            if rescale:
                merged.bboxes = _to_original(merged.bboxes, sample)
            results.append(merged)
        return results

    def _forward(self, batch_inputs: Tensor, batch_data_samples: SampleList) -> tuple:
        """Raw R-CNN outputs (class scores, box deltas) of the active branches' proposals."""
        branches = self.active_branches()
        x = self.extract_feat(batch_inputs, branches)
        samples = self.branch_data_samples(batch_data_samples, branches)
        rpn_results = self.rpn_head.predict(x, samples, rescale=False)
        return (self.roi_head.forward(x, rpn_results, samples),)


def _to_original(bboxes: Tensor, sample: DetDataSample) -> Tensor:
    """Input-pixel boxes -> original-image pixels (undo the pipeline's ``Resize``)."""
    if "scale_factor" not in sample.metainfo:
        raise KeyError("TridentRCNN: data sample metainfo lacks 'scale_factor' (put mmdet.Resize in the pipeline "
                       "and 'scale_factor' in PackDetInputs' meta_keys), needed to rescale detections")
    sx, sy = sample.metainfo["scale_factor"]
    return scale_boxes(bboxes, (1.0 / sx, 1.0 / sy)) if len(bboxes) else bboxes
