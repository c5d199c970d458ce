"""InferenceNode with a stand-in detector: synchronisation, outputs, diagnostics, and bad input that must be
logged and skipped without stopping the node."""
import dataclasses

import numpy as np
import pytest
import torch

from perception.ros import outputs
from perception.ros.camera_info import calibration_from_camera_info, camera_info_from_calibration
from perception.ros.node import InferenceNode
from perception.ros.params import NodeParams
from perception.ros.recording import frame_messages, header
from perception.ros.tf import lidar_to_camera_from_tf, matrix_to_quaternion, quaternion_to_matrix, tf_message
from perception.ros.typestore import new_message, ros1_typestore
from perception.structures import Frame, FusedDetections, KittiCalibration, Sensor

CLASSES = ("Car", "Pedestrian", "Cyclist")


def _calib() -> KittiCalibration:
    p2 = np.array([[721.5, 0.0, 60.0, 44.9], [0.0, 721.5, 40.0, 0.2], [0.0, 0.0, 1.0, 0.003]])
    rot = quaternion_to_matrix(0.01, -0.02, 0.03, 1.0) @ np.array([[0, -1, 0], [0, 0, -1], [1, 0, 0]], float)
    return KittiCalibration(P=np.stack([p2] * 4), R0_rect=quaternion_to_matrix(0.0, 0.01, 0.0, 1.0),
                            Tr_velo_to_cam=np.c_[rot, [0.1, -0.08, -0.27]])


def _frame(seed: int = 0, n_points: int = 200) -> Frame:
    rng = np.random.default_rng(seed)
    points = np.c_[rng.uniform(5, 40, n_points), rng.uniform(-10, 10, n_points), rng.uniform(-2, 1, n_points),
                   rng.uniform(0, 1, n_points)].astype(np.float32)
    image = rng.integers(0, 255, (80, 120, 3), dtype=np.uint8)
    return Frame(frame_id=f"{seed:06d}", points=torch.from_numpy(points), calib=_calib(), image=image)


class FakeDetector:
    """One car at the mean of the points (3D) plus a camera-only pedestrian (2D only); fails on request."""

    def __init__(self):
        self.frames: list[Frame] = []
        self.fail_next = False

    def __call__(self, frames):
        out = []
        for frame in frames:
            self.frames.append(frame)
            if self.fail_next:
                self.fail_next = False
                raise RuntimeError("simulated model failure")
            c = frame.points[:, :3].mean(0)
            out.append(FusedDetections.build(
                frame_id=frame.frame_id, calib=frame.calib, image_size=frame.image_size, names=["Car", "Pedestrian"],
                scores=torch.tensor([0.9, 0.4]), sensors=torch.tensor([int(Sensor.LIDAR | Sensor.CAMERA),
                                                                         int(Sensor.CAMERA)]),
                boxes3d=torch.tensor([[c[0], c[1], c[2], 3.9, 1.6, 1.5, 0.3], [float("nan")] * 7]),
                boxes2d=torch.tensor([[10.0, 20.0, 50.0, 60.0], [70.0, 5.0, 80.0, 40.0]])))
        return out


@pytest.fixture()
def node():
    published = []
    params = NodeParams(lidar_to_camera=tuple(_calib().Tr_velo_to_cam.reshape(-1)), diagnostics_period=0.0)
    n = InferenceNode(params=params, detector=FakeDetector(), class_names=CLASSES,
                      publish=lambda topic, msg: published.append((topic, msg)))
    n.published = published
    return n


def _feed(node, frame, stamp, **kw):
    for topic, _, msg in frame_messages(frame, stamp=stamp, params=node.params, **kw):
        node.handle(topic, msg)


def _outputs(node, topic):
    return [m for t, m in node.published if t == topic]


