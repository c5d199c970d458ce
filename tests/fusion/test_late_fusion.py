"""LateFusion on hand-built scenes: the unified output's rows, the rule scorer's numbers, camera-only frustums,
2D box choice and the panoptic match."""
import numpy as np
import pytest
import torch

from perception.fusion import LateFusion, RuleScorer, project_to_image
from perception.structures import Boxes2D, FusedDetections, PanopticResult, PanopticSegment, Sensor, box_iou_2d


def _fusion(scene, **kwargs):
    scorer = RuleScorer(boost=kwargs.pop("boost", 0.5), miss_factor=kwargs.pop("miss_factor", 0.6))
    return LateFusion(scorer=scorer, class_names=scene.classes, **kwargs)


@pytest.fixture
def frame(scene):
    """A car both sensors see, a pedestrian only the LiDAR sees (in the image), a car behind the camera, and a
    cyclist only the camera sees (80 px tall: about 15.7 m away, within LiDAR range)."""
    lidar = scene.lidar([("Car", 15.0, 3.0), ("Pedestrian", 10.0, -2.0), ("Car", -8.0, 0.0)], [0.6, 0.5, 0.8])
    proj = project_to_image(lidar.boxes3d, scene.calib, scene.image_size)
    camera = scene.camera(torch.stack([proj.boxes[0] + torch.tensor([1.0, 1.0, -1.0, 0.0]),
                                       torch.tensor([900.0, 150.0, 930.0, 230.0])]),
                          ["Car", "Cyclist"], [0.9, 0.7])
    return lidar, camera, proj


def test_rows_scores_and_sensors(scene, frame):
    lidar, camera, proj = frame
    out = _fusion(scene)(frame_id="f", calib=scene.calib, image_size=scene.image_size, lidar=lidar, camera=camera)
    assert isinstance(out, FusedDetections) and len(out) == 4
    assert out.names == ["Car", "Pedestrian", "Car", "Cyclist"]
    assert out.sensor_names(0) == ["lidar", "camera"] and out.sensor_names(1) == ["lidar"]
    assert out.sensor_names(2) == ["lidar"] and out.sensor_names(3) == ["camera"]
    # rule: matched 0.6 + 0.5 * 0.9 * 0.4; missed in the image 0.5 * 0.6; outside the image unchanged;
    # camera-only within LiDAR range 0.7 * camera_only_factor 0.5
    torch.testing.assert_close(out.scores, torch.tensor([0.78, 0.30, 0.80, 0.35]))
    torch.testing.assert_close(out.lidar_scores[:3], lidar.scores)
    assert torch.isnan(out.lidar_scores[3])
    torch.testing.assert_close(out.camera_scores[[0, 3]], torch.tensor([0.9, 0.7]))
    assert torch.isnan(out.camera_scores[1:3]).all()
    assert out.has_box3d.tolist() == [True, True, True, False]
    assert out.has_box2d.tolist() == [True, True, False, True]   # the car behind the camera has no 2D box
    torch.testing.assert_close(out.boxes2d.tensor[0], camera.boxes.tensor[0])   # box2d="camera" (default)
    torch.testing.assert_close(out.boxes2d.tensor[1], proj.boxes[1])
    torch.testing.assert_close(out.boxes3d.tensor[:3], lidar.boxes3d.tensor)
    assert out.seen_by(Sensor.CAMERA).tolist() == [True, False, False, True]


def test_camera_only_object_gets_a_frustum_around_its_height_based_depth(scene, frame):
    lidar, camera, _ = frame
    out = _fusion(scene, frustum_ratio=1.25)(frame_id="f", calib=scene.calib, image_size=scene.image_size,
                                             lidar=lidar, camera=camera)
    z = 721.5377 * 1.74 / 80.0   # f * cyclist height / box height
    torch.testing.assert_close(out.depth_range[3], torch.tensor([z / 1.25, z * 1.25]))
    assert torch.isnan(out.depth_range[:3]).all()
    corners = out.frustum_corners(3)                      # (8, 3) LiDAR frame
    uv, depth = scene.calib.lidar_to_image(corners)
    expected = torch.tensor([[900.0, 150.0], [930.0, 150.0], [930.0, 230.0], [900.0, 230.0]], dtype=uv.dtype)
    torch.testing.assert_close(uv, expected.repeat(2, 1), atol=1e-6, rtol=0)   # the frustum projects onto the box
    torch.testing.assert_close(depth, torch.tensor([z / 1.25] * 4 + [z * 1.25] * 4, dtype=depth.dtype))
    with pytest.raises(ValueError, match="no frustum"):
        out.frustum_corners(0)


