"""Panoptic head: targets, post-processing and losses with known answers; training steps of the three supervision
modes on a tiny synthetic batch (loss finite and decreasing); the camera model sharing one backbone pass between
the TridentNet detector and the panoptic head."""
from __future__ import annotations

import math
import pathlib

import numpy as np
import pytest
import torch
from mmdet.structures import DetDataSample
from mmengine.registry import init_default_scope
from mmengine.structures import InstanceData, PixelData

from perception.models.camera.panoptic import (PanopticPostProcessor, PanopticSegmentor, panoptic_targets)
from perception.models.camera.panoptic.losses import color_affinity_loss, point_label_map, semantic_loss
from perception.models.camera.panoptic.pseudo_labels import ImagePoints
from perception.registry import MODELS

CATS = [{"id": 1, "name": "car", "isthing": 1}, {"id": 4, "name": "road", "isthing": 0},
        {"id": 8, "name": "sky", "isthing": 0}]


def test_targets_centres_offsets_heatmap_and_small_instance_weights():
    sem = torch.full((20, 30), 1)
    inst = torch.full((20, 30), -1)
    sem[2:6, 3:9] = 0
    inst[2:6, 3:9] = 0            # 24 px, centre (x 5.5, y 3.5)
    sem[10:20, 10:30] = 0
    inst[10:20, 10:30] = 1        # 200 px, centre (19.5, 14.5)
    sem[0, 0] = 255
    t = panoptic_targets(sem, inst, sigma=2.0, small_instance_area=100, small_instance_weight=3.0)
    assert t.centers.tolist() == [[5.5, 3.5], [19.5, 14.5]]
    assert t.offset[:, 2, 3].tolist() == [2.5, 1.5] and t.offset[:, 19, 29].tolist() == [-9.5, -4.5]
    assert (t.offset_weight == (inst >= 0).float()).all()
    assert t.center[3, 5] == pytest.approx(math.exp(-0.5 / 8)) and t.center.max() <= 1.0
    assert t.center[0, 29] == 0.0
    assert t.semantic_weight[3, 4] == 3.0 and t.semantic_weight[15, 15] == 1.0 and t.semantic_weight[0, 0] == 0.0
    given = panoptic_targets(sem, inst, centers=torch.tensor([[4.0, 2.0], [12.0, 11.0]]), sigma=2.0)
    assert given.center[2, 4] == 1.0 and given.offset[:, 2, 3].tolist() == [1.0, 0.0]


def test_postprocessor_groups_thing_pixels_by_offsets_and_keeps_big_stuff():
    h, w = 12, 16
    logits = torch.zeros(3, h, w)
    logits[2, :4] = 5.0           # sky rows 0-3
    logits[1, 4:] = 5.0           # road rows 4-11
    logits[0, 6:10, 2:6] = 10.0   # car A
    logits[0, 6:10, 9:13] = 10.0  # car B
    logits[0, 0, 15] = 10.0       # one stray car pixel in the sky
    centre = torch.zeros(h, w)
    centre[8, 4] = 0.9
    centre[7, 11] = 0.8
    centre[0, 15] = 0.5           # the stray pixel's own centre
    offset = torch.zeros(2, h, w)
    ys, xs = torch.meshgrid(torch.arange(h).float(), torch.arange(w).float(), indexing="ij")
    left = xs < 8
    offset[0] = torch.where(left, 4 - xs, 11 - xs)
    offset[1] = torch.where(left, 8 - ys, 7 - ys)
    offset[:, 0, 15] = 0.0
    post = PanopticPostProcessor(category_ids=[1, 4, 8], thing_classes=[0], thing_min_area=2, stuff_min_area=10)
    ids, segs = post(logits, centre, offset)
    by_cat = {}
    for s in segs:
        by_cat.setdefault(s.category_id, []).append(s)
    assert len(by_cat[1]) == 2 and sorted(s.area for s in by_cat[1]) == [16, 16]
    a = ids[8, 3].item()
    assert (ids[6:10, 2:6] == a).all() and (ids[6:10, 9:13] == ids[7, 11]).all() and ids[7, 11] != a
    assert ids[0, 15] == 0  # 1-pixel instance below thing_min_area -> void
    assert by_cat[8][0].area == 4 * 16 - 1 and by_cat[4][0].area == 8 * 16 - 32
    assert [c.tolist() for c in post.centers(centre)[:, :2]] == [[4.0, 8.0], [11.0, 7.0], [15.0, 0.0]]
    strict = PanopticPostProcessor(category_ids=[1, 4, 8], thing_classes=[0], center_threshold=0.85)
    ids, segs = strict(logits, centre, offset)
    assert sum(s.isthing for s in segs) == 1 and (ids[6:10, 2:6] == ids[8, 3]).all()  # one centre: one instance


