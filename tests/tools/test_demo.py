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