def test_camera_only_objects_beyond_lidar_range_keep_their_score(scene):
    lidar = scene.lidar([], [])
    camera = scene.camera([[600.0, 170.0, 610.0, 190.0], [600.0, 150.0, 640.0, 230.0]], ["Car", "Car"], [0.8, 0.8])
    out = _fusion(scene, camera_only_factor=0.25, lidar_max_depth=40.0)(
        frame_id="f", calib=scene.calib, image_size=scene.image_size, lidar=lidar, camera=camera)
    # 20 px tall: 55 m away, beyond the LiDAR; 80 px: 13.8 m, the LiDAR should have seen it
    torch.testing.assert_close(out.scores, torch.tensor([0.8, 0.2]))
    assert out.seen_by(Sensor.LIDAR).sum() == 0


def test_unmatched_camera_boxes_on_a_lidar_object_of_their_class_are_duplicates(scene, frame):
    lidar, camera, proj = frame
    car = proj.boxes[0]
    w = float(car[2] - car[0])
    second = car + torch.tensor([0.25 * w, 0.0, 0.25 * w, 0.0])    # the 2D detector's second box on the car
    extra = scene.camera(torch.cat([camera.boxes.tensor, torch.stack([second, second])]),
                         [*camera.names, "Car", "Pedestrian"], [0.9, 0.7, 0.5, 0.4])
    iou = float(box_iou_2d(Boxes2D(second[None]), Boxes2D(car[None]))[0, 0])
    assert 0.5 < iou < 0.7
    keep_all = _fusion(scene)(frame_id="f", calib=scene.calib, image_size=scene.image_size, lidar=lidar,
                              camera=extra)
    assert keep_all.names == ["Car", "Pedestrian", "Car", "Cyclist", "Car", "Pedestrian"]
    dedup = _fusion(scene, camera_duplicate_iou=0.5, box2d="lidar")(
        frame_id="f", calib=scene.calib, image_size=scene.image_size, lidar=lidar, camera=extra)
    # the second car box goes; the pedestrian box on the car (another class) and the lone cyclist stay
    assert dedup.names == ["Car", "Pedestrian", "Car", "Cyclist", "Pedestrian"]
    torch.testing.assert_close(dedup.camera_scores[3:], torch.tensor([0.7, 0.4]))
    strict = _fusion(scene, camera_duplicate_iou={"Car": 0.7, "Pedestrian": None, "Cyclist": 0.5}, box2d="lidar")(
        frame_id="f", calib=scene.calib, image_size=scene.image_size, lidar=lidar, camera=extra)
    assert strict.names == keep_all.names                            # IoU below the car's 0.7: kept
    with pytest.raises(ValueError, match="camera_duplicate_iou: no value for classes"):
        _fusion(scene, camera_duplicate_iou={"Car": 0.5})
    with pytest.raises(ValueError, match=r"must be None or in \(0, 1\]"):
        _fusion(scene, camera_duplicate_iou=1.5)


