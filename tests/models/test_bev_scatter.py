"""Dense BEV scatter of sparse voxel features."""
import torch

from perception.models.middle_encoders.bev_scatter import scatter_to_bev
from perception.models.utils.bev_grid import VoxelGrid
from perception.models.voxel_encoders.dynamic_vfe import DynamicVFE, VoxelFeatures


def test_scatter_places_features_at_row_y_col_x():
    grid = VoxelGrid(point_range=[0, 0, -2, 4, 3, 2], voxel_size=[1, 1, 2])  # nz=2, ny=3, nx=4
    feats = torch.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    voxels = torch.tensor([[0, 0, 2, 3], [1, 1, 0, 1], [0, 1, 1, 0]], dtype=torch.int32)
    bev = scatter_to_bev(VoxelFeatures(features=feats, voxels=voxels, batch_size=2), grid)
    assert bev.shape == (2, 4, 3, 4)  # channels = nz * C, z-major
    assert bev[0, 0:2, 2, 3].tolist() == [1.0, 2.0]
    assert bev[1, 2:4, 0, 1].tolist() == [3.0, 4.0]
    assert bev[0, 2:4, 1, 0].tolist() == [5.0, 6.0]
    assert bev.abs().sum().item() == sum(range(1, 7))


def test_dynamic_vfe_drops_out_of_range_points_and_pools_per_voxel():
    torch.manual_seed(0)
    vfe = DynamicVFE(in_channels=4, feat_channels=(8, 16), point_range=[0, -4, -3, 8, 4, 1], voxel_size=[1, 1, 4])
    vfe.eval()
    pts_a = torch.tensor([[0.5, 0.5, 0.0, 0.1], [0.6, 0.4, -1.0, 0.2], [7.5, -3.5, 0.0, 0.3], [9.0, 0.0, 0.0, 0.0]])
    pts_b = torch.tensor([[3.2, 1.1, 0.0, 0.5]])
    out = vfe([pts_a, pts_b])
    assert out.voxels.tolist() == [[0, 0, 0, 7], [0, 0, 4, 0], [1, 0, 5, 3]]  # batch-major linear order
    assert out.features.shape == (3, 16) and out.batch_size == 2
    # the same voxel alone gives the same feature: pooling is per voxel, batch index separates samples
    alone = vfe([pts_b])
    assert torch.allclose(alone.features[0], out.features[2], atol=1e-6)
