"""TridentRCNN: scale-aware training end to end (RPN and R-CNN), the branch merge, the TridentNet-Fast switch."""
from __future__ import annotations

import torch
from mmdet.structures import DetDataSample
from mmdet.structures.bbox import bbox_overlaps
from mmengine.config import ConfigDict
from mmengine.structures import InstanceData

from perception.models.camera.trident import TridentRCNN, merge_branch_detections
from perception.registry import MODELS


def tiny_trident(**overrides) -> TridentRCNN:
    """A small TridentRCNN (ResNet-18 C4, base width 8) with ranges [0, 24], [16, 48], [40, inf] input px."""
    c4 = 32
    sa = lambda **kw: dict(type="perception.ScaleAwareAssigner",  # noqa: E731
                           assigner=dict(type="mmdet.MaxIoUAssigner", ignore_iof_thr=-1, **kw))
    cfg = dict(
        type="TridentRCNN", branch_ranges=((0, 24), (16, 48), (40, None)),
        data_preprocessor=dict(type="mmdet.DetDataPreprocessor", mean=[0.0] * 3, std=[255.0] * 3,
                               pad_size_divisor=32),
        backbone=dict(type="perception.TridentStageResNet", depth=18, base_channels=8, num_stages=3, strides=(1, 2, 2),
                      dilations=(1, 1, 1), out_indices=(2,), norm_eval=False, trident_dilations=(1, 2, 3)),
        rpn_head=dict(type="mmdet.RPNHead", in_channels=c4, feat_channels=c4,
                      anchor_generator=dict(type="mmdet.AnchorGenerator", scales=[1, 2, 4], ratios=[1.0],
                                            strides=[16]),
                      bbox_coder=dict(type="mmdet.DeltaXYWHBBoxCoder", target_means=[0.0] * 4, target_stds=[1.0] * 4),
                      loss_cls=dict(type="mmdet.CrossEntropyLoss", use_sigmoid=True),
                      loss_bbox=dict(type="mmdet.L1Loss")),
        roi_head=dict(type="mmdet.StandardRoIHead",
                      bbox_roi_extractor=dict(type="mmdet.SingleRoIExtractor",
                                              roi_layer=dict(type="RoIAlign", output_size=7, sampling_ratio=2),
                                              out_channels=c4, featmap_strides=[16]),
                      bbox_head=dict(type="mmdet.Shared2FCBBoxHead", in_channels=c4, fc_out_channels=32,
                                     roi_feat_size=7, num_classes=2,
                                     bbox_coder=dict(type="mmdet.DeltaXYWHBBoxCoder", target_means=[0.0] * 4,
                                                     target_stds=[0.1, 0.1, 0.2, 0.2]),
                                     loss_cls=dict(type="mmdet.CrossEntropyLoss"),
                                     loss_bbox=dict(type="mmdet.L1Loss"))),
        train_cfg=dict(
            rpn=dict(assigner=sa(pos_iou_thr=0.7, neg_iou_thr=0.3, min_pos_iou=0.3, match_low_quality=True),
                     sampler=dict(type="mmdet.RandomSampler", num=64, pos_fraction=0.5, neg_pos_ub=-1,
                                  add_gt_as_proposals=False), allowed_border=-1, pos_weight=-1, debug=False),
            rpn_proposal=dict(nms_pre=200, max_per_img=50, nms=dict(type="nms", iou_threshold=0.7), min_bbox_size=0),
            rcnn=dict(assigner=sa(pos_iou_thr=0.5, neg_iou_thr=0.5, min_pos_iou=0.5, match_low_quality=False),
                      sampler=dict(type="mmdet.RandomSampler", num=64, pos_fraction=0.5, neg_pos_ub=-1,
                                   add_gt_as_proposals=True), pos_weight=-1, debug=False)),
        test_cfg=dict(rpn=dict(nms_pre=200, max_per_img=50, nms=dict(type="nms", iou_threshold=0.7), min_bbox_size=0),
                      rcnn=dict(score_thr=0.0, nms=dict(type="nms", iou_threshold=0.5), max_per_img=20)))
    cfg.update(overrides)
    torch.manual_seed(0)
    model = MODELS.build(ConfigDict(cfg))
    model.init_weights()
    return model


def _sample(boxes, labels, shape=(96, 160)) -> DetDataSample:
    s = DetDataSample(metainfo=dict(img_shape=shape, ori_shape=shape, pad_shape=shape, scale_factor=(1.0, 1.0),
                                    batch_input_shape=shape))
    # tensors, as DetDataPreprocessor (boxtype2tensor) hands them to the model
    s.gt_instances = InstanceData(bboxes=torch.tensor(boxes, dtype=torch.float32), labels=torch.tensor(labels))
    return s


def _spy(sampler, calls: list):
    original = sampler.sample

    def sample(assign_result, pred_instances, gt_instances, **kwargs):
        result = original(assign_result, pred_instances, gt_instances, **kwargs)
        calls.append((gt_instances.scale_valid.clone(), gt_instances.bboxes.clone(), result))
        return result

    sampler.sample = sample


