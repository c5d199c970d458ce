"""ROS message plumbing of the inference node: the project's own encoders and decoders.

* :mod:`perception.ros.pointcloud2` -- ``sensor_msgs/PointCloud2`` <-> NumPy (any field layout, padding,
  ``count > 1`` fields, big/little endian, ``is_dense``);
* :mod:`perception.ros.image` -- ``sensor_msgs/Image`` <-> RGB arrays (``rgb8``, ``bgr8``, ``mono8``).

They read and write plain attributes (``msg.fields``, ``msg.data``, ...), so the same code serves rospy
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