def test_point_label_map_expands_points_and_drops_conflicts():
    pts = ImagePoints(coords=torch.tensor([[2, 2], [4, 2], [9, 5]]), labels=torch.tensor([0, 1, 0]),
                      isthing=torch.tensor([True, False, True]))
    m = point_label_map(pts, (8, 12), expand=3)
    assert m[1, 1] == 0 and m[3, 5] == 1 and m[2, 3] == 255  # column 3 is claimed by both classes
    assert m[2, 2] == 0 and m[2, 4] == 1 and (m[4:7, 8:11] == 0).all() and m[0, 11] == 255


def test_semantic_loss_top_k_and_affinity_prefers_consistent_neighbours():
    logits = torch.zeros(1, 2, 1, 4)
    logits[0, 0, 0] = torch.tensor([4.0, 0.0, -4.0, 0.0])
    target = torch.zeros(1, 1, 4, dtype=torch.long)
    weight = torch.ones(1, 1, 4)
    per_px = torch.nn.functional.cross_entropy(logits, target, reduction="none")[0, 0]
    assert semantic_loss(logits, target, weight) == pytest.approx(per_px.mean().item())
    assert semantic_loss(logits, target, weight, top_k=0.25) == pytest.approx(per_px.max().item())
    lab = torch.zeros(1, 3, 4, 4)
    same = torch.zeros(1, 2, 4, 4)
    same[:, 0] = 6.0
    mixed = same.clone()
    mixed[:, :, :, 2:] = mixed[:, :, :, 2:].flip(1)
    assert color_affinity_loss(same, lab) < 0.01 < color_affinity_loss(mixed, lab)
    lab[:, 0, :, 2:] = 50.0  # a colour edge between the halves: mixed labels there are no longer penalised
    assert color_affinity_loss(mixed, lab) < 0.01


# ------------------------------------------------------------------------------------------ training steps
def tiny_segmentor(supervision: str, **head) -> PanopticSegmentor:
    init_default_scope("perception")
    cfg = dict(
        type="PanopticSegmentor",
        data_preprocessor=dict(type="mmdet.DetDataPreprocessor", mean=[123.675, 116.28, 103.53],
                               std=[58.395, 57.12, 57.375], bgr_to_rgb=False, pad_size_divisor=32),
        backbone=dict(type="mmdet.ResNet", depth=18, base_channels=8, out_indices=(0, 1, 2, 3),
                      norm_cfg=dict(type="BN", requires_grad=True), norm_eval=False),
        panoptic_head=dict(type="PanopticHead", supervision=supervision, categories=CATS,
                           in_channels=(8, 16, 32, 64), in_strides=(4, 8, 16, 32), channels=16, head_channels=16,
                           **head))
    torch.manual_seed(0)
    return MODELS.build(cfg)


