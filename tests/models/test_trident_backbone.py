"""TridentStageResNet: shared weights, per-branch dilation, branch layout, TridentNet-Fast subset."""
from __future__ import annotations

import copy

import pytest
import torch
from mmdet.models.backbones import ResNet
from torch import nn

from perception.models.camera.trident import TridentConv2d, TridentStageResNet

STAGE_KW = dict(base_channels=8, num_stages=3, strides=(1, 2, 2), dilations=(1, 1, 1), out_indices=(2,),
                norm_eval=False)


def _trident(depth: int, dilations=(1, 2, 3)) -> TridentStageResNet:
    torch.manual_seed(0)
    model = TridentStageResNet(depth=depth, trident_dilations=dilations, **STAGE_KW)
    model.init_weights()
    with torch.no_grad():  # non-trivial norm statistics, so eval mode is not the identity
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
    model.eval()  # (mmdet's ResNet.train returns None: no chaining)
    return model


def _plain_with_dilated_stage(trident: TridentStageResNet, depth: int, dilation: int) -> ResNet:
    """An independent reference: a plain mmdet ResNet with the trident's weights whose stage-3 k x k convs are
    given dilation ``dilation`` (and padding ``dilation``) by hand."""
    plain = ResNet(depth=depth, **STAGE_KW)
    plain.load_state_dict({k: v.cpu() for k, v in trident.state_dict().items()}, strict=True)
    for m in plain.layer3.modules():
        if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3):
            m.dilation, m.padding = (dilation, dilation), (dilation, dilation)
    plain.eval()
    return plain


def _check_branches_equal_dilated_plain_resnet(depth: int, device: str) -> None:
    model = _trident(depth).to(device)
    x = torch.randn(2, 3, 64, 96, device=device)
    with torch.no_grad():
        (out,) = model(x)
        assert out.shape[0] == 3 * 2  # branch-major: 3 branches x 2 images
        for b, d in enumerate((1, 2, 3)):
            (ref,) = _plain_with_dilated_stage(model, depth, d).to(device)(x)
            torch.testing.assert_close(out[2 * b:2 * (b + 1)], ref, rtol=1e-4, atol=1e-4)
        # branches really differ (dilation changes the receptive field)
        assert (out[0:2] - out[2:4]).abs().max() > 1e-3


@pytest.mark.parametrize("depth", [18, 50])
def test_each_branch_is_the_plain_resnet_with_that_dilation(depth):
    _check_branches_equal_dilated_plain_resnet(depth, "cpu")


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("depth", [18, 50])
def test_each_branch_is_the_plain_resnet_with_that_dilation_cuda(depth):
    _check_branches_equal_dilated_plain_resnet(depth, "cuda")


def test_bottleneck_branch_matches_mmdet_dilated_resnet():
    """For Bottleneck blocks (one 3x3 conv each, as in the paper) branch b equals mmdet's own ResNet built with
    stage-3 dilation d_b: a known answer from a second implementation."""
    model = _trident(50)
    x = torch.randn(1, 3, 48, 80)
    with torch.no_grad():
        (out,) = model(x)
        for b, d in enumerate((1, 2, 3)):
            ref = ResNet(depth=50, **{**STAGE_KW, "dilations": (1, 1, d)})
            ref.load_state_dict(model.state_dict(), strict=True)
            ref.eval()
            torch.testing.assert_close(out[b:b + 1], ref(x)[0], rtol=1e-4, atol=1e-5)


def test_branches_share_one_set_of_parameters():
    model = _trident(18)
    plain = ResNet(depth=18, **STAGE_KW)
    assert [(n, p.shape) for n, p in model.named_parameters()] == [(n, p.shape) for n, p in plain.named_parameters()]
    tridents = [m for m in model.modules() if isinstance(m, TridentConv2d)]
    assert len(tridents) == 4  # 2 BasicBlocks x 2 3x3 convs, all in layer3
    assert all(t in set(model.layer3.modules()) for t in tridents)
    # the gradient of a branch-2-only loss lands in the one shared weight
    model.train()
    x = torch.randn(1, 3, 64, 64)
    (out,) = model(x)
    out[2:3].sum().backward()
    assert tridents[0].weight.grad is not None and tridents[0].weight.grad.abs().sum() > 0


def test_fast_subset_equals_the_same_branch_of_the_full_run():
    model = _trident(18)
    x = torch.randn(2, 3, 64, 96)
    with torch.no_grad():
        (full,) = model(x)
        (fast,) = model(x, branches=(1,))
        (pair,) = model(x, branches=(2, 0))
    assert fast.shape[0] == 2
    torch.testing.assert_close(fast, full[2:4], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(pair, torch.cat([full[4:6], full[0:2]]), rtol=1e-5, atol=1e-6)


def test_single_dilation_one_is_a_plain_resnet():
    model = _trident(18, dilations=(1,))
    plain = ResNet(depth=18, **STAGE_KW)
    plain.load_state_dict(model.state_dict(), strict=True)
    plain.eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(model(x)[0], plain(x)[0], rtol=1e-5, atol=1e-6)


def test_bad_arguments_are_rejected():
    with pytest.raises(ValueError, match="dilations"):
        TridentStageResNet(depth=18, **{**STAGE_KW, "dilations": (1, 1, 2)})
    with pytest.raises(ValueError, match="trident_stage"):
        TridentStageResNet(depth=18, trident_stage=5, **STAGE_KW)
    model = _trident(18)
    with pytest.raises(ValueError, match="branches"):
        model(torch.randn(1, 3, 32, 32), branches=(3,))
    conv = copy.deepcopy(model.layer3[0].conv1)
    conv.active_branches = (0, 1)
    with pytest.raises(ValueError, match="multiple"):
        conv(torch.randn(3, conv.in_channels, 8, 8))
