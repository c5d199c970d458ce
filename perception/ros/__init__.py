"""The ROS-style inference node and its message plumbing.

* :mod:`perception.ros.node` -- :class:`InferenceNode`: decode, synchronise, detect (``FusionDetector``),
  publish; bounded drop-oldest queues, bad messages logged and skipped, diagnostics;
* :mod:`perception.ros.params` -- :class:`NodeParams`, the node's parameters;
* :mod:`perception.ros.bag` -- replay a ROS 1 / ROS 2 / MCAP bag into the node, record its outputs to a bag;
* :mod:`perception.ros.rospy_transport` -- the node on a real ROS 1 master (rospy, TCPROS);
* :mod:`perception.ros.outputs` -- ``vision_msgs`` detections, the unified output as JSON, the panoptic image;
* :mod:`perception.ros.recording` -- frames as sensor messages, written to a bag (``tools/make_bag.py``);
* :mod:`perception.ros.pointcloud2` / :mod:`perception.ros.image` -- ``sensor_msgs/PointCloud2`` and ``Image``
  <-> NumPy, the project's own codecs (any field layout, padding, big/little endian; rgb8, bgr8, mono8);
* :mod:`perception.ros.camera_info`, :mod:`perception.ros.tf` -- calibration from ``CameraInfo`` + the
  extrinsic (parameter or ``/tf_static``);
* :mod:`perception.ros.sync` -- approximate time synchronisation and the bounded queues;
* :mod:`perception.ros.typestore` -- the message types (ROS 1 Noetic + bundled vision_msgs / tf2_msgs).

The codecs read and write plain attributes (``msg.fields``, ``msg.data``, ...), so the same code serves rospy
messages, rosbags' dataclasses and anything shaped like them.  Bad messages raise :class:`MessageError`
naming the field and what was expected; the node logs and skips them.
"""
from .errors import MessageError
from .image import IMAGE_ENCODINGS, ImageData, decode_image, encode_image
from .pointcloud2 import (POINT_FIELD_DTYPES, PointCloud2Data, PointFieldSpec, decode_pointcloud2,
                          encode_pointcloud2, pointcloud2_to_xyzi)

__all__ = ["IMAGE_ENCODINGS", "ImageData", "MessageError", "POINT_FIELD_DTYPES", "PointCloud2Data",
           "PointFieldSpec", "decode_image", "decode_pointcloud2", "encode_image", "encode_pointcloud2",
           "pointcloud2_to_xyzi"]
