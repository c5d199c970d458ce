"""tools/demo.py's library (perception.apis.demo) end to end: frames, a LiDAR model, pictures, KITTI results."""
import json

import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from perception.apis.demo import run_demo
from perception.apis.model_zoo import MODEL_ZOO, ModelEntry, repo_path
from perception.datasets import kitti_io
from perception.registry import MODELS

TINY = "configs/centerpoint_pillar/centerpoint_pillar_sim_tiny.py"


def _random_checkpoint(path) -> None:
    """Weights of the tiny config's model as built (random init): the demo's path does not depend on them."""
    init_default_scope("perception")
    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(repo_path(TINY)).model)
    model.init_weights()
    torch.save({"state_dict": model.state_dict(), "meta": {}}, path)


def test_demo_runs_a_model_and_writes_pictures_and_results(tmp_path):
    ckpt = tmp_path / "tiny.pth"
    _random_checkpoint(ckpt)
    zoo = [ModelEntry(name="tiny", task="lidar3d", config=TINY, checkpoint=str(ckpt), summary="test"),
           ModelEntry(name="absent", task="lidar3d", config=TINY, checkpoint=str(tmp_path / "no.pth"), summary="")]
    out, data = tmp_path / "out", tmp_path / "sim"
    summary = run_demo(out_dir=str(out), data_root=str(data), num_frames=2, zoo=zoo, tiny=True, log=lambda _: None)

    assert summary["frames"] == ["000000", "000001"]
    assert summary["models"]["absent"] == {"status": "no checkpoint"}
    ran = summary["models"]["tiny"]
    assert ran["status"] == "ran" and ran["seconds_per_frame"] > 0
    assert json.loads((out / "summary.json").read_text()) == summary
    for frame_id in summary["frames"]:
        for kind in ("camera", "bev"):
            png = out / "frames" / f"{frame_id}_{kind}.png"
            assert png.stat().st_size > 1000, png
        # every written detection is a well-formed KITTI result line with a score
        objects = kitti_io.read_label(out / "kitti" / "tiny" / f"{frame_id}.txt", allow_score=True)
        assert objects and all(o.score is not None for o in objects)  # seeded random weights: ~100 boxes
        gt = kitti_io.read_label(data / "training" / "label_2" / f"{frame_id}.txt")
        assert ran["frames"][frame_id]["ground_truth"] == sum(o.type != "DontCare" for o in gt)


def test_demo_rejects_unknown_model_names_before_simulating(tmp_path):
    import pytest

    with pytest.raises(ValueError, match="unknown model"):
        run_demo(out_dir=str(tmp_path / "o"), data_root=str(tmp_path / "d"), models=["nope"], zoo=MODEL_ZOO)
    assert not (tmp_path / "d").exists()


def _random_weights(config: str, path) -> None:
    from perception.engine import load_model

    model, _ = load_model(repo_path(config), None, seed=0)
    torch.save({"state_dict": model.state_dict(), "meta": {}}, path)


def test_demo_runs_camera_models_and_draws_the_panoptic_overlay(tmp_path):
    """2D detector and panoptic model (random weights) on tiny simulated frames: pictures and per-frame counts."""
    trident, panoptic = tmp_path / "trident.pth", tmp_path / "panoptic.pth"
    _random_weights("configs/tridentnet/tridentnet_fast_sim.py", trident)
    _random_weights("configs/panoptic/panoptic_points_sim.py", panoptic)
    zoo = [ModelEntry(name="cam", task="camera2d", config="configs/tridentnet/tridentnet_fast_sim.py",
                      checkpoint=str(trident), summary=""),
           ModelEntry(name="pan", task="panoptic", config="configs/panoptic/panoptic_points_sim.py",
                      checkpoint=str(panoptic), summary="")]
    out = tmp_path / "out"
    summary = run_demo(out_dir=str(out), data_root=str(tmp_path / "sim"), num_frames=1, zoo=zoo, tiny=True,
                       score_thr=0.0, log=lambda _: None)

    cam, pan = summary["models"]["cam"], summary["models"]["pan"]
    assert cam["status"] == pan["status"] == "ran"
    assert cam["frames"]["000000"]["detections"] > 0  # score_thr 0: every box the head keeps
    assert set(pan["frames"]["000000"]) == {"things", "stuff"}
    assert sorted(summary["pictures"]) == ["frames/000000_bev.png", "frames/000000_camera.png",
                                           "frames/000000_panoptic.png"]
    import numpy as np
    from perception.datasets.kitti_io import read_image

    image = read_image(tmp_path / "sim" / "training" / "image_2" / "000000.png")
    overlay = read_image(out / "frames" / "000000_panoptic.png")
    camera = read_image(out / "frames" / "000000_camera.png")
    assert overlay.shape == camera.shape == image.shape
    assert (overlay != image).any() and (camera != image).any()  # something was drawn on each


def test_demo_runs_the_fusion_model_and_writes_its_pictures_and_jsonl(tmp_path):
    """The shipped fusion config (SST + TridentNet-Fast + panoptic + CLOCs weights) on a tiny simulated frame."""
    from perception.datasets.kitti_io import read_image
    from perception.fusion.formats.jsonl import read_jsonl

    (entry,) = [m for m in MODEL_ZOO if m.task == "fusion"]
    out = tmp_path / "out"
    summary = run_demo(out_dir=str(out), data_root=str(tmp_path / "sim"), num_frames=1, zoo=[entry], tiny=True,
                       score_thr=0.0, log=lambda _: None)
    report = summary["models"][entry.name]
    assert report["status"] == "ran"
    counts = report["frames"]["000000"]
    assert counts["objects"] == counts["lidar_and_camera"] + counts["lidar_only"] + counts["camera_only"] > 0
    assert {"frames/000000_fusion.png", "frames/000000_fusion_bev.png"} <= set(summary["pictures"])
    (result,) = read_jsonl(out / "fused" / f"{entry.name}.jsonl")
    assert len(result) == counts["objects"] and result.frame_id == "000000"
    image = read_image(tmp_path / "sim" / "training" / "image_2" / "000000.png")
    assert (read_image(out / "frames" / "000000_fusion.png") != image).any()