def test_min_score_drops_objects_below_the_output_operating_point_whichever_sensor_saw_them(scene, frame):
    lidar, camera, _ = frame
    run = lambda **kw: _fusion(scene, **kw)(frame_id="f", calib=scene.calib, image_size=scene.image_size,
                                            lidar=lidar, camera=camera)
    # scores as in test_rows_scores_and_sensors: car 0.78 (both), pedestrian 0.30 (LiDAR, missed by the camera),
    # car 0.80 (LiDAR, behind the camera), cyclist 0.35 (camera only)
    assert run(min_score=0.0).names == ["Car", "Pedestrian", "Car", "Cyclist"]
    assert run(min_score=0.3).names == ["Car", "Pedestrian", "Car", "Cyclist"]    # at the cut: kept
    assert run(min_score=0.32).names == ["Car", "Car", "Cyclist"]                 # a LiDAR-backed object goes too
    out = run(min_score={"Car": 0.79, "Pedestrian": 0.0, "Cyclist": 0.4})          # per class
    assert out.names == ["Pedestrian", "Car"]
    torch.testing.assert_close(out.scores, torch.tensor([0.30, 0.80]))
    assert out.sensor_names(0) == ["lidar"] and out.sensor_names(1) == ["lidar"]
    assert len(run(min_score=1.0)) == 0
    with pytest.raises(ValueError, match=r"min_score must be in \[0, 1\]"):
        _fusion(scene, min_score={"Car": 0.1, "Pedestrian": -0.1, "Cyclist": 0.1})
    with pytest.raises(ValueError, match="min_score: no value for classes"):
        _fusion(scene, min_score={"Car": 0.1})


@pytest.mark.parametrize("mode", ["camera", "lidar", "mean"])
def test_box2d_of_matched_objects(scene, frame, mode):
    lidar, camera, proj = frame
    out = _fusion(scene, box2d=mode)(frame_id="f", calib=scene.calib, image_size=scene.image_size, lidar=lidar,
                                     camera=camera)
    cam, pro = camera.boxes.tensor[0], proj.boxes[0]
    expected = {"camera": cam, "lidar": pro, "mean": (0.9 * cam + 0.6 * pro) / 1.5}[mode]
    torch.testing.assert_close(out.boxes2d.tensor[0], expected)


def test_panoptic_instance_is_matched_by_class_and_overlap(scene, frame):
    lidar, camera, _ = frame
    h, w = scene.image_size
    ids = np.zeros((h, w), np.int64)
    x1, y1, x2, y2 = camera.boxes.tensor[0].round().long().tolist()
    ids[y1:y2, x1:x2] = 1001                             # the car's instance
    ids[150:230, 900:930] = 2001                         # a pedestrian segment where the camera saw a cyclist
    segments = [PanopticSegment(id=1001, category_id=1, isthing=True, area=int((ids == 1001).sum()), score=0.9),
                PanopticSegment(id=2001, category_id=2, isthing=True, area=int((ids == 2001).sum()), score=0.9)]
    panoptic = PanopticResult(ids=ids, segments=segments)
    fusion = _fusion(scene, panoptic_categories={1: "Car", 2: "Pedestrian", 3: "Cyclist"})
    out = fusion(frame_id="f", calib=scene.calib, image_size=scene.image_size, lidar=lidar, camera=camera,
                 panoptic=panoptic)
    assert out.panoptic_ids.tolist() == [1001, 0, 0, 0]
    assert out.sensor_names(0) == ["lidar", "camera", "panoptic"]
    np.testing.assert_array_equal(out.mask(0), ids == 1001)
    assert out.mask(3) is None   # the class differs: no match


def test_fused_detections_checks_and_select(scene, frame):
    lidar, camera, _ = frame
    out = _fusion(scene)(frame_id="f", calib=scene.calib, image_size=scene.image_size, lidar=lidar, camera=camera)
    sub = out.select(out.has_box3d)
    assert sub.names == ["Car", "Pedestrian", "Car"] and len(sub.depth_range) == 3
    cam = out.boxes3d_camera()
    assert torch.isnan(cam.tensor[3]).all() and torch.isfinite(cam.tensor[:3]).all()
    with pytest.raises(ValueError, match="scores must have shape"):
        FusedDetections.build(frame_id="x", calib=scene.calib, image_size=scene.image_size, names=["Car"],
                              scores=torch.tensor([0.5]), sensors=torch.tensor([1]),
                              lidar_scores=torch.tensor([0.5, 0.1]))
    with pytest.raises(ValueError, match="at least one sensor"):
        FusedDetections.build(frame_id="x", calib=scene.calib, image_size=scene.image_size, names=["Car"],
                              scores=torch.tensor([0.5]), sensors=torch.tensor([0]))
    with pytest.raises(ValueError, match="box2d must be"):
        _fusion(scene, box2d="best")


def test_rule_scorer_rejects_factors_outside_unit_interval():
    with pytest.raises(ValueError, match="miss_factor"):
        RuleScorer(miss_factor=1.5)
