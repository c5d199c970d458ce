"""PointCloud2 / Image codecs against the real message definitions (rosbags' ROS 1 Noetic and ROS 2 types),
through real serialization: what a bag or a ROS master would carry."""
import numpy as np
import pytest
from rosbags.typesys import Stores, get_typestore

from perception.ros import (MessageError, decode_image, decode_pointcloud2, encode_image, encode_pointcloud2,
                            pointcloud2_to_xyzi)

ROS1 = get_typestore(Stores.ROS1_NOETIC)
ROS2 = get_typestore(Stores.ROS2_HUMBLE)


def _types(store):
    t = store.types
    return (t["sensor_msgs/msg/PointCloud2"], t["sensor_msgs/msg/PointField"], t["sensor_msgs/msg/Image"],
            t["std_msgs/msg/Header"], t["builtin_interfaces/msg/Time"])


def _header(store):
    *_, header_cls, time_cls = _types(store)
    if store is ROS1:
        return header_cls(seq=7, stamp=time_cls(sec=12, nanosec=345), frame_id="velodyne")
    return header_cls(stamp=time_cls(sec=12, nanosec=345), frame_id="velodyne")


def _wire(store, msg):
    """Serialize and deserialize as a bag or a ROS master would."""
    if store is ROS1:
        return store.deserialize_ros1(store.serialize_ros1(msg, msg.__msgtype__), msg.__msgtype__)
    return store.deserialize_cdr(store.serialize_cdr(msg, msg.__msgtype__), msg.__msgtype__)


def _points(n=50, seed=0):
    rng = np.random.default_rng(seed)
    return np.c_[rng.uniform(-50, 50, (n, 3)), rng.uniform(0, 1, n)].astype(np.float32)


@pytest.mark.parametrize("store", [ROS1, ROS2], ids=["ros1", "ros2"])
@pytest.mark.parametrize("bigendian", [False, True])
@pytest.mark.parametrize("point_step", [None, 32])  # packed, or 16 bytes of padding per point
def test_pointcloud2_round_trip_through_real_serialization(store, bigendian, point_step):
    pc_cls, field_cls, *_ = _types(store)
    points = _points()
    encoded = encode_pointcloud2(points, bigendian=bigendian, point_step=point_step)
    msg = _wire(store, encoded.to_msg(pc_cls, field_cls, _header(store)))
    assert msg.is_bigendian == bigendian and msg.is_dense and msg.width == 50
    xyzi, dropped = pointcloud2_to_xyzi(msg)
    assert dropped == 0 and xyzi.dtype == np.float32
    np.testing.assert_array_equal(xyzi, points)


def _hand_built_cloud(store, *, bigendian):
    """An organised 2 x 3 cloud laid out as many drivers do: x y z (float32), a uint16 ring at 16, a float64
    time at 24, intensity as uint8 at 20, rows padded by 8 bytes -- written by hand with struct-like views."""
    pc_cls, field_cls, *_ = _types(store)
    order = ">" if bigendian else "<"
    rec = np.dtype({"names": ["x", "y", "z", "ring", "intensity", "t"],
                    "formats": [order + "f4"] * 3 + [order + "u2", "u1", order + "f8"],
                    "offsets": [0, 4, 8, 16, 20, 24], "itemsize": 32})
    values = np.zeros(6, dtype=rec)
    values["x"], values["y"], values["z"] = np.arange(6), np.arange(6) * 2, np.arange(6) * -1
    values["ring"], values["intensity"], values["t"] = np.arange(6) + 60, np.arange(6) * 40, np.arange(6) * 0.1
    values["x"][4] = np.nan  # one invalid return: the cloud is not dense
    rows = values.reshape(2, 3).view(np.uint8).reshape(2, 96)
    data = np.concatenate([rows, np.full((2, 8), 0xAB, np.uint8)], axis=1).reshape(-1)
    fields = [field_cls(name=n, offset=o, datatype=d, count=1) for n, o, d in
              [("x", 0, 7), ("y", 4, 7), ("z", 8, 7), ("ring", 16, 4), ("intensity", 20, 2), ("t", 24, 8)]]
    msg = pc_cls(header=_header(store), height=2, width=3, fields=fields, is_bigendian=bigendian, point_step=32,
                 row_step=104, data=data, is_dense=False)
    return _wire(store, msg), values


@pytest.mark.parametrize("store", [ROS1, ROS2], ids=["ros1", "ros2"])
@pytest.mark.parametrize("bigendian", [False, True])
def test_decoder_reads_any_field_layout_padding_and_byte_order(store, bigendian):
    msg, values = _hand_built_cloud(store, bigendian=bigendian)
    records = decode_pointcloud2(msg)
    assert records.dtype.names == ("x", "y", "z", "ring", "intensity", "t") and len(records) == 6
    for name in records.dtype.names:
        np.testing.assert_array_equal(records[name], values[name].astype(values.dtype[name].newbyteorder("=")))
    xyzi, dropped = pointcloud2_to_xyzi(msg)
    assert dropped == 1 and xyzi.shape == (5, 4)
    np.testing.assert_array_equal(xyzi[:, 3], [0, 40, 80, 120, 200])  # uint8 intensity, the NaN point dropped


