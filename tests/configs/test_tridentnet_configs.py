"""Every config of configs/tridentnet/ builds, and runs a couple of iterations (training, then evaluation) on a
tiny simulated KITTI-format dataset -- nuScenes on synthetic tensors, until NuScenesDataset exists."""
from __future__ import annotations

import math
import pathlib

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import OptimWrapper
from mmengine.registry import init_default_scope
from mmengine.runner import Runner
from mmdet.structures import DetDataSample
from mmengine.structures import InstanceData

from perception.engine.runner_setup import load_config
from perception.models.camera.trident import TridentRCNN
from perception.registry import MODELS

REPO = pathlib.Path(__file__).resolve().parents[2]
CONFIGS = sorted(p.name for p in (REPO / "configs" / "tridentnet").glob("*.py"))
TINY_SCALE = (414, 125)  # the tiny simulator preset's own image size
FEW_ROIS = 4


def test_the_expected_configs_exist():
    assert CONFIGS == ["single_branch_sim.py", "tridentnet_fast_sim.py", "tridentnet_kitti.py",
                       "tridentnet_nuscenes.py", "tridentnet_sim.py"]


@pytest.mark.parametrize("name", CONFIGS)
def test_config_builds_its_model(name):
    cfg = Config.fromfile(str(REPO / "configs" / "tridentnet" / name))
    init_default_scope("perception")
    model = MODELS.build(cfg.model)
    assert isinstance(model, TridentRCNN)
    expected = {"single_branch_sim.py": (1, -1), "tridentnet_fast_sim.py": (3, 1)}.get(name, (3, -1))
    assert (model.num_branch, model.test_branch_idx) == expected
    assert model.roi_head.bbox_head.num_classes == (10 if "nuscenes" in name else 3)
    assert len(model.branch_ranges) == model.num_branch


def _few_rois(cfg: Config) -> None:
    """Fewer proposals and sampled RoIs (the ResNet-50 configs run ResNet stage 4 on every RoI)."""
    cfg.model.train_cfg.rpn_proposal.max_per_img = FEW_ROIS
    cfg.model.train_cfg.rcnn.sampler.num = FEW_ROIS
    cfg.model.test_cfg.rpn.max_per_img = FEW_ROIS


def _smoke_config(name: str, data_root: pathlib.Path, work_dir: pathlib.Path, scale=TINY_SCALE) -> Config:
    """The config with a 2-iteration schedule on the tiny dataset, small images and few RoIs."""
    cfg = load_config(str(REPO / "configs" / "tridentnet" / name), work_dir=str(work_dir), cfg_options=None,
                      launcher="none", data_root=str(data_root))
    cfg.train_cfg.update(max_iters=2, val_interval=1000)
    cfg.param_scheduler = [dict(type="ConstantLR", factor=1.0, by_epoch=False)]
    cfg.default_hooks.logger.interval = 1
    cfg.default_hooks.checkpoint.update(interval=2, max_keep_ckpts=1)
    for key in ("train_dataloader", "val_dataloader", "test_dataloader"):
        cfg[key].update(num_workers=0, persistent_workers=False, batch_size=1)
        for step in cfg[key].dataset.pipeline:
            if step["type"] == "mmdet.Resize":
                step["scale"] = scale
    _few_rois(cfg)
    return cfg


def _check_metrics(metrics: dict, with_kitti: bool = True) -> None:
    for key in ("coco/bbox_mAP", "coco/bbox_mAP_s", "coco/bbox_mAP_m", "coco/bbox_mAP_l"):
        assert 0.0 <= metrics[key] <= 1.0 or metrics[key] == -1.0, key
    if with_kitti:
        assert 0.0 <= metrics["kitti2d/Overall_2D_moderate_R40"] <= 100.0


def _train_two_iterations(runner: Runner) -> None:
    runner.train()
    loss = runner.message_hub.get_scalar("train/loss").current()
    assert math.isfinite(loss) and loss > 0
    assert (pathlib.Path(runner.work_dir) / "iter_2.pth").is_file()


@pytest.fixture(scope="module")
def trained_trident_sim(tiny_sim_dataset, tmp_path_factory):
    work = tmp_path_factory.mktemp("tridentnet_sim")
    runner = Runner.from_cfg(_smoke_config("tridentnet_sim.py", tiny_sim_dataset, work))
    _train_two_iterations(runner)
    return runner


def test_tridentnet_sim_smoke(trained_trident_sim):
    _check_metrics(trained_trident_sim.val())


def test_tridentnet_fast_sim_smoke(trained_trident_sim, tiny_sim_dataset, tmp_path):
    runner = Runner.from_cfg(_smoke_config("tridentnet_fast_sim.py", tiny_sim_dataset, tmp_path))
    # the trained TridentNet's weights, as tools/test.py would load them from its checkpoint
    runner.model.load_state_dict(trained_trident_sim.model.state_dict())
    _check_metrics(runner.test())
    assert runner.model.test_branch_idx == 1 and runner.model.active_branches() == (1,)


@pytest.mark.parametrize("name, scale", [("single_branch_sim.py", TINY_SCALE), ("tridentnet_kitti.py", (207, 63))])
def test_training_smoke(name, scale, tiny_sim_dataset, tmp_path):
    runner = Runner.from_cfg(_smoke_config(name, tiny_sim_dataset, tmp_path, scale))
    _train_two_iterations(runner)
    _check_metrics(runner.val())


def test_tridentnet_nuscenes_model_smoke():
    """The nuScenes model (10 classes) trains two steps and predicts, on synthetic images; its dataset side
    needs NuScenesDataset's camera targets (see configs/_base_/datasets/nuscenes_camera_2d.py)."""
    cfg = Config.fromfile(str(REPO / "configs" / "tridentnet" / "tridentnet_nuscenes.py"))
    _few_rois(cfg)
    cfg.model.test_cfg.rcnn.score_thr = 0.0  # an untrained model's scores are low: keep every box
    init_default_scope("perception")
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9))
    shape = (64, 96)

    def batch(with_gt: bool) -> dict:
        sample = DetDataSample(metainfo=dict(img_shape=shape, ori_shape=(128, 192), scale_factor=(0.5, 0.5)))
        sample.gt_instances = InstanceData(bboxes=torch.tensor([[10.0, 20.0, 30.0, 60.0], [40.0, 10.0, 90.0, 50.0]]),
                                           labels=torch.tensor([8, 0])) if with_gt else InstanceData()
        return dict(inputs=[torch.randint(0, 255, (3, *shape), dtype=torch.uint8)], data_samples=[sample])

    model.train()
    for _ in range(2):
        log = model.train_step(batch(True), optim)
        assert math.isfinite(log["loss"].item())
    model.eval()
    with torch.no_grad():
        (pred,) = model.test_step(batch(False))
    assert len(pred.pred_instances) > 0 and pred.pred_instances.labels.max() < 10
    assert (pred.pred_instances.bboxes[:, 2:] <= torch.tensor([192.0, 128.0]) + 1e-3).all()
