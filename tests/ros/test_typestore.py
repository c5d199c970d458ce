"""The node's message types are the real ones: same MD5 sums as the released packages."""
import os

import pytest

from perception.ros.typestore import message_definition, ros1_name, typestore_name

# MD5 sums of the released ROS 1 packages (vision_msgs 0.0.x as built for Noetic; tf2_msgs; sensor_msgs).
RELEASED_MD5 = {
    "vision_msgs/Detection3DArray": "05c51d9aea1fb4cfdc8effb94f197b6f",
    "vision_msgs/Detection2DArray": "402071f61477de256df9f1aa45e6e4c8",
    "tf2_msgs/TFMessage": "94810edda583a504dfda3829e70d7eec",
    "sensor_msgs/PointCloud2": "1158d486dd51d683ce2f1be655c3c181",
    "sensor_msgs/Image": "060021388200f6f0f447d0fcd9c64743",
}


@pytest.mark.parametrize("typename", sorted(RELEASED_MD5))
def test_md5_matches_the_released_package(typename):
    assert message_definition(typename)[1] == RELEASED_MD5[typename]


def test_type_names_convert_both_ways():
    assert ros1_name("sensor_msgs/msg/Image") == "sensor_msgs/Image"
    assert typestore_name("sensor_msgs/Image") == "sensor_msgs/msg/Image"
    assert typestore_name("sensor_msgs/msg/Image") == "sensor_msgs/msg/Image"


@pytest.mark.parametrize("typename", ["sensor_msgs/Image", "sensor_msgs/CameraInfo", "sensor_msgs/PointCloud2",
                                      "tf2_msgs/TFMessage", "diagnostic_msgs/DiagnosticArray", "std_msgs/String"])
def test_md5_matches_debians_generated_rospy_classes(typename):
    if os.environ.get("PERCEPTION_REQUIRE_ROS") != "1":
        pytest.importorskip("genpy", reason="Debian's ROS 1 message packages are not installed")
    import importlib

    package, name = typename.split("/")
    cls = getattr(importlib.import_module(f"{package}.msg"), name)
    assert message_definition(typename)[1] == cls._md5sum