def test_count_greater_than_one_fields_decode_as_subarrays():
    pc_cls, field_cls, *_ = _types(ROS1)
    rec = np.dtype({"names": ["x", "y", "z", "normal"], "formats": ["<f4"] * 3 + [("<f4", (3,))],
                    "offsets": [0, 4, 8, 12], "itemsize": 24})
    values = np.zeros(4, dtype=rec)
    values["normal"] = np.arange(12).reshape(4, 3)
    fields = [field_cls(name="x", offset=0, datatype=7, count=1), field_cls(name="y", offset=4, datatype=7, count=1),
              field_cls(name="z", offset=8, datatype=7, count=1),
              field_cls(name="normal", offset=12, datatype=7, count=3)]
    msg = pc_cls(header=_header(ROS1), height=1, width=4, fields=fields, is_bigendian=False, point_step=24,
                 row_step=96, data=values.view(np.uint8).reshape(-1), is_dense=True)
    records = decode_pointcloud2(_wire(ROS1, msg))
    np.testing.assert_array_equal(records["normal"], np.arange(12).reshape(4, 3))
    xyzi, _ = pointcloud2_to_xyzi(msg)
    assert xyzi.shape == (4, 4) and (xyzi[:, 3] == 0).all()  # no intensity field: 0


def test_empty_cloud_decodes_to_no_points():
    pc_cls, field_cls, *_ = _types(ROS1)
    msg = _wire(ROS1, encode_pointcloud2(np.zeros((0, 4), np.float32)).to_msg(pc_cls, field_cls, _header(ROS1)))
    xyzi, dropped = pointcloud2_to_xyzi(msg)
    assert xyzi.shape == (0, 4) and dropped == 0


@pytest.mark.parametrize("change, message", [
    (dict(data_cut=10), r"PointCloud2.data: 790 bytes, expected .* \(truncated message\?\)"),
    (dict(row_step=10), r"PointCloud2.row_step: 10 < width \* point_step"),
    (dict(datatype=9), r"fields\[0\] \('x'\): datatype 9 is not a PointField constant"),
    (dict(offset=14), r"fields\[0\] \('x'\): bytes \[14, 18\) lie outside point_step 16"),
    (dict(drop_xyz=True), r"no x/y/z field"),
])
def test_bad_clouds_name_the_field(change, message):
    pc_cls, field_cls, *_ = _types(ROS1)
    msg = encode_pointcloud2(_points()).to_msg(pc_cls, field_cls, _header(ROS1))
    if "data_cut" in change:
        msg.data = msg.data[: -change["data_cut"]]
    if "row_step" in change:
        msg.row_step = change["row_step"]
    if "datatype" in change:
        msg.fields[0].datatype = change["datatype"]
    if "offset" in change:
        msg.fields[0].offset = change["offset"]
    if change.get("drop_xyz"):
        msg.fields = msg.fields[3:]
    with pytest.raises(MessageError, match=message):
        pointcloud2_to_xyzi(msg)


@pytest.mark.parametrize("store", [ROS1, ROS2], ids=["ros1", "ros2"])
@pytest.mark.parametrize("encoding", ["rgb8", "bgr8"])
def test_image_round_trip_through_real_serialization(store, encoding):
    *_, image_cls, _, _ = _types(store)
    rgb = np.random.default_rng(1).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    msg = _wire(store, encode_image(rgb, encoding).to_msg(image_cls, _header(store)))
    assert msg.encoding == encoding and msg.step == 21
    if encoding == "bgr8":  # the wire really holds BGR
        np.testing.assert_array_equal(np.asarray(msg.data).reshape(5, 7, 3), rgb[..., ::-1])
    np.testing.assert_array_equal(decode_image(msg), rgb)


def test_mono8_and_padded_rows():
    *_, image_cls, _, _ = _types(ROS1)
    grey = np.arange(12, dtype=np.uint8).reshape(3, 4)
    padded = np.concatenate([grey, np.full((3, 4), 255, np.uint8)], axis=1)  # step 8 for width 4
    msg = image_cls(header=_header(ROS1), height=3, width=4, encoding="mono8", is_bigendian=False, step=8,
                    data=padded.reshape(-1))
    rgb = decode_image(_wire(ROS1, msg))
    assert rgb.shape == (3, 4, 3)
    np.testing.assert_array_equal(rgb, np.repeat(grey[..., None], 3, axis=2))


@pytest.mark.parametrize("change, message", [
    (dict(encoding="32FC1"), r"Image.encoding: '32FC1' is not supported"),
    (dict(step=5), r"Image.step: 5 < width \* channels = 21"),
    (dict(cut=1), r"Image.data: 104 bytes, expected height \* step = 5 \* 21 = 105"),
])
def test_bad_images_name_the_field(change, message):
    *_, image_cls, _, _ = _types(ROS1)
    msg = encode_image(np.zeros((5, 7, 3), np.uint8)).to_msg(image_cls, _header(ROS1))
    msg.encoding = change.get("encoding", msg.encoding)
    msg.step = change.get("step", msg.step)
    if "cut" in change:
        msg.data = msg.data[:-1]
    with pytest.raises(MessageError, match=message):
        decode_image(msg)
