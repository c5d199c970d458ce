"""Merging branch detections: NMS across branches removes duplicates, keeps distinct boxes; range filter."""
from __future__ import annotations

import torch
from mmengine.structures import InstanceData

from perception.models.camera.trident import ScaleRange, merge_branch_detections

NMS = dict(type="nms", iou_threshold=0.5)


def _dets(boxes, scores, labels) -> InstanceData:
    return InstanceData(bboxes=torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4),
                        scores=torch.tensor(scores, dtype=torch.float32), labels=torch.tensor(labels))


def test_duplicates_across_branches_are_merged_distinct_boxes_kept():
    a = [10.0, 10.0, 50.0, 50.0]
    a_dup = [12.0, 11.0, 51.0, 50.0]    # IoU ~0.9 with a
    b = [100.0, 10.0, 140.0, 50.0]      # elsewhere
    c = [30.0, 30.0, 70.0, 70.0]        # IoU ~0.14 with a: a distinct object
    merged = merge_branch_detections(
        [_dets([a], [0.9], [0]), _dets([a_dup, b], [0.8, 0.7], [0, 0]), _dets([a_dup, c], [0.6, 0.5], [1, 0])],
        nms_cfg=NMS, max_per_img=100)
    # a (0.9) suppresses its class-0 duplicate from branch 1; the class-1 box on the same spot stays
    assert merged.scores.tolist() == [0.8999999761581421, 0.699999988079071, 0.6000000238418579, 0.5]
    assert merged.labels.tolist() == [0, 0, 1, 0]
    torch.testing.assert_close(merged.bboxes, torch.tensor([a, b, a_dup, c]))


def test_max_per_img_keeps_the_best():
    merged = merge_branch_detections([_dets([[0, 0, 10, 10], [20, 0, 30, 10]], [0.3, 0.9], [0, 0]),
                                      _dets([[40, 0, 50, 10]], [0.5], [2])], nms_cfg=NMS, max_per_img=2)
    assert merged.scores.tolist() == [0.8999999761581421, 0.5] and merged.labels.tolist() == [0, 2]


def test_range_filter_drops_boxes_outside_their_branch_range():
    small, large = [0.0, 0.0, 10.0, 10.0], [0.0, 50.0, 80.0, 130.0]   # scales 10 and 80
    branches = [_dets([small, large], [0.9, 0.8], [0, 0]), _dets([small, large], [0.7, 0.95], [1, 1])]
    ranges = [ScaleRange(0, 20), ScaleRange(40, None)]
    kept = merge_branch_detections(branches, nms_cfg=NMS, max_per_img=10, ranges=ranges)
    assert sorted(zip(kept.labels.tolist(), kept.scores.tolist())) == [(0, 0.8999999761581421),
                                                                       (1, 0.949999988079071)]
    everything = merge_branch_detections(branches, nms_cfg=NMS, max_per_img=10)
    assert len(everything) == 4


def test_single_branch_is_only_sorted_and_empty_input_works():
    one = merge_branch_detections([_dets([[0, 0, 10, 10], [1, 1, 10, 10]], [0.2, 0.6], [0, 0])], nms_cfg=NMS,
                                  max_per_img=0)
    assert one.scores.tolist() == [0.6000000238418579, 0.20000000298023224]  # already NMSed by the RoI head
    empty = merge_branch_detections([_dets([], [], []), _dets([], [], [])], nms_cfg=NMS, max_per_img=5)
    assert empty.bboxes.shape == (0, 4) and len(empty.scores) == 0
