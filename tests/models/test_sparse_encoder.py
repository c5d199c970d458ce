"""SECOND-style spconv encoder: output shape, sparsity, algorithm choice (CPU needs ConvAlgo.Native)."""
from __future__ import annotations

import pytest
import spconv.pytorch as spconv
import torch

from perception.models.middle_encoders.sparse_encoder import SparseEncoder
from perception.models.voxel_encoders.dynamic_vfe import VoxelFeatures

# grid (nz, ny, nx) = (10, 32, 48): z 10 -> 5 -> 3 (strided stages) -> 1 (output conv)
GRID = dict(point_range=[0.0, -3.2, -2.0, 9.6, 3.2, 0.0], voxel_size=[0.2, 0.2, 0.2])


def make_encoder(**kwargs) -> SparseEncoder:
    args = dict(in_channels=4, base_channels=8, stage_channels=[[8], [16, 16], [16]], stage_strides=[1, 2, 2],
                out_channels=12, **GRID)
    args.update(kwargs)
    torch.manual_seed(0)
    return SparseEncoder(**args)


def sample_voxels(device: str = "cpu") -> VoxelFeatures:
    """Voxels in sample 0 only, all with y < 16 (the left half of the grid); sample 1 is empty."""
    g = torch.Generator().manual_seed(0)
    cells = torch.randperm(10 * 16 * 48, generator=g)[:300].sort().values
    z, rest = cells // (16 * 48), cells % (16 * 48)
    voxels = torch.stack([torch.zeros_like(z), z, rest // 48, rest % 48], dim=1).int()
    return VoxelFeatures(features=torch.randn(300, 4, generator=g).to(device), voxels=voxels.to(device),
                         batch_size=2)


def check_bev_shape_and_sparsity(encoder: SparseEncoder, device: str) -> None:
    feats = sample_voxels(device)
    bev = encoder(feats)
    assert encoder.bev_stride == 4 and encoder.out_shape == (1, 8, 12) and encoder.bev_channels == 12
    assert bev.shape == (2, 12, 8, 12) and bev.device.type == device
    assert float(bev[1].abs().sum()) == 0.0  # an empty sample stays empty
    # strided 3x3x3 convs (padding 1) dilate the active set: rows 0..15 -> 0..8 -> 0..4 of the BEV map
    assert float(bev[0, :, 5:].abs().sum()) == 0.0 and float(bev[0, :, :5].abs().sum()) > 0.0
    bev.square().mean().backward()
    for name, p in encoder.named_parameters():
        assert p.grad is not None and float(p.grad.abs().sum()) > 0, name


def test_sparse_encoder_bev_shape_and_sparsity_on_cpu():
    encoder = make_encoder()
    assert encoder.algo == spconv.ConvAlgo.Native or torch.cuda.is_available()
    encoder.set_algo("native")
    check_bev_shape_and_sparsity(encoder, "cpu")


def test_sparse_encoder_algorithm_is_a_constructor_argument_and_cpu_needs_native():
    encoder = make_encoder(algo="mask_implicit_gemm")
    assert all(m.algo == spconv.ConvAlgo.MaskImplicitGemm for m in encoder.modules()
               if isinstance(m, spconv.conv.SparseConvolution))
    with pytest.raises(RuntimeError, match="algo='native'"):
        encoder(sample_voxels())
    native = make_encoder(algo="native")
    encoder.set_algo("native")  # same weight layout (KRSC): the switched model equals one built Native
    with torch.no_grad():
        assert torch.equal(encoder(sample_voxels()), native(sample_voxels()))
    with pytest.raises(ValueError, match="algo must be"):
        make_encoder(algo="fast")
    with pytest.raises(ValueError, match="z-voxels"):
        make_encoder(stage_strides=[2, 2, 2])  # z: 10 -> 5 -> 3 -> 2, too thin for the output conv


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_sparse_encoder_bev_shape_and_sparsity_on_cuda():
    encoder = make_encoder(algo="auto").cuda()
    assert encoder.algo == spconv.ConvAlgo.MaskImplicitGemm
    check_bev_shape_and_sparsity(encoder, "cuda")
