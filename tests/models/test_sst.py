"""SST modules: positional encoding, input layer (windows, buckets, drop), window attention, blocks, encoder."""
from __future__ import annotations

import ast
import math
import pathlib
import subprocess
import sys
import textwrap
import warnings

import pytest
import torch
from torch import nn

from perception import ops
from perception.layers.sst.block import SSTBlock, SSTEncoderLayer
from perception.layers.sst.encoder import SSTEncoder
from perception.layers.sst.input_layer import SSTInputLayer
from perception.layers.sst.positional_encoding import window_positional_encoding
from perception.layers.sst.window_attention import SparseWindowAttention

SPARSE_SHAPE = (24, 24)  # (ny, nx)
#: The device-dependent tests run on the CPU and again on a CUDA GPU when there is one.
DEVICES = ["cpu", pytest.param("cuda", marks=[pytest.mark.cuda, pytest.mark.skipif(
    not torch.cuda.is_available(), reason="needs a CUDA GPU")])]
WINDOW = (6, 6)
C = 16


def random_voxels(num: int, *, batch_size: int = 2, seed: int = 0, shape=SPARSE_SHAPE) -> torch.Tensor:
    """``(V, 4)`` int32 unique ``[b, 0, y, x]`` voxels, batch-major sorted."""
    g = torch.Generator().manual_seed(seed)
    ny, nx = shape
    cells = torch.randperm(batch_size * ny * nx, generator=g)[:num].sort().values
    b, rest = cells // (ny * nx), cells % (ny * nx)
    return torch.stack([b, torch.zeros_like(b), rest // nx, rest % nx], dim=1).int()


def input_layer(caps=(8, 16, 36), test_caps=(8, 16, 36), **kwargs) -> SSTInputLayer:
    kwargs.setdefault("pos_channels", C)
    return SSTInputLayer(sparse_shape=SPARSE_SHAPE, window_shape=WINDOW, train_bucket_caps=caps,
                         test_bucket_caps=test_caps, **kwargs)


def window_key(voxels: torch.Tensor, shifted: bool) -> list[tuple[int, int, int]]:
    """Each voxel's window ``(b, row, col)``, computed directly from the definition."""
    s = (WINDOW[0] // 2, WINDOW[1] // 2) if shifted else (0, 0)
    v = voxels.long()
    return [(int(b), int((y + s[0]) // WINDOW[0]), int((x + s[1]) // WINDOW[1])) for b, _, y, x in v.tolist()]


# ---------------------------------------------------------------------------------------- positional encoding
def test_positional_encoding_known_values_and_symmetry():
    coords = torch.tensor([[0, 0], [2, 5], [5, 3]])
    pe = window_positional_encoding(coords, window_shape=(6, 6), channels=8, temperature=100.0)
    assert pe.shape == (3, 8)
    # n = 2 frequencies: 1 and 100 ** -0.5 = 0.1; y half first, each half [sin f0, sin f1, cos f0, cos f1]
    p = torch.tensor([[-2.5, -2.5], [-0.5, 2.5], [2.5, 0.5]])
    for i in range(3):
        for axis in range(2):
            expected = [math.sin(p[i, axis]), math.sin(0.1 * p[i, axis]), math.cos(p[i, axis]),
                        math.cos(0.1 * p[i, axis])]
            assert pe[i, 4 * axis: 4 * axis + 4].tolist() == pytest.approx(expected, abs=1e-6)
    # mirrored coordinates: sines flip sign, cosines agree
    mirrored = window_positional_encoding(5 - coords, window_shape=(6, 6), channels=8, temperature=100.0)
    sin_cols, cos_cols = [0, 1, 4, 5], [2, 3, 6, 7]
    assert torch.allclose(mirrored[:, sin_cols], -pe[:, sin_cols], atol=1e-6)
    assert torch.allclose(mirrored[:, cos_cols], pe[:, cos_cols], atol=1e-6)
    normalized = window_positional_encoding(coords, window_shape=(6, 6), channels=8, temperature=100.0,
                                            normalize=True)
    assert normalized[0, 0].item() == pytest.approx(math.sin(-2.5 * 2 * math.pi / 6), abs=1e-6)
    with pytest.raises(ValueError, match="multiple of 4"):
        window_positional_encoding(coords, window_shape=(6, 6), channels=6)


# ---------------------------------------------------------------------------------------- input layer
@pytest.mark.parametrize("training", [False, True])
def test_input_layer_groups_every_voxel_into_one_bucket_row_per_window(training):
    voxels = random_voxels(300)
    layer = input_layer().train(training)
    tokens = layer(torch.randn(300, C), voxels)
    assert tokens.num_dropped == 0 and tokens.num_tokens == 300  # caps hold full 6x6 windows
    assert sorted(tokens.source_index.tolist()) == list(range(300))
    assert torch.equal(tokens.voxels, voxels[tokens.source_index])
    for layout, shifted in zip(tokens.layouts, (False, True)):
        assert layout.shifted is shifted
        keys = window_key(tokens.voxels, shifted)
        seen = []
        for bucket in layout.batches.buckets:
            assert torch.equal(bucket.padding_mask, bucket.index < 0)
            for row in bucket.index.tolist():
                members = [i for i in row if i >= 0]
                assert members and len({keys[i] for i in members}) == 1  # one window per row
                assert len(members) <= bucket.cap
                seen += members
        assert sorted(seen) == list(range(300))  # each token exactly once
        assert len({keys[i] for i in range(300)}) == layout.partition.num_windows
        expected_pe = window_positional_encoding(layout.partition.coord_in_window, window_shape=WINDOW, channels=C)
        assert torch.equal(layout.pos_embed, expected_pe)
    if not training:
        assert torch.equal(tokens.source_index, torch.arange(300))  # no shuffling in eval


def full_window_voxels() -> torch.Tensor:
    """Sample 0: regular window (0, 0) full (36 voxels) plus 3 voxels in window (0, 2); sample 1: 2 voxels."""
    ys, xs = torch.meshgrid(torch.arange(6), torch.arange(6), indexing="ij")
    full = torch.stack([torch.zeros(36, dtype=torch.long), torch.zeros(36, dtype=torch.long), ys.flatten(),
                        xs.flatten()], 1)
    extra = torch.tensor([[0, 0, 1, 13], [0, 0, 4, 15], [0, 0, 2, 16], [1, 0, 20, 20], [1, 0, 21, 3]])
    return torch.cat([full, extra]).int()


def test_input_layer_drops_over_full_windows_consistently_in_both_partitions():
    voxels = full_window_voxels()
    torch.manual_seed(0)
    layer = input_layer(caps=(4, 10), test_caps=(4, 10, 36), shuffle_voxels=True).train()
    tokens = layer(torch.randn(len(voxels), C), voxels)
    # the 36-voxel regular window keeps 10; the shifted windows over it hold 9 / 6 / 6 / ... -> more drops possible
    assert tokens.num_dropped >= 26
    kept = set(tokens.source_index.tolist())
    assert {36, 37, 38, 39, 40} <= kept  # voxels of sparse windows are never dropped
    for layout, shifted in zip(tokens.layouts, (False, True)):
        assert bool(layout.batches.keep.all())
        counts = {}
        for key in window_key(tokens.voxels, shifted):
            counts[key] = counts.get(key, 0) + 1
        assert max(counts.values()) <= 10
        tokens_in_buckets = sum(int((~b.padding_mask).sum()) for b in layout.batches.buckets)
        assert tokens_in_buckets == tokens.num_tokens  # the same token set in both partitions
    # shuffling makes the dropped subset random; without it the lowest-index voxels of a window survive
    other = layer(torch.randn(len(voxels), C), voxels)
    assert set(other.source_index.tolist()) != kept
    fixed = input_layer(caps=(4, 10), test_caps=(4, 10, 36), shuffle_voxels=False).train()
    kept_fixed = fixed(torch.randn(len(voxels), C), voxels).source_index
    assert set(kept_fixed.tolist()) & set(range(36)) <= set(range(10))


def test_input_layer_uses_test_caps_in_eval_and_warns_when_they_drop():
    voxels = full_window_voxels()
    feats = torch.randn(len(voxels), C)
    layer = input_layer(caps=(4, 10), test_caps=(4, 10, 36)).eval()
    assert layer.bucket_caps == (4, 10, 36)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tokens = layer(feats, voxels)
    assert tokens.num_dropped == 0 and [b.cap for b in tokens.layouts[0].batches.buckets] == [4, 10, 36]
    small = input_layer(caps=(4, 10), test_caps=(4, 10)).eval()
    with pytest.warns(RuntimeWarning, match=r"26 of 41 voxels exceed the test bucket caps"):
        dropped = small(feats, voxels)
    assert dropped.num_dropped == 26
    assert torch.equal(dropped.features, feats[dropped.source_index])
    with pytest.raises(ValueError, match="strictly ascending"):
        input_layer(caps=(10, 4))


# ---------------------------------------------------------------------------------------- window attention
def attention_and_layout(num: int = 200, caps=(8, 16, 36), shifted: bool = False, seed: int = 0,
                         device: str = "cpu"):
    torch.manual_seed(seed)
    voxels = random_voxels(num, seed=seed).to(device)
    tokens = input_layer(caps=caps, test_caps=caps).eval()(torch.randn(num, C, device=device), voxels)
    attn = SparseWindowAttention(d_model=C, nhead=4).eval()
    nn.init.normal_(attn.in_proj_bias, std=0.1)
    nn.init.normal_(attn.out_proj.bias, std=0.1)
    return attn.to(device), tokens, tokens.layouts[int(shifted)]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("shifted", [False, True])
def test_window_attention_equals_torch_multihead_attention_window_by_window(shifted, device):
    attn, tokens, layout = attention_and_layout(shifted=shifted, device=device)
    x = torch.randn(tokens.num_tokens, C, device=device)
    with torch.no_grad():
        out = attn(x, layout)
    reference = nn.MultiheadAttention(C, 4, batch_first=True).to(device).eval()
    reference.load_state_dict(attn.state_dict())  # same parameter names and layout
    pos = layout.pos_embed
    for w in range(layout.partition.num_windows):
        members = torch.nonzero(layout.partition.window_id == w).squeeze(1)
        qk = (x[members] + pos[members])[None]
        with torch.no_grad():
            expected, _ = reference(qk, qk, x[members][None], need_weights=False)
        assert torch.allclose(out[members], expected[0], atol=1e-4), f"window {w}"


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("shifted", [False, True])
def test_window_attention_only_mixes_tokens_within_a_window(shifted, device):
    attn, tokens, layout = attention_and_layout(shifted=shifted, device=device)
    x = torch.randn(tokens.num_tokens, C, device=device)
    window_id = layout.partition.window_id
    target = int(torch.argmax(layout.partition.tokens_per_window[window_id]))  # a voxel of the fullest window
    perturbed = x.clone()
    perturbed[target] += 5.0
    with torch.no_grad():
        changed = (attn(perturbed, layout) - attn(x, layout)).abs().amax(dim=1) > 1e-6
    same_window = window_id == window_id[target]
    assert int(same_window.sum()) > 1
    assert torch.equal(changed, same_window)


@pytest.mark.parametrize("device", DEVICES)
def test_padding_tokens_do_not_affect_results(device):
    # the same voxels batched with one 36-token bucket (much padding) or with tight buckets
    attn, tokens_tight, layout_tight = attention_and_layout(caps=(4, 8, 12, 36), device=device)
    _, tokens_padded, layout_padded = attention_and_layout(caps=(36,), device=device)
    assert torch.equal(tokens_tight.voxels, tokens_padded.voxels)
    x = torch.randn(tokens_tight.num_tokens, C, device=device)
    with torch.no_grad():
        assert torch.allclose(attn(x, layout_tight), attn(x, layout_padded), atol=1e-5)
    # garbage in the padded positions is masked out: the attention never reads it
    bucket = layout_padded.batches.buckets[0]
    assert bool(bucket.padding_mask.any())
    regions = ops.gather_regions(x, bucket.index)
    assert float(regions[bucket.padding_mask].abs().sum()) == 0.0


# ---------------------------------------------------------------------------------------- blocks and encoder
def two_window_voxels() -> torch.Tensor:
    """Voxels in regular windows (0,0), (0,1) (neighbours, sharing the shifted window (1,1)) and far
    window (3,3); voxel 0 = (y 4, x 4) and voxel 1 = (y 4, x 7) straddle the regular border at x = 6."""
    cells = [(4, 4), (4, 7), (1, 1), (2, 9), (20, 20), (22, 19), (5, 5), (3, 8)]
    return torch.tensor([[0, 0, y, x] for y, x in cells], dtype=torch.int32)


def test_shifted_windows_connect_neighbouring_regular_windows():
    torch.manual_seed(0)
    voxels = two_window_voxels()
    tokens = input_layer().eval()(torch.randn(len(voxels), C), voxels)
    assert torch.equal(tokens.source_index, torch.arange(len(voxels)))
    regular, shifted = tokens.layouts
    rid, sid = regular.partition.window_id, shifted.partition.window_id
    assert rid[0] != rid[1] and sid[0] == sid[1]  # different regular windows, same shifted window
    x = torch.randn(len(voxels), C)
    perturbed = x.clone()
    perturbed[0] += 5.0
    layer = SSTEncoderLayer(d_model=C, nhead=4, dim_feedforward=32).eval()
    block = SSTBlock(d_model=C, nhead=4, dim_feedforward=32).eval()
    with torch.no_grad():
        layer_delta = (layer(perturbed, regular) - layer(x, regular)).abs().amax(dim=1)
        delta = (block(perturbed, tokens) - block(x, tokens)).abs().amax(dim=1)
    assert float(layer_delta[1]) == 0.0  # one regular layer: no information across the regular border
    assert float(delta[1]) > 1e-4  # the shifted layer carries it to the neighbouring regular window
    far = [i for i in range(len(voxels)) if sid[i] != sid[0] and rid[i] != rid[0]]
    assert far and float(delta[far].max()) == 0.0  # but not to windows sharing neither partition


def make_encoder(**kwargs) -> SSTEncoder:
    args = dict(in_channels=10, d_model=C, nhead=4, num_blocks=2, dim_feedforward=32, sparse_shape=SPARSE_SHAPE,
                window_shape=WINDOW, train_bucket_caps=(8, 16, 36), test_bucket_caps=(8, 16, 36))
    args.update(kwargs)
    torch.manual_seed(0)
    return SSTEncoder(**args)


@pytest.mark.parametrize("device", DEVICES)
def test_encoder_keeps_voxel_count_coordinates_and_trains(device):
    voxels = random_voxels(250).to(device)
    feats = torch.randn(250, 10, device=device)
    encoder = make_encoder().to(device).train()
    out = encoder(feats, voxels)
    assert out.features.shape == (250, C) and out.num_dropped == 0
    assert torch.equal(out.voxels, voxels[out.source_index])  # same grid, stride 1, no new or lost voxels
    out.features.square().mean().backward()
    for name, p in encoder.named_parameters():
        assert p.grad is not None and float(p.grad.abs().sum()) > 0, name
    encoder.eval()
    with torch.no_grad():
        a = encoder(feats, voxels)
        encoder.set_ops_impl("reference")
        b = encoder(feats, voxels)
    assert torch.equal(a.source_index, torch.arange(250, device=device))
    assert torch.allclose(a.features, b.features, atol=1e-5)  # extension ops == PyTorch reference ops
    assert all(m.ops_impl == "reference" for m in encoder.modules() if hasattr(m, "ops_impl"))
    with pytest.raises(ValueError, match="ops impl"):
        encoder.set_ops_impl("fast")


def test_encoder_in_training_drops_voxels_of_over_full_windows():
    voxels = full_window_voxels()
    encoder = make_encoder(train_bucket_caps=(4, 10), test_bucket_caps=(4, 10, 36)).train()
    out = encoder(torch.randn(len(voxels), 10), voxels)
    assert out.num_dropped >= 26 and out.features.shape == (out.num_tokens, C)
    assert torch.equal(out.voxels, voxels[out.source_index])


def test_encoder_handles_a_batch_without_voxels():
    encoder = make_encoder()
    for training in (True, False):
        out = encoder.train(training)(torch.zeros(0, 10), torch.zeros(0, 4, dtype=torch.int32))
        assert out.features.shape == (0, C) and out.num_dropped == 0


def test_sst_encoder_modules_import_only_torch_and_the_ops():
    """The encoder must run where only PyTorch is installed (the GPU benchmark machine): no mmdet/mmcv/mmengine."""
    folder = pathlib.Path(__file__).resolve().parents[2] / "perception" / "layers" / "sst"
    allowed = ("torch", "perception.ops", "perception.layers.sst", "__future__", "dataclasses", "math", "typing",
               "warnings")
    files = sorted(folder.glob("*.py"))
    assert {f.name for f in files} >= {"positional_encoding.py", "input_layer.py", "window_attention.py", "block.py",
                                       "encoder.py"}
    for path in files:
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                modules = ["perception.layers.sst" if node.level else node.module or ""]
            else:
                continue
            for module in modules:
                if module == "perception":
                    module = "perception." + ",".join(a.name for a in node.names)
                assert module.startswith(allowed), f"{path.name} imports {module}"


def test_sst_encoder_runs_with_the_mm_packages_unimportable():
    """What the static check above cannot see: the packages on the import path (perception, perception.layers)
    must not pull in mmdet either. A fresh process where mmdet, mmcv, mmengine and spconv cannot be imported
    builds the encoder and runs it."""
    code = textwrap.dedent("""
        import sys
        for name in ("mmdet", "mmcv", "mmengine", "spconv"):
            sys.modules[name] = None          # import raises ImportError
        import torch
        from perception.layers.sst import SSTEncoder
        enc = SSTEncoder(sparse_shape=(24, 24), in_channels=10, d_model=16, nhead=4, num_blocks=1,
                         dim_feedforward=32, window_shape=(6, 6), train_bucket_caps=(4, 10),
                         test_bucket_caps=(4, 10, 36), dropout=0.0).eval()
        voxels = torch.tensor([[0, 0, y, x] for y in range(6) for x in range(6)], dtype=torch.int32)
        out = enc(torch.randn(len(voxels), 10), voxels)
        assert out.features.shape == (36, 16), out.features.shape
        assert not any(m.startswith(("mmdet", "mmengine", "mmcv")) for m in sys.modules if sys.modules[m])
        print("ok")
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr[-2000:]


def test_middle_encoder_scatters_tokens_at_stride_1_and_leaves_dropped_cells_zero():
    from perception.models.middle_encoders.bev_scatter import scatter_to_bev
    from perception.models.middle_encoders.sst_middle_encoder import SSTMiddleEncoder
    from perception.models.voxel_encoders.dynamic_vfe import VoxelFeatures

    torch.manual_seed(0)  # a 24 x 24 grid of 0.5 m pillars: the voxels of the tests above, in metres
    encoder = SSTMiddleEncoder(point_range=[0, 0, -2, 12, 12, 2], voxel_size=[0.5, 0.5, 4], in_channels=10,
                               d_model=C, nhead=4, num_blocks=1, dim_feedforward=32, window_shape=WINDOW,
                               train_bucket_caps=(4, 10), test_bucket_caps=(4, 10, 36))
    voxels = full_window_voxels()
    feats = VoxelFeatures(features=torch.randn(len(voxels), 10), voxels=voxels, batch_size=2)

    def occupied_cells(vox: torch.Tensor) -> torch.Tensor:
        mask = torch.zeros(2, 24, 24, dtype=torch.bool)
        mask[vox[:, 0].long(), vox[:, 2].long(), vox[:, 3].long()] = True
        return mask

    encoder.eval()  # test caps: every voxel kept, BEV at the voxel grid's own resolution
    with torch.no_grad():
        bev = encoder(feats)
        encoded, tokens = encoder.encode(feats)
    assert bev.shape == (2, C, 24, 24) and encoder.out_channels == C and tokens.num_dropped == 0
    v = voxels.long()
    assert torch.allclose(bev[v[:, 0], :, v[:, 2], v[:, 3]], encoded.features)
    assert float(bev.abs().sum(dim=1)[~occupied_cells(voxels)].max()) == 0.0

    encoder.train()  # training caps: 26+ voxels of the full window are dropped, their cells stay zero
    encoded, tokens = encoder.encode(feats)
    bev = scatter_to_bev(encoded, encoder.grid)
    dropped = torch.ones(len(voxels), dtype=torch.bool)
    dropped[tokens.source_index] = False
    assert int(dropped.sum()) == tokens.num_dropped >= 26
    assert not (occupied_cells(voxels[dropped]) & occupied_cells(encoded.voxels)).any()
    assert float(bev.abs().sum(dim=1)[occupied_cells(voxels[dropped])].max()) == 0.0
    assert float(bev.abs().sum(dim=1)[occupied_cells(encoded.voxels)].min()) > 0.0
