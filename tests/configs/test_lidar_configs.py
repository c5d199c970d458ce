"""Every LiDAR detector config of configs/sst and configs/second: a build test and a smoke run.

Smoke runs train a couple of iterations with mmengine's Runner (as ``tools/train.py``) on the session's tiny
simulated KITTI-format dataset (``tiny_sim_dataset`` in tests/conftest.py), then predict one validation batch.
The nuScenes config has no nuScenes data here: its smoke run trains the config's model for a couple of steps on
synthetic multi-sweep points ``[x, y, z, intensity, time lag]``.
"""
from __future__ import annotations

import math
import pathlib
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmengine.runner import Runner
from mmengine.structures import InstanceData

from perception.engine.runner_setup import load_config
from perception.registry import DATASETS, MODELS, TRANSFORMS
from perception.structures import Boxes3D, CoordFrame
from perception.structures.data_sample import Det3DDataSample

REPO = pathlib.Path(__file__).resolve().parents[2]
CONFIGS = sorted(str(p.relative_to(REPO)) for folder in ("configs/sst", "configs/second")
                 for p in (REPO / folder).glob("*.py"))
KITTI_FORMAT = [c for c in CONFIGS if "nuscenes" not in c]
NUSCENES = "configs/sst/sst_nuscenes.py"


def load(config: str) -> Config:
    cfg = Config.fromfile(str(REPO / config))
    init_default_scope(cfg.default_scope)
    return cfg


def test_every_lidar_config_is_covered():
    assert {"configs/sst/sst_sim.py", "configs/sst/sst_kitti.py", NUSCENES, "configs/second/second_sim.py"} <= set(
        CONFIGS)


@pytest.mark.parametrize("config", CONFIGS)
def test_config_builds_the_model_and_names_registered_parts(config):
    cfg = load(config)
    model = MODELS.build(cfg.model)
    grid = model.bbox_head.grid
    assert list(grid.point_range) == pytest.approx(cfg.point_cloud_range)
    assert model.bbox_head.num_classes == len(cfg.class_names)
    assert model.middle_encoder.grid == grid == model.voxel_encoder.grid  # one voxel grid through the model
    if "sst" in config:
        assert model.bbox_head.stride == 1  # single stride: the head sees the voxel grid itself
        layer = model.middle_encoder.encoder.input_layer
        wy, wx = layer.window_shape
        assert layer.test_bucket_caps[-1] >= wy * wx * grid.shape_zyx[0]  # nothing is dropped at test time
    if "nuscenes" not in config:
        assert DATASETS.get(cfg.train_dataloader.dataset.type) is not None
        for step in cfg.train_pipeline + cfg.test_pipeline:
            assert TRANSFORMS.get(step["type"]) is not None, step["type"]