def test_a_synchronised_frame_reaches_the_detector_intact_and_is_published(node):
    frame = _frame()
    _feed(node, frame, stamp=100.0, encoding="bgr8")
    assert node.process_pending() == 1
    seen = node.detector.frames[0]
    np.testing.assert_array_equal(seen.image, frame.image)                 # bgr8 decoded back to RGB
    np.testing.assert_array_equal(seen.points.numpy(), frame.points.numpy())
    uv_node, _ = seen.calib.lidar_to_image(frame.points[:, :3].numpy().astype(np.float64))
    uv_true, _ = frame.calib.lidar_to_image(frame.points[:, :3].numpy().astype(np.float64))
    np.testing.assert_allclose(uv_node, uv_true, rtol=1e-9, atol=1e-6)    # CameraInfo + extrinsic = calibration

    (det3d,), (det2d,) = _outputs(node, node.params.detections3d_topic), _outputs(node, node.params.detections2d_topic)
    ids, scores, boxes = outputs.read_detection3d_array(det3d)
    assert ids.tolist() == [0] and scores == pytest.approx([0.9])          # the camera-only object has no 3D box
    np.testing.assert_allclose(boxes[0, :3], frame.points[:, :3].mean(0).numpy(), rtol=1e-6)
    np.testing.assert_allclose(boxes[0, 3:], [3.9, 1.6, 1.5, 0.3], rtol=1e-6)
    assert det3d.header.frame_id == "velodyne" and det3d.header.stamp.sec == 100
    ids2, scores2, boxes2 = outputs.read_detection2d_array(det2d)
    assert ids2.tolist() == [0, 1] and scores2 == pytest.approx([0.9, 0.4])
    np.testing.assert_allclose(boxes2, [[10, 20, 50, 60], [70, 5, 80, 40]])
    assert det2d.header.frame_id == "camera" and det2d.header.stamp.nanosec == 10_000_000
    (fused,) = _outputs(node, node.params.fused_topic)
    assert '"sensors":["lidar","camera"]' in fused.data and '"name":"Pedestrian"' in fused.data
    summary = node.summary()
    assert summary["frames processed"] == 1 and summary["bad messages"] == 0


def test_messages_serialize_to_the_real_vision_msgs_wire_format(node):
    _feed(node, _frame(), stamp=100.0)
    node.process_pending()
    store = ros1_typestore()
    for topic, msg in node.published:
        back = store.deserialize_ros1(store.serialize_ros1(msg, msg.__msgtype__), msg.__msgtype__)
        assert type(back) is type(msg)
    diag = _outputs(node, node.params.diagnostics_topic)[-1]
    values = {kv.key: kv.value for kv in diag.status[0].values}
    assert values["frames processed"] == "1" and diag.status[0].level == 0


def test_frames_are_paired_within_the_tolerance_only(node):
    frame = _frame()
    msgs = {t: m for t, _, m in frame_messages(frame, stamp=100.0, params=node.params, image_offset=0.2)}
    for topic, msg in msgs.items():
        node.handle(topic, msg)
    assert node.process_pending() == 0                        # 0.2 s apart > 0.05 s tolerance
    _feed(node, frame, stamp=101.0, image_offset=0.03)
    assert node.process_pending() == 1


