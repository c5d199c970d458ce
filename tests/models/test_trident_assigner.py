"""ScaleAwareAssigner: an object outside a branch's range gets no positive sample in that branch (unit level;
the detector-level check for the RPN and R-CNN head is in test_trident_detector.py)."""
from __future__ import annotations

import pytest
import torch
from mmdet.models.task_modules.samplers import RandomSampler
from mmengine.structures import InstanceData

from perception.models.camera.trident import ScaleAwareAssigner, ScaleRange

MAX_IOU = dict(type="mmdet.MaxIoUAssigner", pos_iou_thr=0.5, neg_iou_thr=0.4, min_pos_iou=0.5,
               match_low_quality=False, ignore_iof_thr=-1)
SMALL = [10.0, 10.0, 20.0, 20.0]     # scale 10
LARGE = [40.0, 10.0, 100.0, 70.0]    # scale 60
FAR = [200.0, 200.0, 220.0, 220.0]


def _gt(valid):
    return InstanceData(bboxes=torch.tensor([SMALL, LARGE]), labels=torch.tensor([0, 1]),
                        scale_valid=torch.tensor(valid))


def test_scale_range_contains():
    r = ScaleRange(low=10, high=60)
    boxes = torch.tensor([SMALL, LARGE, [0.0, 0.0, 9.0, 9.0], [0.0, 0.0, 61.0, 61.0]])
    assert r.contains(boxes).tolist() == [True, True, False, False]  # both ends inclusive
    assert ScaleRange(low=30).contains(boxes).tolist() == [False, True, False, True]
    with pytest.raises(ValueError):
        ScaleRange(low=50, high=10)


@pytest.mark.parametrize("policy, expected_large", [("ignore", -1), ("negative", 0)])
def test_out_of_range_positives_are_ignored_or_negative(policy, expected_large):
    assigner = ScaleAwareAssigner(assigner=MAX_IOU, out_of_range=policy)
    priors = InstanceData(priors=torch.tensor([SMALL, LARGE, FAR, [41.0, 11.0, 99.0, 69.0]]))
    res = assigner.assign(priors, _gt([True, False]))
    # prior 0 -> small GT (index 1, valid); priors 1 and 3 would be positives of the large GT
    assert res.gt_inds.tolist() == [1, expected_large, 0, expected_large]
    assert res.labels.tolist() == [0, -1, -1, -1]
    # in the branch where the large object is valid it is a normal positive
    res = assigner.assign(priors, _gt([True, True]))
    assert res.gt_inds.tolist() == [1, 2, 0, 2] and res.labels.tolist() == [0, 1, -1, 1]


def test_ground_truth_added_as_proposals_respects_the_range():
    assigner = ScaleAwareAssigner(assigner=MAX_IOU)
    sampler = RandomSampler(num=16, pos_fraction=0.5, neg_pos_ub=-1, add_gt_as_proposals=True)
    gt = _gt([False, True])
    preds = InstanceData(priors=torch.tensor([FAR, [200.0, 10.0, 230.0, 40.0]]))
    result = sampler.sample(assigner.assign(preds, gt), preds, gt)
    # the proposals are [SMALL (as GT), LARGE (as GT), FAR, ...]: only the large copy is positive
    assert result.pos_inds.tolist() == [1]
    assert result.pos_assigned_gt_inds.tolist() == [1]
    assert 0 not in result.neg_inds.tolist()  # the small GT copy is ignored, not background


def test_missing_validity_field_is_an_error():
    assigner = ScaleAwareAssigner(assigner=MAX_IOU)
    with pytest.raises(KeyError, match="scale_valid"):
        assigner.assign(InstanceData(priors=torch.tensor([SMALL])),
                        InstanceData(bboxes=torch.tensor([SMALL]), labels=torch.tensor([0])))
