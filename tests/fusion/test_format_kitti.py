"""KITTI result files of the unified output: round trip, the 2D-only and outside-image conventions."""
import pytest
import torch

from perception.datasets.kitti_io import KittiFormatError, read_label
from perception.fusion import LateFusion, RuleScorer, project_to_image
from perception.fusion.formats.kitti import fused_to_kitti, read_kitti, write_kitti


def _fused(scene):
    lidar = scene.lidar([("Car", 15.0, 3.0), ("Pedestrian", 10.0, -2.0), ("Car", -8.0, 0.0)], [0.6, 0.5, 0.8])
    proj = project_to_image(lidar.boxes3d, scene.calib, scene.image_size)
    camera = scene.camera(torch.stack([proj.boxes[0] - 2, torch.tensor([900.0, 150.0, 930.0, 230.0])]),
                          ["Car", "Cyclist"], [0.9, 0.7])
    fusion = LateFusion(scorer=RuleScorer(), class_names=scene.classes)
    return fusion(frame_id="000007", calib=scene.calib, image_size=scene.image_size, lidar=lidar, camera=camera), proj


def test_round_trip_keeps_classes_scores_and_boxes(scene, tmp_path):
    fused, _ = _fused(scene)
    (path,) = write_kitti(tmp_path, [fused])
    assert path.endswith("000007.txt")
    lines = open(path).read().splitlines()
    assert len(lines) == 4
    assert lines[2].split()[4:8] == ["-1.00"] * 4                             # behind the camera: no 2D box
    assert lines[3].split()[8:15] == ["-1.0000"] * 3 + ["-1000.0000"] * 3 + ["-10.0000"]   # camera-only: no 3D box
    (back,) = read_kitti(tmp_path, frame_ids=["000007"], calibs=[scene.calib], image_sizes=[scene.image_size])
    assert back.names == fused.names
    torch.testing.assert_close(back.scores, fused.scores, atol=1e-6, rtol=0)
    assert back.has_box3d.tolist() == fused.has_box3d.tolist() == [True, True, True, False]
    assert back.has_box2d.tolist() == fused.has_box2d.tolist() == [True, True, False, True]
    torch.testing.assert_close(back.boxes3d.tensor[:3], fused.boxes3d.tensor[:3], atol=1e-4, rtol=0)
    has2d = fused.has_box2d
    torch.testing.assert_close(back.boxes2d.tensor[has2d], fused.boxes2d.tensor[has2d], atol=5e-3, rtol=0)
    # what the format cannot carry: sensors are inferred from the 3D box
    assert [back.sensor_names(i) for i in range(4)] == [["lidar"]] * 3 + [["camera"]]


def test_projected_boxes2d_for_3d_evaluation(scene):
    fused, proj = _fused(scene)
    given = fused_to_kitti(fused)
    projected = fused_to_kitti(fused, with_box3d_only=True, boxes2d="projected")
    assert len(projected) == 3                                   # the camera-only object is left out
    torch.testing.assert_close(torch.tensor(projected[0].bbox, dtype=torch.float64), proj.boxes[0].double(), atol=1e-4,
                               rtol=0)
    assert given[0].bbox != projected[0].bbox                    # the fused box is the camera's here
    assert projected[2].bbox == (-1.0, -1.0, -1.0, -1.0)


def test_two_d_only_lines_are_accepted_by_the_label_reader(tmp_path):
    path = tmp_path / "x.txt"
    path.write_text("Cyclist 0.00 0 -10.0000 900.00 150.00 930.00 230.00 -1.0000 -1.0000 -1.0000 "
                    "-1000.0000 -1000.0000 -1000.0000 -10.0000 0.350000\n")
    (obj,) = read_label(path, allow_score=True)
    assert obj.dimensions == (-1.0, -1.0, -1.0) and obj.score == 0.35
    path.write_text("Cyclist 0.00 0 -10.0000 900.00 150.00 930.00 230.00 -1.0000 2.0000 -1.0000 "
                    "1.0000 1.0000 10.0000 0.0000 0.350000\n")
    with pytest.raises(KittiFormatError, match="negative dimension"):
        read_label(path, allow_score=True)
