"""The other side of tests/ros/test_ros_master.py, run as its own process (rospy.init_node reconfigures
Python's logging, closing every handler of the process, so it must not run inside pytest).

Publishes the calibration, then ``--frame-ids`` of ``--data-root`` one per second with Debian's own rospy
message classes, then three corrupt messages and one more good frame; collects the node's Detection3DArray
messages and the last diagnostics; writes them as JSON to ``--out``.
"""
from __future__ import annotations

import argparse
import importlib
import json
import threading
import time

import rospy

from perception.datasets import kitti_io
from perception.ros import outputs
from perception.ros.params import NodeParams
from perception.ros.recording import frame_messages
from perception.ros.typestore import ros1_typestore

P = NodeParams()


def to_rospy(msg):
    """A rosbags message as Debian's generated rospy class of the same type, through the ROS 1 wire format."""
    package, _, name = msg.__msgtype__.partition("/msg/")
    cls = getattr(importlib.import_module(f"{package}.msg"), name)
    return cls().deserialize(bytes(ros1_typestore().serialize_ros1(msg, msg.__msgtype__)))


def main() -> int:
    import diagnostic_msgs.msg
    import sensor_msgs.msg
    import tf2_msgs.msg

    parser = argparse.ArgumentParser()
    parser.add_argument("--data-root", required=True)
    parser.add_argument("--frame-ids", nargs="+", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--timeout", type=float, default=180)
    args = parser.parse_args()
    rospy.init_node("perception_test_player", anonymous=True, disable_signals=True)

    received, cond = [], threading.Condition()
    diagnostics = []

    def on_detections(msg):
        with cond:
            received.append(ros1_typestore().deserialize_ros1(msg._buff, "vision_msgs/msg/Detection3DArray"))
            cond.notify_all()

    def wait_for(n):
        with cond:
            return cond.wait_for(lambda: len(received) >= n, timeout=args.timeout)

    det_sub = rospy.Subscriber(P.detections3d_topic, rospy.AnyMsg, on_detections, queue_size=100)
    diag_sub = rospy.Subscriber(P.diagnostics_topic, diagnostic_msgs.msg.DiagnosticArray, diagnostics.append)
    pubs = {P.image_topic: rospy.Publisher(P.image_topic, sensor_msgs.msg.Image, queue_size=10),
            P.camera_info_topic: rospy.Publisher(P.camera_info_topic, sensor_msgs.msg.CameraInfo, queue_size=10),
            P.points_topic: rospy.Publisher(P.points_topic, sensor_msgs.msg.PointCloud2, queue_size=10),
            P.tf_static_topic: rospy.Publisher(P.tf_static_topic, tf2_msgs.msg.TFMessage, queue_size=1, latch=True)}
    deadline = time.monotonic() + args.timeout
    while not (all(p.get_num_connections() for p in pubs.values()) and det_sub.get_num_connections()
               and diag_sub.get_num_connections()):
        if time.monotonic() > deadline:
            raise SystemExit("the node did not connect to every topic")
        time.sleep(0.2)

    frames = [kitti_io.read_frame(args.data_root, f) for f in args.frame_ids]
    # calibration first (each topic is its own connection: no order between topics), then the frames
    for topic, _, msg in frame_messages(frames[0], stamp=999.0, with_tf=True):
        if topic in (P.tf_static_topic, P.camera_info_topic):
            pubs[topic].publish(to_rospy(msg))
    time.sleep(1.0)
    for i, frame in enumerate(frames):
        for topic, _, msg in frame_messages(frame, stamp=1000.0 + i, seq=i):
            pubs[topic].publish(to_rospy(msg))
        time.sleep(1.0)
    ok_good = wait_for(len(frames))

    by_topic = {t: m for t, _, m in frame_messages(frames[0], stamp=1010.0)}
    bad_image = to_rospy(by_topic[P.image_topic])
    bad_image.encoding = "yuv422"
    short_cloud = to_rospy(by_topic[P.points_topic])
    short_cloud.data = bytes(short_cloud.data)[:64]
    empty_cloud = sensor_msgs.msg.PointCloud2(header=short_cloud.header, fields=short_cloud.fields, height=1,
                                              width=0, point_step=16, row_step=0, data=b"", is_dense=True)
    for topic, msg in ((P.image_topic, bad_image), (P.points_topic, short_cloud), (P.points_topic, empty_cloud)):
        pubs[topic].publish(msg)
        time.sleep(0.2)
    for topic, _, msg in frame_messages(frames[-1], stamp=1011.0):       # and a good frame after them
        pubs[topic].publish(to_rospy(msg))
    ok_after = wait_for(len(frames) + 1)
    time.sleep(2.5)                                                       # one more periodic diagnostics message
    result = {"ok_good": ok_good, "ok_after": ok_after, "detections": [], "diagnostics": {}}
    for msg in received:
        ids, scores, boxes = outputs.read_detection3d_array(msg)
        result["detections"].append({"ids": ids.tolist(), "scores": scores.tolist(), "boxes": boxes.tolist()})
    if diagnostics:
        result["diagnostics"] = {kv.key: kv.value for kv in diagnostics[-1].status[0].values}
    with open(args.out, "w") as f:
        json.dump(result, f)
    rospy.signal_shutdown("done")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
