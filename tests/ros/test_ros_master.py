"""tools/ros_node.py --ros against a real ROS 1 master on loopback (Debian's rosmaster and rospy).

Three processes besides pytest: ``rosmaster``, the node, and ``tests/ros/rospy_player.py``, a rospy node that
replays simulated frames with Debian's own message classes (sensor_msgs/Image, CameraInfo, PointCloud2,
tf2_msgs/TFMessage), sends corrupt messages, and collects the node's detections and diagnostics (the latter
through Debian's diagnostic_msgs class, so a wrong MD5 sum would fail the connection).  The detections are
checked against direct FusionDetector calls here.  Without rospy the module is skipped visibly, except under
PERCEPTION_REQUIRE_ROS=1 (CI), where that fails.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import xmlrpc.client

import numpy as np
import pytest

from perception.apis import FusionDetector
from perception.apis.model_zoo import repo_path
from perception.datasets import kitti_io
from perception.ros.params import NodeParams

if os.environ.get("PERCEPTION_REQUIRE_ROS") != "1":
    pytest.importorskip("rospy", reason="ROS 1 (Debian python3-rospy) is not installed; see README 'ROS'")

FRAMES = ["000000", "000001", "000002"]
P = NodeParams()
CLASSES = ["Car", "Pedestrian", "Cyclist"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def master(tmp_path_factory):
    """A rosmaster on a free loopback port; yields the environment that points a process at it."""
    if shutil.which("rosmaster") is None:
        pytest.fail("rosmaster is not on PATH (Debian python3-rosmaster)")
    port = _free_port()
    env = dict(os.environ, ROS_MASTER_URI=f"http://127.0.0.1:{port}", ROS_HOSTNAME="127.0.0.1",
               ROS_LOG_DIR=str(tmp_path_factory.mktemp("ros_logs")))
    proc = subprocess.Popen(["rosmaster", "--core", "-p", str(port)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while True:
        try:
            xmlrpc.client.ServerProxy(env["ROS_MASTER_URI"]).getSystemState("/probe")
            break
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                pytest.fail(f"rosmaster did not start: {proc.stderr.read().decode()[-2000:]}")
            time.sleep(0.2)
    yield env
    proc.terminate()
    proc.wait(timeout=30)


def test_node_on_a_real_master_publishes_the_api_detections_and_survives_bad_messages(master, tiny_sim_dataset,
                                                                                       tmp_path):
    node = subprocess.Popen([sys.executable, "tools/ros_node.py", "--ros", "_frame_queue_size:=8",
                             "_input_queue_size:=8"], cwd=repo_path(), env=master, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    out = tmp_path / "player.json"
    try:
        player = subprocess.run([sys.executable, "tests/ros/rospy_player.py", "--data-root", str(tiny_sim_dataset),
                                 "--frame-ids", *FRAMES, "--out", str(out)], cwd=repo_path(), env=master,
                                capture_output=True, text=True, timeout=600)
        assert player.returncode == 0, player.stderr[-4000:]
        assert node.poll() is None                                     # still running after the bad messages
    finally:
        node.send_signal(signal.SIGINT)
        _, stderr = node.communicate(timeout=60)
    assert node.returncode == 0, stderr[-4000:]
    assert "yuv422" in stderr and "truncated" in stderr and "no finite points" in stderr

    result = json.loads(out.read_text())
    assert result["ok_good"] and result["ok_after"], result
    detector = FusionDetector(config=repo_path(P.config))
    frames = [kitti_io.read_frame(tiny_sim_dataset, f) for f in FRAMES]
    direct = [detector([f])[0] for f in frames + frames[-1:]]       # the player's last good frame repeats frame 2
    assert len(result["detections"]) == len(direct)
    for got, want in zip(result["detections"], direct):
        has3 = want.has_box3d.numpy()
        assert got["ids"] == [CLASSES.index(n) for n, h in zip(want.names, has3) if h]
        np.testing.assert_allclose(got["scores"], want.scores.numpy()[has3], atol=1e-5)
        np.testing.assert_allclose(np.asarray(got["boxes"]).reshape(-1, 7)[:, :6],
                                   want.boxes3d.tensor.numpy()[has3, :6], atol=1e-4)
    assert sum(len(d["ids"]) for d in result["detections"]) > 0
    diagnostics = result["diagnostics"]
    assert diagnostics, "no diagnostics received with Debian's diagnostic_msgs class (MD5 mismatch?)"
    assert int(diagnostics["frames processed"]) == 4 and int(diagnostics["bad messages"]) == 3
