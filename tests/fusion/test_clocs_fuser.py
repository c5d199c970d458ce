"""The CLOCs-style fuser: identity before training, learns camera support when it decides the truth, trains
through tools/train.py from a detection cache, and the fusion configs build."""
import dataclasses

import pytest
import torch

from perception.fusion import ClocsFuser, FEATURES, LateFusion, build_candidates, project_to_image
from perception.fusion.builder import build_late_fusion, load_fusion_config
from perception.fusion.late_fusion import FusionInputs
from perception.structures import Boxes2D


def _inputs(scene, lidar, camera) -> FusionInputs:
    return LateFusion(scorer=ClocsFuser(), class_names=scene.classes).inputs(lidar, camera, scene.calib,
                                                                              scene.image_size)


def test_candidates_have_one_self_entry_per_3d_detection_and_one_per_overlap(scene):
    lidar = scene.lidar([("Car", 15.0, 3.0), ("Car", 15.0, -6.0), ("Car", -5.0, 0.0)], [0.6, 0.5, 0.4])
    proj = project_to_image(lidar.boxes3d, scene.calib, scene.image_size)
    camera = scene.camera(torch.stack([proj.boxes[0], proj.boxes[0] + 5]), ["Car", "Pedestrian"], [0.9, 0.3])
    cand = build_candidates(lidar, proj, camera, scene.classes)
    assert cand.num_3d == 3 and cand.num_features == len(FEATURES) + 3
    assert cand.index.tolist() == [[0, -1], [1, -1], [2, -1], [0, 0], [0, 1]]
    f = {name: cand.features[:, k] for k, name in enumerate(FEATURES)}
    assert f["is_self"].tolist() == [1, 1, 1, 0, 0]
    assert f["same_class"].tolist() == [0, 0, 0, 1, 0]
    assert f["in_image"].tolist() == [1, 1, 0, 1, 1]
    torch.testing.assert_close(f["score_2d"], torch.tensor([0, 0, 0, 0.9, 0.3]))
    assert float(f["iou"][3]) == pytest.approx(1.0) and 0 < float(f["iou"][4]) < 1


def test_untrained_fuser_returns_the_lidar_scores(scene):
    lidar = scene.lidar([("Car", 15.0, 3.0), ("Pedestrian", 10.0, -2.0)], [0.6, 0.2])
    proj = project_to_image(lidar.boxes3d, scene.calib, scene.image_size)
    camera = scene.camera(proj.boxes[:1], ["Car"], [0.9])
    scores = ClocsFuser().score(_inputs(scene, lidar, camera))
    torch.testing.assert_close(scores, torch.tensor([0.6, 0.2]), atol=1e-5, rtol=0)


def test_fuser_learns_that_camera_support_makes_a_detection_true(scene):
    """Synthetic frames: every 3D detection has score 0.5; the true ones have a matching 2D box. After training,
    supported detections score above unsupported ones."""
    torch.manual_seed(0)
    frames = []
    for k in range(8):
        rows = [("Car", 10.0 + 3 * j, -6.0 + 4 * j) for j in range(4)]
        lidar = scene.lidar(rows, [0.5] * 4)
        proj = project_to_image(lidar.boxes3d, scene.calib, scene.image_size)
        true = torch.tensor([(j + k) % 2 == 0 for j in range(4)])
        camera = scene.camera(proj.boxes[true], ["Car"] * int(true.sum()), [0.8] * int(true.sum()))
        frames.append((_inputs(scene, lidar, camera).candidates, true.float()))
    fuser = ClocsFuser()
    opt = torch.optim.Adam(fuser.parameters(), lr=1e-2)
    first = None
    for _ in range(150):
        loss = fuser([c for c, _ in frames], [t for _, t in frames], mode="loss")["loss_fusion"]
        first = float(loss) if first is None else first
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(loss) < 0.2 * first
    probs = torch.cat(fuser([c for c, _ in frames], mode="predict"))
    truth = torch.cat([t for _, t in frames]).bool()
    assert probs[truth].min() > 0.8 and probs[~truth].max() < 0.2
    # the per-class gate: a class in identity_classes keeps its LiDAR scores, whatever was learned
    fuser.identity_classes = ("Car",)
    torch.testing.assert_close(torch.cat(fuser([c for c, _ in frames], mode="predict")), torch.full((32,), 0.5),
                               atol=1e-4, rtol=0)
    with pytest.raises(ValueError, match="identity_classes"):
        ClocsFuser(identity_classes=("Truck",))


def test_fusion_configs_build(repo_root):
    for name in ("fusion_rule_sim", "fusion_clocs_sim"):
        cfg = load_fusion_config(str(repo_root / "configs" / "fusion" / f"{name}.py"))
        fusion = build_late_fusion(cfg)   # the CLOCs config loads checkpoints/fusion_clocs_sim.pth
        assert isinstance(fusion, LateFusion) and fusion.class_names == ("Car", "Pedestrian", "Cyclist")
    assert isinstance(build_late_fusion(cfg, scorer_checkpoint=None).scorer, ClocsFuser)
    with pytest.raises(KeyError, match="lacks"):
        load_fusion_config(str(repo_root / "configs" / "sst" / "sst_sim.py"))


def test_true_positive_targets_in_3d_in_2d_and_their_mean(scene):
    """A car shifted 1 m along the line of sight is false in 3D (IoU < 0.7) but its projected box still
    overlaps the ground truth's (2D IoU >= 0.7); a pedestrian where no pedestrian is is false in both; one
    outside the image is false in 2D."""
    from perception.datasets.fusion_pairs import (_targets, true_positive_targets,
                                                  true_positive_targets_2d)

    gt = scene.lidar([("Car", 30.0, 0.0), ("Pedestrian", 12.0, 4.0), ("Car", -8.0, 0.0)], [1.0, 1.0, 1.0])
    gt_proj = project_to_image(gt.boxes3d, scene.calib, scene.image_size)
    gt = dataclasses.replace(gt, boxes2d=Boxes2D(gt_proj.boxes))
    det = scene.lidar([("Car", 31.0, 0.0), ("Pedestrian", 12.0, 4.0), ("Pedestrian", 20.0, -5.0),
                       ("Car", -8.0, 0.0)], [0.9, 0.8, 0.7, 0.6])
    proj = project_to_image(det.boxes3d, scene.calib, scene.image_size)
    assert true_positive_targets(det, gt).tolist() == [0.0, 1.0, 0.0, 1.0]
    assert true_positive_targets_2d(proj.boxes, proj.in_image, det.names, gt).tolist() == [1.0, 1.0, 0.0, 0.0]
    assert _targets("mean", det, proj, gt).tolist() == [0.5, 1.0, 0.0, 0.5]
    assert _targets("3d", det, proj, gt).tolist() == [0.0, 1.0, 0.0, 1.0]


def test_fusion_pairs_dataset_rejects_an_unknown_target():
    from perception.datasets.fusion_pairs import FusionPairsDataset

    with pytest.raises(ValueError, match="target must be one of"):
        FusionPairsDataset(cache_file="unused.pt", lidar_model="sst", camera_model="tridentnet_fast", target="3D")