def test_nuscenes_config_names_registered_dataset_and_transforms():
    """In a fresh process (as tools/train.py sees it), so no module another test imported can register them."""
    code = ("from mmengine.registry import init_default_scope\n"
            "from mmengine.config import Config\n"
            "from perception.registry import DATASETS, TRANSFORMS\n"
            "init_default_scope('perception')\n"
            f"cfg = Config.fromfile({str(REPO / NUSCENES)!r})\n"
            "steps = [s['type'] for s in cfg.train_pipeline + cfg.test_pipeline]\n"
            "dataset = cfg.train_dataloader.dataset.type\n"
            "missing = [t for t in steps if TRANSFORMS.get(t) is None] + ([] if DATASETS.get(dataset) else [dataset])\n"
            "print('MISSING', missing)\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "MISSING []" in proc.stdout, proc.stdout


@pytest.mark.parametrize("config", KITTI_FORMAT)
def test_config_smoke_run_trains_and_predicts_on_tiny_sim_data(config, tiny_sim_dataset, tmp_path):
    cfg = load_config(str(REPO / config), work_dir=str(tmp_path), launcher="none", data_root=str(tiny_sim_dataset),
                      cfg_options={"train_cfg.max_iters": 2, "train_cfg.val_interval": 1000,
                                   "train_dataloader.batch_size": 1, "train_dataloader.num_workers": 0,
                                   "train_dataloader.persistent_workers": False,
                                   "param_scheduler": [dict(type="ConstantLR", factor=1.0, by_epoch=False)],
                                   "default_hooks.logger.interval": 1, "default_hooks.checkpoint.interval": 1000,
                                   "default_hooks.checkpoint.save_last": False})
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    runner = Runner.from_cfg(cfg)
    model = runner.train()
    losses = {k: runner.message_hub.get_scalar(f"train/{k}").current() for k in ("loss_heatmap", "loss_reg")}
    assert runner.iter == 2 and all(math.isfinite(v) and v > 0 for v in losses.values()), losses
    init_default_scope("perception")
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    model.eval()
    with torch.no_grad():
        samples = model.test_step(pseudo_collate([dataset[0]]))
    pred = samples[0].pred_instances_3d
    assert isinstance(pred.bboxes_3d, Boxes3D) and pred.bboxes_3d.frame is CoordFrame.LIDAR
    assert len(pred.scores_3d) == len(pred.labels_3d) == len(pred.bboxes_3d) <= 100


def synthetic_sweeps(num_points: int, point_range, seed: int) -> torch.Tensor:
    """``(P, 5)`` points ``[x, y, z, intensity, time lag]`` in range, lags of 10 sweeps 0.05 s apart."""
    g = torch.Generator().manual_seed(seed)
    lo, hi = torch.tensor(point_range[:3]), torch.tensor(point_range[3:])
    xyz = lo + (hi - lo) * torch.rand(num_points, 3, generator=g) * 0.999
    lag = 0.05 * torch.randint(0, 10, (num_points, 1), generator=g).float()
    return torch.cat([xyz, torch.rand(num_points, 1, generator=g), lag], dim=1)


def test_nuscenes_config_smoke_trains_the_model_on_synthetic_multisweep_points():
    cfg = load(NUSCENES)
    assert MODELS.build(cfg.model).bbox_head.grid.bev_shape(1) == (320, 320)  # 102.4 m / 0.32 m, stride 1
    # the config's architecture on a 25.6 m square (80 x 80 cells), so that two steps stay cheap on a CPU
    small_range = [-12.8, -12.8, -5.0, 12.8, 12.8, 3.0]
    for part in ("voxel_encoder", "middle_encoder", "bbox_head"):
        cfg.model[part]["point_range"] = small_range
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    assert model.voxel_encoder.in_channels == 5  # the time-lag channel goes into the voxel encoder
    optim = build_optim_wrapper(model, cfg.optim_wrapper)
    boxes = Boxes3D(torch.tensor([[10.0, 5.0, -1.0, 4.5, 1.9, 1.6, 0.3], [-6.0, -8.0, -1.2, 0.7, 0.7, 1.8, 1.0]]),
                    frame=CoordFrame.LIDAR)
    sample = Det3DDataSample()
    gt = InstanceData()
    gt.bboxes_3d, gt.labels_3d = boxes, torch.tensor([0, 8])
    sample.gt_instances_3d = gt
    model.train()
    history = []
    for step in range(2):
        points = synthetic_sweeps(3000, small_range, seed=step)
        losses = model({"points": [points]}, [sample], mode="loss")
        total = sum(losses.values())
        optim.update_params(total)
        history.append(float(total.detach()))
    assert all(math.isfinite(v) and v > 0 for v in history)


def test_lidar_benchmark_torch_only_settings_match_the_sst_kitti_config():
    """perception/benchmarks/lidar.py builds SST without mmengine from constants: they must be the config's."""
    from perception.benchmarks.lidar import DEFAULT_CONFIG, SST_KITTI_ENCODER, SST_KITTI_GRID

    cfg = load(DEFAULT_CONFIG)
    encoder = dict(cfg.model.middle_encoder)
    assert dict(point_range=encoder.pop("point_range"), voxel_size=encoder.pop("voxel_size")) == SST_KITTI_GRID
    assert encoder.pop("type") == "SSTMiddleEncoder"
    assert encoder == SST_KITTI_ENCODER
    assert cfg.model.voxel_encoder.feat_channels[-1] == SST_KITTI_ENCODER["in_channels"]