def synthetic_batch(n: int = 2):
    """Images 64x96: sky on top, road below, two coloured car boxes; with points, panoptic ids and segments."""
    inputs, samples = [], []
    for i in range(n):
        img = np.zeros((64, 96, 3), np.uint8)
        img[:24] = (70, 130, 180)
        img[24:] = (128, 64, 128)
        ids = np.full((64, 96), 4000, np.int64)
        ids[:24] = 8000
        boxes = [(30, 44, 10 + 4 * i, 34 + 4 * i), (34, 52, 56, 86)]
        for k, (y0, y1, x0, x1) in enumerate(boxes):
            img[y0:y1, x0:x1] = (200, 30 + 100 * k, 30)
            ids[y0:y1, x0:x1] = 1001 + k
        pts = [((x0 + x1) // 2, (y0 + y1) // 2, 0, 1001 + k, True) for k, (y0, y1, x0, x1) in enumerate(boxes)]
        pts += [(48, 10, 2, 8000, False), (20, 58, 1, 4000, False)]
        sample = DetDataSample(metainfo=dict(img_shape=(64, 96), ori_shape=(64, 96), img_path=f"synthetic{i}.png",
                                             gt_segments_info=[
                                                 {"id": 1001, "category_id": 1, "label": 0, "isthing": True},
                                                 {"id": 1002, "category_id": 1, "label": 0, "isthing": True},
                                                 {"id": 4000, "category_id": 4, "label": 1, "isthing": False},
                                                 {"id": 8000, "category_id": 8, "label": 2, "isthing": False}]))
        sample.gt_points = InstanceData(coords=torch.tensor([[p[0], p[1]] for p in pts]),
                                        labels=torch.tensor([p[2] for p in pts]),
                                        segment_ids=torch.tensor([p[3] for p in pts]),
                                        isthing=torch.tensor([p[4] for p in pts]))
        sample.gt_panoptic = PixelData(ids=torch.from_numpy(ids)[None])
        inputs.append(torch.from_numpy(img.transpose(2, 0, 1).copy()))
        samples.append(sample)
    return {"inputs": inputs, "data_samples": samples}


@pytest.mark.parametrize("supervision", ["full", "points", "points_naive"])
def test_training_step_loss_is_finite_and_decreases(supervision, device="cpu"):
    model = tiny_segmentor(supervision, warmup_iters=1).to(device)
    model.train()
    optim = torch.optim.Adam(model.parameters(), lr=3e-3)
    history = []
    for _ in range(10):
        data = model.data_preprocessor(synthetic_batch(), True)
        losses = model(**data, mode="loss")
        total = sum(v for k, v in losses.items() if "loss" in k)
        assert all(torch.isfinite(v) for v in losses.values()), losses
        optim.zero_grad()
        total.backward()
        optim.step()
        history.append(float(total))
    assert np.mean(history[-3:]) < 0.8 * np.mean(history[:3]), history
    if supervision == "points":
        assert {"loss_guide", "loss_affinity", "loss_embedding", "pseudo_labelled"} <= set(losses)
        assert 0.0 < float(losses["pseudo_labelled"]) <= 1.0
        assert int(model.panoptic_head.num_iters) == 10


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU: reruns the training-step test on it")
@pytest.mark.parametrize("supervision", ["full", "points", "points_naive"])
def test_training_step_on_cuda(supervision):
    test_training_step_loss_is_finite_and_decreases(supervision, device="cuda")


def test_prediction_has_original_size_and_consistent_segments():
    model = tiny_segmentor("full")
    model.eval()
    batch = synthetic_batch(1)
    batch["data_samples"][0].set_metainfo({"ori_shape": (128, 192)})  # as if resized by 0.5 in the pipeline
    with torch.no_grad():
        out = model.test_step(batch)
    result = out[0].pred_panoptic
    assert result.ids.shape == (128, 192)
    ids, counts = np.unique(result.ids, return_counts=True)
    listed = {s.id: s.area for s in result.segments}
    assert {int(i): int(c) for i, c in zip(ids, counts) if i != 0} == listed
    assert all(s.category_id in (1, 4, 8) and s.isthing == (s.category_id == 1) for s in result.segments)
    sem = result.semantic()
    assert sem.shape == (128, 192) and set(np.unique(sem)) <= {0, 1, 4, 8}


def test_head_rejects_samples_without_the_needed_labels():
    model = tiny_segmentor("points")
    batch = synthetic_batch(1)
    del batch["data_samples"][0].gt_points
    data = model.data_preprocessor(batch, True)
    with pytest.raises(KeyError, match="has no gt_points"):
        model(**data, mode="loss")
    with pytest.raises(ValueError, match="supervision must be one of"):
        tiny_segmentor("boxes")


# ------------------------------------------------------------------------------------------ camera model
def tiny_camera_model(test_branch_idx: int = -1, panoptic_branch: int = 1):
    init_default_scope("perception")
    import perception.models.camera.trident  # noqa: F401  (registers TridentRCNN)

    norm = dict(type="BN", requires_grad=True)
    detector = dict(
        type="TridentRCNN", branch_ranges=((0, 20), (10, 40), (30, None)), test_branch_idx=test_branch_idx,
        backbone=dict(type="TridentStageResNet", depth=18, base_channels=8, num_stages=3, strides=(1, 2, 2),
                      dilations=(1, 1, 1), out_indices=(0, 1, 2), norm_cfg=norm, norm_eval=False,
                      trident_dilations=(1, 2, 3)),
        rpn_head=dict(type="mmdet.RPNHead", in_channels=32, feat_channels=32,
                      anchor_generator=dict(type="mmdet.AnchorGenerator", scales=[1, 2, 4], ratios=[1.0],
                                            strides=[16]),
                      bbox_coder=dict(type="mmdet.DeltaXYWHBBoxCoder", target_means=[0.0] * 4, target_stds=[1.0] * 4),
                      loss_cls=dict(type="mmdet.CrossEntropyLoss", use_sigmoid=True, loss_weight=1.0),
                      loss_bbox=dict(type="mmdet.L1Loss", loss_weight=1.0)),
        roi_head=dict(type="mmdet.StandardRoIHead",
                      bbox_roi_extractor=dict(type="mmdet.SingleRoIExtractor",
                                              roi_layer=dict(type="RoIAlign", output_size=7, sampling_ratio=2),
                                              out_channels=32, featmap_strides=[16]),
                      bbox_head=dict(type="mmdet.Shared2FCBBoxHead", in_channels=32, fc_out_channels=32,
                                     roi_feat_size=7, num_classes=1,
                                     bbox_coder=dict(type="mmdet.DeltaXYWHBBoxCoder", target_means=[0.0] * 4,
                                                     target_stds=[0.1, 0.1, 0.2, 0.2]),
                                     loss_cls=dict(type="mmdet.CrossEntropyLoss", use_sigmoid=False),
                                     loss_bbox=dict(type="mmdet.L1Loss"))),
        train_cfg=dict(
            rpn=dict(assigner=dict(type="ScaleAwareAssigner", assigner=dict(
                type="mmdet.MaxIoUAssigner", pos_iou_thr=0.7, neg_iou_thr=0.3, min_pos_iou=0.3)),
                sampler=dict(type="mmdet.RandomSampler", num=64, pos_fraction=0.5, add_gt_as_proposals=False),
                allowed_border=-1,
                pos_weight=-1, debug=False),
            rpn_proposal=dict(nms_pre=200, max_per_img=50, nms=dict(type="nms", iou_threshold=0.7), min_bbox_size=0),
            rcnn=dict(assigner=dict(type="ScaleAwareAssigner", assigner=dict(
                type="mmdet.MaxIoUAssigner", pos_iou_thr=0.5, neg_iou_thr=0.5, min_pos_iou=0.5)),
                sampler=dict(type="mmdet.RandomSampler", num=32, pos_fraction=0.5), pos_weight=-1, debug=False)),
        test_cfg=dict(rpn=dict(nms_pre=200, max_per_img=50, nms=dict(type="nms", iou_threshold=0.7), min_bbox_size=0),
                      rcnn=dict(score_thr=0.0, nms=dict(type="nms", iou_threshold=0.5), max_per_img=20)))
    cfg = dict(type="CameraModel", detector=detector, panoptic_levels=(0, 1, 2), panoptic_branch=panoptic_branch,
               data_preprocessor=dict(type="mmdet.DetDataPreprocessor", mean=[123.675, 116.28, 103.53],
                                      std=[58.395, 57.12, 57.375], bgr_to_rgb=False, pad_size_divisor=32),
               panoptic_head=dict(type="PanopticHead", supervision="points", categories=CATS, in_channels=(8, 16, 32),
                                  in_strides=(4, 8, 16), channels=16, head_channels=16, warmup_iters=1))
    torch.manual_seed(0)
    return MODELS.build(cfg)


def with_boxes(batch):
    for s in batch["data_samples"]:
        s.gt_instances = InstanceData(bboxes=torch.tensor([[10.0, 30, 34, 44], [56, 34, 86, 52]]),
                                      labels=torch.tensor([0, 0]))
        s.set_metainfo({"scale_factor": (1.0, 1.0)})
    return batch


def test_camera_model_runs_the_backbone_once_for_both_tasks():
    model = tiny_camera_model()
    calls = []
    model.detector.backbone.register_forward_hook(lambda *a: calls.append(1))
    model.train()
    data = model.data_preprocessor(with_boxes(synthetic_batch()), True)
    losses = model(**data, mode="loss")
    assert len(calls) == 1
    assert {"loss_rpn_cls", "loss_cls", "loss_bbox", "loss_semantic", "loss_center", "loss_guide"} <= set(losses)
    total = sum(v for k, v in losses.items() if "loss" in k and isinstance(v, torch.Tensor)) + \
        sum(sum(v) for k, v in losses.items() if "loss" in k and isinstance(v, list))
    assert torch.isfinite(total)
    total.backward()
    grads = [p.grad for p in model.detector.backbone.parameters() if p.grad is not None]
    assert grads and any(g.abs().sum() > 0 for g in grads)
    model.eval()
    calls.clear()
    with torch.no_grad():
        out = model.test_step(with_boxes(synthetic_batch(1)))
    assert len(calls) == 1
    assert out[0].pred_panoptic.ids.shape == (64, 96)
    assert out[0].pred_instances.bboxes.shape[-1] == 4


def test_camera_model_fast_mode_runs_only_the_panoptic_branch():
    model = tiny_camera_model(test_branch_idx=1)
    model.eval()
    assert model.branches() == (1,)
    with torch.no_grad():
        out = model.test_step(with_boxes(synthetic_batch(1)))
    assert out[0].pred_panoptic.ids.shape == (64, 96)
    bad = tiny_camera_model(test_branch_idx=0, panoptic_branch=1)
    bad.eval()
    with pytest.raises(ValueError, match="panoptic head reads branch 1"):
        bad.branches()


def test_predict_image_runs_a_config_on_a_plain_image():
    from perception.models.camera.panoptic.inference import load_panoptic_model, predict_image

    model, scale = load_panoptic_model(str(pathlib.Path(__file__).resolve().parents[2] / "configs" / "panoptic" /
                                           "panoptic_points_sim.py"), None)
    assert scale == (621, 188)
    image = np.zeros((75, 248, 3), np.uint8)
    image[40:] = 128
    result = predict_image(model, image, scale=(124, 38))
    assert result.ids.shape == (75, 248)
    assert {s.id for s in result.segments} == set(np.unique(result.ids).tolist()) - {0}
    with pytest.raises(ValueError, match="uint8 RGB"):
        predict_image(model, image.astype(np.float32), scale=(124, 38))