def test_detector_gives_out_of_range_objects_no_positive_in_rpn_and_rcnn():
    """One training step of the detector on two objects: a small one (scale 16, valid in branches 0 and 1)
    and a large one (scale 64, valid in branch 2 only).  Every positive of every branch (RPN anchors, R-CNN
    proposals) belongs to an in-range object; an out-of-range object's would-be positives are ignored, not
    background; each object does get positives in its own branches."""
    model = tiny_trident()
    model.train()
    small, large = [20.0, 20.0, 36.0, 36.0], [64.0, 16.0, 128.0, 80.0]
    samples = [_sample([small, large], [0, 1])]
    rpn_calls, rcnn_calls = [], []
    _spy(model.rpn_head.sampler, rpn_calls)
    _spy(model.roi_head.bbox_sampler, rcnn_calls)
    losses = model.loss(torch.rand(1, 3, 96, 160), samples)
    total, _ = model.parse_losses(losses)
    assert torch.isfinite(total)
    assert len(rpn_calls) == 3 and len(rcnn_calls) == 3  # one image x three branches, branch-major
    expected_valid = [[True, False], [True, False], [False, True]]
    for stage, calls, neg_thr in (("rpn", rpn_calls, 0.3), ("rcnn", rcnn_calls, 0.5)):
        for b, (valid, gt_boxes, result) in enumerate(calls):
            assert valid.tolist() == expected_valid[b], (stage, b)
            pos_gt = result.pos_assigned_gt_inds
            assert valid[pos_gt].all(), f"{stage} branch {b}: positive of an out-of-range object"
            assert set(pos_gt.tolist()) == set(valid.nonzero().flatten().tolist()), (stage, b)
            invalid = gt_boxes[~valid]
            ious = bbox_overlaps(result.neg_priors, invalid)
            assert ious.numel() == 0 or ious.max() < neg_thr, f"{stage} branch {b}: would-be positive made negative"


def _test_samples(n: int, scale: float = 0.5) -> list[DetDataSample]:
    """Test-time samples of 96x160 inputs resized from (96 / scale)x(160 / scale) originals."""
    shape = (96, 160)
    ori = (int(96 / scale), int(160 / scale))
    return [DetDataSample(metainfo=dict(img_shape=shape, ori_shape=ori, pad_shape=shape, scale_factor=(scale, scale),
                                        batch_input_shape=shape)) for _ in range(n)]


def _fast_and_full():
    full = tiny_trident()
    fast = tiny_trident(test_branch_idx=1)
    fast.load_state_dict(full.state_dict())
    full.eval()
    fast.eval()
    return fast, full


def test_fast_switch_runs_only_the_middle_branch_and_equals_it():
    fast, full = _fast_and_full()
    assert fast.active_branches() == (1,) and full.active_branches() == (0, 1, 2)
    img = torch.rand(2, 3, 96, 160)
    with torch.no_grad():
        assert fast.extract_feat(img)[0].shape[0] == 2 and full.extract_feat(img)[0].shape[0] == 6
        out = fast.predict(img, _test_samples(2))
        # branch 1 of an all-branch run of the full model, before any merge or range filter
        per_branch = full.detect_branches(full.extract_feat(img), _test_samples(2), (0, 1, 2))
    max_per_img = full.test_cfg.rcnn.max_per_img
    for i in range(2):
        ref = per_branch[1][i]
        order = ref.scores.argsort(descending=True)[:max_per_img]
        pred = out[i].pred_instances
        assert len(pred) > 0
        torch.testing.assert_close(pred.scores, ref.scores[order], rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(pred.labels, ref.labels[order])
        torch.testing.assert_close(pred.bboxes, ref.bboxes[order] * 2.0, rtol=1e-4, atol=1e-3)  # scale 0.5 undone
    fast.train()
    assert fast.active_branches() == (0, 1, 2)  # training always uses every branch


def test_full_inference_range_filters_and_merges_the_three_branches():
    _, full = _fast_and_full()
    img = torch.rand(1, 3, 96, 160)
    with torch.no_grad():
        pred = full.predict(img, _test_samples(1))[0].pred_instances
        per_branch = full.detect_branches(full.extract_feat(img), _test_samples(1), (0, 1, 2))
    expected = merge_branch_detections([b[0] for b in per_branch], nms_cfg=full.test_cfg.rcnn.nms,
                                       max_per_img=full.test_cfg.rcnn.max_per_img, ranges=full.branch_ranges)
    assert len(expected) > 0
    torch.testing.assert_close(pred.scores, expected.scores)
    torch.testing.assert_close(pred.bboxes, expected.bboxes * 2.0)
    # every kept box lies in some branch's range; filter + NMS removed something
    in_some_range = torch.stack([r.contains(expected.bboxes) for r in full.branch_ranges]).any(dim=0)
    assert in_some_range.all()
    assert len(pred) < sum(len(b[0]) for b in per_branch)


def test_single_branch_detector_with_a_plain_backbone():
    model = tiny_trident(branch_ranges=None, backbone=dict(type="mmdet.ResNet", depth=18, base_channels=8,
                                                            num_stages=3, strides=(1, 2, 2), dilations=(1, 1, 1),
                                                            out_indices=(2,), norm_eval=False))
    assert model.num_branch == 1 and model.active_branches() == (0,)
    model.train()
    losses = model.loss(torch.rand(1, 3, 96, 160), [_sample([[20.0, 20.0, 36.0, 36.0]], [1])])
    assert {"loss_rpn_cls", "loss_rpn_bbox", "loss_cls", "loss_bbox"} <= set(losses)
    model.eval()
    with torch.no_grad():
        assert len(model.predict(torch.rand(1, 3, 96, 160), _test_samples(1))) == 1
