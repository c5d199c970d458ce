"""Frames (:class:`perception.structures.Frame`) as the sensor messages a robot would record.

:func:`frame_messages` gives one frame's ``Image``, ``CameraInfo`` and ``PointCloud2`` (and the extrinsic on
``/tf_static``), stamped like a real rig: the camera fires ``image_offset`` seconds after the LiDAR sweep.
:func:`write_sensor_bag` writes such messages to a ROS 1 bag (what ``tools/make_bag.py`` does for simulated
frames, so the node has a built-in default input).
"""
from __future__ import annotations

import os
import pathlib
import shutil
from functools import partial
from typing import Any, Iterable

import numpy as np
from rosbags.typesys.store import Typestore

from perception.structures import Frame

from .camera_info import camera_info_from_calibration
from .image import encode_image
from .params import NodeParams
from .pointcloud2 import encode_pointcloud2
from .tf import tf_message
from .typestore import new_message

__all__ = ["CAMERA_FRAME", "LIDAR_FRAME", "convert_message", "frame_messages", "header", "write_sensor_bag"]

CAMERA_FRAME = "camera"
LIDAR_FRAME = "velodyne"


def header(stamp: float, frame_id: str, seq: int = 0) -> Any:
    sec = int(np.floor(stamp))
    return new_message("std_msgs/Header", seq=seq, frame_id=frame_id,
                       stamp=new_message("builtin_interfaces/Time", sec=sec, nanosec=int(round((stamp - sec) * 1e9))))


def frame_messages(frame: Frame, *, stamp: float, seq: int = 0, params: NodeParams = NodeParams(),
                   image_offset: float = 0.01, encoding: str = "bgr8", with_tf: bool = False
                   ) -> list[tuple[str, float, Any]]:
    """``(topic, stamp, message)`` of one frame, in the topics of ``params``.

    The cloud is stamped ``stamp`` (frame ``velodyne``), image and camera info ``stamp + image_offset`` (frame
    ``camera``); ``with_tf`` adds the extrinsic as a ``/tf_static`` transform ``camera <- velodyne``.
    """
    if frame.image is None:
        raise ValueError(f"frame {frame.frame_id}: needs an image to record")
    points = frame.points.numpy() if hasattr(frame.points, "numpy") else np.asarray(frame.points)
    cloud = encode_pointcloud2(points[:, :4].astype(np.float32))
    image = encode_image(frame.image, encoding)
    t_img = stamp + image_offset
    lidar_header, camera_header = header(stamp, LIDAR_FRAME, seq), header(t_img, CAMERA_FRAME, seq)
    height, width = frame.image.shape[:2]
    out = []
    if with_tf:
        out.append((params.tf_static_topic, stamp,
                    tf_message(frame.calib.Tr_velo_to_cam, camera_frame=CAMERA_FRAME, lidar_frame=LIDAR_FRAME,
                               header=lidar_header)))
    out += [
        (params.points_topic, stamp,
         cloud.to_msg(partial(new_message, "sensor_msgs/PointCloud2"), partial(new_message, "sensor_msgs/PointField"),
                      lidar_header)),
        (params.camera_info_topic, t_img,
         camera_info_from_calibration(frame.calib, width=width, height=height, header=camera_header)),
        (params.image_topic, t_img, image.to_msg(partial(new_message, "sensor_msgs/Image"), camera_header)),
    ]
    return out


def convert_message(msg: Any, store: Typestore) -> Any:
    """``msg`` as the same type of another type store, e.g. ROS 1 -> ROS 2 (field names compared case-
    insensitively, as CameraInfo's ``K``/``k``; fields the target lacks, as ROS 1's ``Header.seq``, dropped)."""
    typename = msg.__msgtype__
    _, defs = store.fielddefs[typename]
    values = {}
    for name, (kind, detail) in defs:
        value = getattr(msg, name) if hasattr(msg, name) else getattr(msg, name.upper())
        if kind == 2:                                            # a sub-message
            value = convert_message(value, store)
        elif kind in (3, 4) and detail[0][0] == 2:               # an array / sequence of sub-messages
            value = [convert_message(v, store) for v in value]
        values[name] = value
    return store.types[typename](**values)


def write_sensor_bag(path: str | os.PathLike, messages: Iterable[tuple[str, float, Any]], *,
                     fmt: str = "ros1") -> dict[str, int]:
    """Write ``(topic, stamp, message)`` (ROS 1 messages) to a bag at ``path``, atomically (``.partial``, then
    renamed); returns the message count per topic.

    ``fmt``: ``ros1`` (a ``.bag`` file; ``/tf_static`` latched, as ``rosbag record`` does), or ``ros2`` /
    ``mcap`` (a ROS 2 Humble bag directory with SQLite3 / MCAP storage, messages converted to ROS 2 types).
    """
    if fmt not in ("ros1", "ros2", "mcap"):
        raise ValueError(f"write_sensor_bag: fmt must be 'ros1', 'ros2' or 'mcap', got {fmt!r}")
    if fmt != "ros1":
        return _write_ros2_bag(pathlib.Path(path), messages, mcap=(fmt == "mcap"))
    from .bag import BagRecorder

    with BagRecorder(path) as recorder:
        for topic, stamp, msg in messages:
            recorder.write(topic, msg, int(round(stamp * 1e9)))
    return recorder.counts


def _write_ros2_bag(path: pathlib.Path, messages: Iterable[tuple[str, float, Any]], *, mcap: bool) -> dict[str, int]:
    from rosbags.rosbag2 import StoragePlugin, Writer
    from rosbags.typesys import Stores, get_typestore

    store = get_typestore(Stores.ROS2_HUMBLE)
    partial = path.with_name(path.name + ".partial")
    if partial.exists():
        shutil.rmtree(partial)
    path.parent.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    connections: dict[str, Any] = {}
    writer = Writer(partial, version=8, storage_plugin=StoragePlugin.MCAP if mcap else StoragePlugin.SQLITE3)
    with writer:
        for topic, stamp, msg in messages:
            msg2 = convert_message(msg, store)
            if topic not in connections:
                connections[topic] = writer.add_connection(topic, msg2.__msgtype__, typestore=store)
            writer.write(connections[topic], int(round(stamp * 1e9)), store.serialize_cdr(msg2, msg2.__msgtype__))
            counts[topic] = counts.get(topic, 0) + 1
    if path.exists():
        shutil.rmtree(path)
    os.replace(partial, path)
    return counts