def test_bad_messages_are_counted_and_skipped_and_the_node_keeps_going(node, caplog):
    p = node.params
    frame = _frame()
    msgs = {t: m for t, _, m in frame_messages(frame, stamp=50.0, params=p)}
    image, cloud = msgs[p.image_topic], msgs[p.points_topic]
    node.handle(p.camera_info_topic, msgs[p.camera_info_topic])
    bad = [
        (p.image_topic, dataclasses.replace(image, encoding="yuv422")),                         # wrong encoding
        (p.image_topic, dataclasses.replace(image, data=image.data[: len(image.data) // 2])),   # truncated
        (p.points_topic, dataclasses.replace(cloud, data=cloud.data[:-7])),                     # truncated
        (p.points_topic, dataclasses.replace(cloud, width=0, row_step=0, data=cloud.data[:0])),  # empty cloud
    ]
    nan_points = frame.points.numpy().copy()
    nan_points[:] = np.nan
    nan_cloud = next(m for t, _, m in frame_messages(dataclasses.replace(frame, points=torch.from_numpy(nan_points)),
                                                     stamp=50.0, params=p) if t == p.points_topic)
    bad.append((p.points_topic, dataclasses.replace(nan_cloud, is_dense=False)))             # only NaN points
    bad.append((p.image_topic, dataclasses.replace(image, header=header(0.0, "camera"))))    # no stamp
    for topic, msg in bad:
        node.handle(topic, msg)
    node.handle_raw(p.points_topic, "sensor_msgs/PointCloud2", b"\x01\x02\x03")              # undecodable bytes
    node.handle_raw(p.points_topic, "sensor_msgs/Image", b"")                                 # wrong type
    assert node.process_pending() == 0
    assert node.summary()["bad messages"] == len(bad) + 2
    assert "yuv422" in caplog.text and "truncated" in caplog.text and "no finite points" in caplog.text

    _feed(node, frame, stamp=60.0)                                              # a good frame still goes through
    assert node.process_pending() == 1
    _feed(node, frame, stamp=55.0)                                              # stale: before the last frame
    assert node.process_pending() == 0
    summary = node.summary()
    assert summary["frames processed"] == 1 and summary["bad messages"] == len(bad) + 2 + 2
    assert any("stale" in k for k in node.stats.bad_messages)


def test_a_failing_detector_loses_one_frame_only(node, caplog):
    node.detector.fail_next = True
    _feed(node, _frame(), stamp=10.0)
    _feed(node, _frame(1), stamp=11.0)
    assert node.process_pending() == 2
    summary = node.summary()
    assert summary["frames failed"] == 1 and summary["frames processed"] == 1
    assert "simulated model failure" in caplog.text
    assert _outputs(node, node.params.diagnostics_topic)[-1].status[0].level == 1


def test_frames_wait_for_camera_info_and_the_extrinsic():
    published = []
    node = InferenceNode(params=NodeParams(), detector=FakeDetector(), class_names=CLASSES,
                         publish=lambda t, m: published.append((t, m)))
    frame = _frame()
    msgs = frame_messages(frame, stamp=5.0, params=node.params)
    for topic, _, msg in msgs:
        if topic != node.params.camera_info_topic:
            node.handle(topic, msg)
    node.process_pending()
    assert node.summary()["frames failed"] == 1                       # no CameraInfo yet: skipped, logged
    for topic, _, msg in frame_messages(frame, stamp=6.0, params=node.params):
        node.handle(topic, msg)
    node.process_pending()
    assert node.summary()["frames failed"] == 2                       # no lidar_to_camera and no /tf_static
    for topic, _, msg in frame_messages(frame, stamp=7.0, params=node.params, with_tf=True):
        node.handle(topic, msg)
    node.process_pending()
    assert node.summary()["frames processed"] == 1
    np.testing.assert_allclose(node.detector.frames[-1].calib.Tr_velo_to_cam, frame.calib.Tr_velo_to_cam, atol=1e-12)


def test_full_queues_drop_the_oldest_frames_and_count_them():
    published = []
    params = NodeParams(lidar_to_camera=tuple(_calib().Tr_velo_to_cam.reshape(-1)), frame_queue_size=2)
    node = InferenceNode(params=params, detector=FakeDetector(), class_names=CLASSES,
                         publish=lambda t, m: published.append((t, m)))
    for i in range(5):                                                 # 5 frames arrive, nobody processes
        _feed(node, _frame(i), stamp=1.0 + i)
    assert len(node.frames) == 2 and node.summary()["frames dropped (queue full)"] == 3
    node.process_pending()
    assert [f.frame_id for f in node.detector.frames] == ["4.000000", "5.000000"]   # the newest two survive


def test_live_worker_processes_in_the_background_and_stops_cleanly(node):
    node.start()
    for i in range(3):
        _feed(node, _frame(i), stamp=20.0 + i)
    node.stop(drain=True)
    assert node.summary()["frames processed"] == 3
    assert len(_outputs(node, node.params.detections3d_topic)) == 3


def test_camera_info_round_trip_and_tf_round_trip():
    calib = _calib()
    info = camera_info_from_calibration(calib, width=120, height=80, header=header(1.0, "camera"))
    back = calibration_from_camera_info(info, calib.Tr_velo_to_cam)
    np.testing.assert_allclose(back.P[2], calib.P[2])
    np.testing.assert_allclose(back.R0_rect, calib.R0_rect)
    msg = tf_message(calib.Tr_velo_to_cam, camera_frame="camera", lidar_frame="velodyne", header=header(1.0, "x"))
    np.testing.assert_allclose(lidar_to_camera_from_tf(msg, camera_frame="camera", lidar_frame="velodyne"),
                               calib.Tr_velo_to_cam, atol=1e-12)
    for R in (np.eye(3), np.diag([1.0, -1, -1]), np.diag([-1.0, 1, -1]), calib.Tr_velo_to_cam[:, :3]):
        np.testing.assert_allclose(quaternion_to_matrix(*matrix_to_quaternion(R)), R, atol=1e-12)


def test_parameters_are_checked_by_name():
    assert NodeParams.from_mapping({"sync_tolerance": "0.1", "with_panoptic": "false"}).with_panoptic is False
    with pytest.raises(ValueError, match="unknown parameter"):
        NodeParams.from_mapping({"sync_tolerence": 0.1})
    with pytest.raises(ValueError, match="'frame_queue_size' must be >= 1"):
        NodeParams(frame_queue_size=0)
    with pytest.raises(ValueError, match="'input_queue_size' must be int"):
        NodeParams.from_mapping({"input_queue_size": "many"})
    with pytest.raises(ValueError, match="12 or 16"):
        NodeParams.from_mapping({"lidar_to_camera": "1 2 3"})


def test_new_message_fills_defaults_and_rejects_unknown_fields():
    msg = new_message("sensor_msgs/CameraInfo", width=3)
    assert msg.width == 3 and msg.K.shape == (9,) and msg.roi.width == 0 and msg.header.frame_id == ""
    with pytest.raises(TypeError, match="no field"):
        new_message("std_msgs/Header", frmae_id="x")
