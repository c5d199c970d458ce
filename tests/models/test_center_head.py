"""CenterHead: targets, decoding round trip, rotated NMS."""
import math

import pytest
import torch

from perception.models.dense_heads.center_head import CenterHead
from perception.models.utils.rotated_nms import rotated_nms_bev, rotated_nms_bev_reference
from perception.structures import Boxes3D, CoordFrame

RANGE = [0.0, -8.0, -3.0, 16.0, 8.0, 1.0]
VOXEL = [0.25, 0.25, 4.0]


def make_head(**test_cfg):
    head = CenterHead(in_channels=8, num_classes=3, point_range=RANGE, voxel_size=VOXEL, stride=2,
                      head_channels=8, test_cfg=dict(score_thr=0.3, **test_cfg))
    head.init_weights()
    return head


def test_targets_known_answer():
    head = make_head()
    # centre (5.3, 1.1): cell size 0.5 -> col 10.6, row 18.2 on a 32x32 map
    boxes = Boxes3D([[5.3, 1.1, -1.0, 4.0, 1.8, 1.5, 0.5]], frame=CoordFrame.LIDAR)
    t = head.get_targets([boxes], [torch.tensor([2])], (32, 32))
    assert t.heatmap.shape == (1, 3, 32, 32)
    assert t.heatmap[0, 2, 18, 10].item() == 1.0
    assert t.heatmap[0, 2].sum() > 1.0 and t.heatmap[0, :2].sum() == 0
    assert t.index[0, 0].item() == 18 * 32 + 10 and t.mask[0].sum() == 1
    expected = [0.6, 0.2, -1.0, math.log(4.0), math.log(1.8), math.log(1.5), math.sin(0.5), math.cos(0.5)]
    assert t.reg[0, 0].tolist() == pytest.approx(expected, abs=1e-5)


def test_boxes_outside_the_map_get_no_target():
    head = make_head()
    boxes = Boxes3D([[-1.0, 0.0, -1.0, 4.0, 1.8, 1.5, 0.0], [5.0, 9.0, -1, 1, 1, 1, 0]], frame=CoordFrame.LIDAR)
    t = head.get_targets([boxes], [torch.tensor([0, 1])], (32, 32))
    assert t.mask.sum() == 0 and t.heatmap.sum() == 0


def test_decode_recovers_encoded_boxes():
    head = make_head()
    gt = Boxes3D([[5.3, 1.1, -1.0, 4.0, 1.8, 1.5, 0.5], [12.2, -5.6, -0.8, 0.8, 0.6, 1.7, -2.0]],
                 frame=CoordFrame.LIDAR)
    labels = torch.tensor([0, 1])
    t = head.get_targets([gt], [labels], (32, 32))
    heat_logits = torch.logit(t.heatmap.clamp(1e-4, 1 - 1e-4))
    reg = torch.zeros(1, 8, 32 * 32)
    reg[0, :, t.index[0, :2]] = t.reg[0, :2].T
    out = head.decode(heat_logits, reg.view(1, 8, 32, 32))[0]
    assert len(out.bboxes_3d) == 2
    order = out.labels_3d.argsort()
    assert out.labels_3d[order].tolist() == [0, 1]
    assert torch.allclose(out.bboxes_3d.tensor[order], gt.tensor, atol=1e-4)
    assert out.scores_3d.min() > 0.99


def test_loss_is_finite_and_drops_when_fitting_one_sample():
    torch.manual_seed(0)
    head = make_head()
    gt = Boxes3D([[5.3, 1.1, -1.0, 4.0, 1.8, 1.5, 0.5]], frame=CoordFrame.LIDAR)
    bev = torch.randn(1, 8, 32, 32)
    opt = torch.optim.Adam(head.parameters(), lr=1e-2)
    losses = []
    for _ in range(30):
        loss = head.loss(bev, [gt], [torch.tensor([0])])
        total = sum(loss.values())
        assert torch.isfinite(total)
        opt.zero_grad()
        total.backward()
        opt.step()
        losses.append(total.item())
    assert losses[-1] < 0.5 * losses[0]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_rotated_nms_matches_reference(seed):
    g = torch.Generator().manual_seed(seed)
    n = 60
    t = torch.cat([torch.rand(n, 2, generator=g) * 10, torch.zeros(n, 1), 1 + torch.rand(n, 3, generator=g) * 3,
                   (torch.rand(n, 1, generator=g) - 0.5) * 2 * math.pi], 1)
    boxes = Boxes3D(t, frame=CoordFrame.LIDAR)
    scores = torch.rand(n, generator=g)
    labels = torch.randint(0, 2, (n,), generator=g)
    keep = rotated_nms_bev(boxes, scores, labels, 0.3)
    ref = rotated_nms_bev_reference(boxes.to(torch.float64), scores, labels, 0.3)
    assert sorted(keep.tolist()) == sorted(ref.tolist())
    assert len(ref) < n  # something was suppressed
