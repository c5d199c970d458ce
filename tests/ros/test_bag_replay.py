"""tools/make_bag.py + tools/ros_node.py --bag end to end with the shipped models: the output bag's
detections equal direct FusionDetector calls on the same frames; ROS 2 / MCAP input; corrupt messages;
SIGTERM mid-replay leaves a complete bag."""
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from perception.apis import FusionDetector
from perception.apis.model_zoo import repo_path
from perception.datasets import kitti_io
from perception.ros import outputs
from perception.ros.bag import read_messages
from perception.ros.params import NodeParams
from perception.ros.recording import frame_messages, header, write_sensor_bag

FRAMES = ["000000", "000001", "000002"]
P = NodeParams()


def _run(*args, timeout=600, **kw):
    return subprocess.run([sys.executable, *args], cwd=repo_path(), capture_output=True, text=True, timeout=timeout,
                          **kw)


@pytest.fixture(scope="module")
def sim_bag(tiny_sim_dataset, tmp_path_factory):
    out = tmp_path_factory.mktemp("bags") / "sim.bag"
    run = _run("tools/make_bag.py", "--data-root", str(tiny_sim_dataset), "--frame-ids", *FRAMES, "--out", str(out))
    assert run.returncode == 0, run.stderr
    assert "/lidar/points x3" in run.stdout and "/tf_static x1" in run.stdout
    return out


@pytest.fixture(scope="module")
def direct(tiny_sim_dataset):
    """What the API gives on the same frames, one frame per call as the node does."""
    detector = FusionDetector(config=repo_path(P.config))
    frames = [kitti_io.read_frame(tiny_sim_dataset, f) for f in FRAMES]
    return [detector([frame])[0] for frame in frames]


def _outputs(path, topic):
    return [msg for t, _, msg in read_messages(path, {topic})]


def _assert_same_as_api(out_bag, direct):
    det3d = _outputs(out_bag, P.detections3d_topic)
    det2d = _outputs(out_bag, P.detections2d_topic)
    assert len(det3d) == len(det2d) == len(direct)
    classes = ["Car", "Pedestrian", "Cyclist"]
    total = 0
    for msg3, msg2, result in zip(det3d, det2d, direct):
        has3 = result.has_box3d.numpy()
        ids, scores, boxes = outputs.read_detection3d_array(msg3)
        assert ids.tolist() == [classes.index(n) for n, h in zip(result.names, has3) if h]
        np.testing.assert_allclose(scores, result.scores.numpy()[has3], atol=1e-5)
        np.testing.assert_allclose(boxes[:, :6], result.boxes3d.tensor.numpy()[has3, :6], atol=1e-4)
        has2 = result.has_box2d.numpy()
        ids2, scores2, boxes2 = outputs.read_detection2d_array(msg2)
        assert ids2.tolist() == [classes.index(n) for n, h in zip(result.names, has2) if h]
        np.testing.assert_allclose(boxes2, result.boxes2d.tensor.numpy()[has2], atol=1e-3)
        total += len(ids) + len(ids2)
    assert total > 0                     # the comparison compared something


def test_node_on_a_generated_bag_matches_direct_api_calls(sim_bag, direct, tmp_path):
    out = tmp_path / "det.bag"
    run = _run("tools/ros_node.py", "--bag", str(sim_bag), "--out", str(out), "--no-progress")
    assert run.returncode == 0, run.stderr
    assert "frames processed: 3" in run.stdout and "bad messages: 0" in run.stdout
    assert not out.with_name("det.bag.partial").exists()
    _assert_same_as_api(out, direct)
    panoptic = _outputs(out, P.panoptic_topic)
    assert len(panoptic) == 3 and panoptic[0].encoding == "rgb8"
    diag = _outputs(out, P.diagnostics_topic)[-1]
    values = {kv.key: kv.value for kv in diag.status[0].values}
    assert values["frames processed"] == "3" and float(values["latency p50 ms"]) > 0


@pytest.mark.parametrize("fmt", ["ros2", "mcap"])
def test_ros2_bags_give_the_same_detections(sim_bag, direct, tmp_path, fmt):
    ros2 = tmp_path / f"sim_{fmt}"
    write_sensor_bag(ros2, ((t, ts * 1e-9, m) for t, ts, m in read_messages(sim_bag)), fmt=fmt)
    out = tmp_path / "det.bag"
    run = _run("tools/ros_node.py", "--bag", str(ros2), "--out", str(out), "--no-progress")
    assert run.returncode == 0, run.stderr
    _assert_same_as_api(out, direct)


