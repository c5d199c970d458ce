"""FusionDetector: the one API from a frame to the unified output, on simulated frames."""
import numpy as np
import pytest
import torch

from perception.apis import FusionDetector
from perception.apis.model_zoo import repo_path
from perception.datasets import kitti_io
from perception.models.camera.panoptic import predict_image
from perception.structures import FusedDetections, Sensor, box_iou_bev

CONFIG = "configs/fusion/fusion_clocs_sim.py"


@pytest.fixture(scope="module")
def sim_frames(tmp_path_factory):
    """Two full-size simulated frames from a seed no model trained on."""
    from perception.datasets.sim import SimConfig, generate_dataset

    root = tmp_path_factory.mktemp("fusion_api_sim")
    generate_dataset(root, num_frames=2, config=SimConfig(seed=777), workers=1, progress=False)
    return [kitti_io.read_frame(root, f"{i:06d}") for i in range(2)]


def test_shipped_models_find_the_cars_of_a_simulated_frame(sim_frames):
    detector = FusionDetector(config=repo_path(CONFIG))
    results = detector(sim_frames, batch_size=2)
    assert len(results) == 2 and all(isinstance(r, FusedDetections) for r in results)
    found = total = both = 0
    for frame, result in zip(sim_frames, results):
        assert result.frame_id == frame.frame_id and result.image_size == frame.image_size
        assert result.panoptic is not None and result.panoptic.ids.shape == frame.image_size
        gt = frame.annotations.select([n == "Car" for n in frame.annotations.names])
        gt = gt.select(gt.boxes3d.center[:, 0] < 45)                  # well inside the LiDAR range
        conf = result.select((result.scores >= 0.1) & result.has_box3d)   # the fused scores are calibrated
        # probabilities of a KITTI-strict hit (3D IoU >= 0.7), so a found car often scores 0.1-0.5
        cars = conf.select([n == "Car" for n in conf.names])
        if len(gt) and len(cars):
            iou = box_iou_bev(gt.boxes3d.to(torch.float64), cars.boxes3d.to(torch.float64))
            found += int((iou.amax(dim=1) >= 0.5).sum())
        total += len(gt)
        both += int((cars.seen_by(Sensor.LIDAR) & cars.seen_by(Sensor.CAMERA)).sum())
    assert total >= 4 and found >= 0.6 * total        # trained weights: most nearby cars are found in 3D
    assert both >= 0.5 * found                         # and most of them were seen by both sensors


def _rows(r: FusedDetections) -> torch.Tensor:
    """One row per object (class, sensors, score, boxes), sorted lexicographically."""
    cls = torch.tensor([["Car", "Pedestrian", "Cyclist"].index(n) for n in r.names], dtype=torch.float32)
    rows = torch.cat([cls[:, None], r.sensors[:, None].float(), r.scores[:, None], r.boxes3d.tensor,
                      r.boxes2d.tensor], dim=1)
    key = torch.nan_to_num(rows, nan=-1e6)
    for col in reversed(range(rows.shape[1])):
        order = key[:, col].argsort(stable=True)
        rows, key = rows[order], key[order]
    return rows


def test_the_api_is_its_parts_run_in_order(sim_frames):
    """Random weights: the batched API gives exactly the single-sensor APIs' results fused frame by frame."""
    torch.manual_seed(0)
    detector = FusionDetector(config=repo_path(CONFIG), checkpoints={"lidar": None, "camera": None,
                                                                      "panoptic": None, "scorer": None})
    results = detector(sim_frames, batch_size=2)
    model, scale = detector.panoptic
    for frame, result in zip(sim_frames, results):
        expected = detector.fusion(frame_id=frame.frame_id, calib=frame.calib, image_size=frame.image_size,
                                   lidar=detector.lidar([frame])[0], camera=detector.camera([frame.image])[0],
                                   panoptic=predict_image(model, frame.image, scale=scale))
        # random weights give many boxes of equal score, which batching may order differently: compare as sets
        a, b = _rows(result), _rows(expected)
        assert a.shape == b.shape and a.shape[0] > 0
        torch.testing.assert_close(a, b, atol=1e-3, rtol=1e-4, equal_nan=True)
        np.testing.assert_array_equal(result.panoptic.ids, expected.panoptic.ids)


def test_bad_input_and_config_errors(sim_frames, tmp_path):
    detector_cfg = repo_path(CONFIG)
    with pytest.raises(ValueError, match="unknown checkpoint keys"):
        FusionDetector(config=detector_cfg, checkpoints={"radar": None})
    frame = sim_frames[0]
    import dataclasses

    no_image = dataclasses.replace(frame, image=None)
    detector = FusionDetector(config=detector_cfg, with_panoptic=False)
    assert detector.panoptic is None
    with pytest.raises(ValueError, match="needs the camera image"):
        detector([no_image])
    (result,) = detector([frame])
    assert result.panoptic is None and (result.panoptic_ids == 0).all()
