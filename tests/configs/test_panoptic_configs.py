"""Every config of configs/panoptic: a build test and a smoke run.

Smoke runs train two iterations with mmengine's Runner (as ``tools/train.py``) on the session's tiny simulated
dataset (``tiny_sim_dataset``, 414x125 images: the configs' Resize is set to that size), then validate on one
frame through the config's evaluators (PQ, and the 2D detection metrics for the camera model).
"""
from __future__ import annotations

import math
import pathlib

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import Runner

from perception.engine.runner_setup import load_config
from perception.registry import MODELS, TRANSFORMS

REPO = pathlib.Path(__file__).resolve().parents[2]
CONFIGS = sorted(str(p.relative_to(REPO)) for p in (REPO / "configs" / "panoptic").glob("*.py"))
TINY_SCALE = (414, 125)


def load(config: str) -> Config:
    cfg = Config.fromfile(str(REPO / config))
    init_default_scope(cfg.default_scope)
    import importlib

    for module in cfg.custom_imports.imports:
        importlib.import_module(module)
    return cfg


def test_every_panoptic_config_is_covered():
    assert {"configs/panoptic/panoptic_points_sim.py", "configs/panoptic/panoptic_full_sim.py",
            "configs/panoptic/panoptic_points_naive_sim.py",
            "configs/panoptic/camera_trident_panoptic_sim.py"} == set(CONFIGS)


@pytest.mark.parametrize("config", CONFIGS)
def test_config_builds_the_model_and_names_registered_parts(config):
    cfg = load(config)
    model = MODELS.build(cfg.model)
    head = model.panoptic_head
    assert head.num_classes == 8 and head.category_ids == tuple(range(1, 9))
    expected = {"panoptic_full_sim": "full", "panoptic_points_naive_sim": "points_naive"}.get(
        pathlib.Path(config).stem, "points")
    assert head.supervision == expected
    for pipeline in (cfg.train_dataloader.dataset.pipeline, cfg.val_dataloader.dataset.pipeline):
        for step in pipeline:
            assert TRANSFORMS.get(step["type"]) is not None, step["type"]
    if "camera" in config:
        assert type(model.detector).__name__ == "TridentRCNN" and model.num_branch == 3
        assert model.detector.backbone.out_indices == (0, 1, 2)
    # the head's input levels match what the backbone returns
    x = torch.zeros(1, 3, 64, 96)
    model.eval()
    with torch.no_grad():
        if "camera" in config:
            _, feats, _ = model.extract_feat(x)
        else:
            feats = model.extract_feat(x)
    assert [f.shape[1] for f in feats] == list(head.decoder.laterals[i].in_channels for i in range(len(feats)))


def _set_scale(pipeline) -> None:
    for step in pipeline:
        if step["type"] == "mmdet.Resize":
            step["scale"] = TINY_SCALE


@pytest.mark.parametrize("config", CONFIGS)
def test_config_smoke_run_trains_and_validates_on_tiny_sim_data(config, tiny_sim_dataset, tmp_path):
    cfg = load_config(str(REPO / config), work_dir=str(tmp_path), launcher="none", data_root=str(tiny_sim_dataset),
                      cfg_options={"train_cfg.max_iters": 2, "train_cfg.val_interval": 1000,
                                   "train_dataloader.batch_size": 1, "train_dataloader.num_workers": 0,
                                   "train_dataloader.persistent_workers": False,
                                   "val_dataloader.num_workers": 0, "val_dataloader.batch_size": 1,
                                   "val_dataloader.dataset.indices": 1,
                                   "param_scheduler": [dict(type="ConstantLR", factor=1.0, by_epoch=False)],
                                   "default_hooks.logger.interval": 1, "default_hooks.checkpoint.interval": 1000,
                                   "default_hooks.checkpoint.save_last": False})
    _set_scale(cfg.train_dataloader.dataset.pipeline)
    _set_scale(cfg.val_dataloader.dataset.pipeline)
    cfg.test_dataloader = cfg.val_dataloader
    runner = Runner.from_cfg(cfg)
    runner.train()
    loss = runner.message_hub.get_scalar("train/loss_semantic").current()
    assert runner.iter == 2 and math.isfinite(loss)
    metrics = runner.val()
    assert 0.0 <= metrics["panoptic/PQ"] <= 100.0 and 0.0 <= metrics["panoptic/PQ_st"] <= 100.0
    if "camera" in config:
        assert math.isfinite(runner.message_hub.get_scalar("train/loss_rpn_cls").current())
        assert any(k.startswith("kitti2d/") for k in metrics)