def test_corrupt_messages_are_skipped_and_good_frames_still_come_out(tiny_sim_dataset, tmp_path):
    import dataclasses

    frames = [kitti_io.read_frame(tiny_sim_dataset, f) for f in FRAMES[:2]]
    good0 = frame_messages(frames[0], stamp=100.0, with_tf=True)
    good1 = frame_messages(frames[1], stamp=100.2)
    by_topic = {t: m for t, _, m in good1}
    image, cloud = by_topic[P.image_topic], by_topic[P.points_topic]
    corrupt = [
        (P.image_topic, 100.05, dataclasses.replace(image, encoding="yuv422", header=header(100.05, "camera"))),
        (P.points_topic, 100.1, dataclasses.replace(cloud, data=cloud.data[:100], header=header(100.1, "velodyne"))),
        (P.points_topic, 100.12, dataclasses.replace(cloud, width=0, row_step=0, data=cloud.data[:0],
                                                     header=header(100.12, "velodyne"))),
        (P.points_topic, 100.15, dataclasses.replace(cloud, header=header(99.0, "velodyne"))),     # stale stamp
    ]
    bag = tmp_path / "corrupt.bag"
    write_sensor_bag(bag, sorted(good0 + corrupt + good1, key=lambda m: m[1]))
    out = tmp_path / "det.bag"
    run = _run("tools/ros_node.py", "--bag", str(bag), "--out", str(out), "--no-progress", "--with-panoptic", "false")
    assert run.returncode == 0, run.stderr
    assert "frames processed: 2" in run.stdout and "bad messages: 4" in run.stdout
    assert "yuv422" in run.stderr and "truncated" in run.stderr and "stale" in run.stderr
    assert len(_outputs(out, P.detections3d_topic)) == 2


def test_sigterm_mid_replay_closes_a_complete_bag(tiny_sim_dataset, tmp_path):
    bag = tmp_path / "long.bag"
    frame = kitti_io.read_frame(tiny_sim_dataset, FRAMES[0])
    write_sensor_bag(bag, [m for i in range(40) for m in frame_messages(frame, stamp=10.0 + 0.5 * i, with_tf=i == 0)])
    out = tmp_path / "det.bag"
    proc = subprocess.Popen([sys.executable, "tools/ros_node.py", "--bag", str(bag), "--out", str(out), "--rate", "1",
                             "--no-progress", "--with-panoptic", "false"], cwd=repo_path(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    partial = out.with_name("det.bag.partial")
    deadline = time.monotonic() + 300
    while not partial.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)
    time.sleep(4.0)                                        # a few frames at the recorded 2 Hz
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 0, stderr
    assert "received SIGTERM" in stderr and not partial.exists()
    n = len(_outputs(out, P.detections3d_topic))
    assert 1 <= n < 40                                     # stopped early, what was done is in the bag
    assert f"frames processed: {n}" in stdout


def test_an_error_while_recording_leaves_only_the_partial_bag(tmp_path):
    from perception.ros.bag import BagRecorder

    out = tmp_path / "out.bag"
    with pytest.raises(RuntimeError, match="replay failed"):
        with BagRecorder(out, {P.fused_topic: "std_msgs/String"}) as recorder:
            recorder.write(P.fused_topic, outputs.new_message("std_msgs/String", data="{}"), 5)
            raise RuntimeError("replay failed")
    partial = out.with_name("out.bag.partial")
    assert not out.exists() and partial.exists()
    readable = tmp_path / "partial_copy.bag"                  # the reader goes by the extension
    readable.write_bytes(partial.read_bytes())
    assert [m.data for _, _, m in read_messages(readable)] == ["{}"]   # what was written is a valid bag
    with BagRecorder(out) as recorder:
        recorder.write(P.fused_topic, outputs.new_message("std_msgs/String", data="ok"), 7)
    assert out.exists() and not out.with_name("out.bag.partial").exists() and recorder.counts == {P.fused_topic: 1}
