"""The inference node's parameters (one dataclass for every transport).

On a ROS master they are the node's private parameters (``~config``, ``~image_topic``, ...; set them with
``rosparam`` or ``_name:=value`` on the command line); on bags they are ``tools/ros_node.py`` options of the
same names.  :meth:`NodeParams.from_mapping` checks names, types and ranges, naming the offending parameter.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Mapping, Optional

__all__ = ["NodeParams"]


@dataclasses.dataclass(frozen=True)
class NodeParams:
    """Parameters of :class:`perception.ros.node.InferenceNode`.

    Attributes:
        config: fusion config (``configs/fusion/*.py``): the LiDAR, 2D and panoptic models and the fuser.
        lidar_checkpoint / camera_checkpoint / panoptic_checkpoint / scorer_checkpoint: overrides of the
            config's checkpoints (empty: the config's own).
        device: ``cpu`` or ``cuda[:k]``.
        with_panoptic: run the panoptic model and publish the panoptic image.
        image_topic / camera_info_topic / points_topic / tf_static_topic: inputs (``sensor_msgs/Image``,
            ``sensor_msgs/CameraInfo``, ``sensor_msgs/PointCloud2``, ``tf2_msgs/TFMessage``).
        detections3d_topic / detections2d_topic / fused_topic / panoptic_topic / diagnostics_topic: outputs
            (see :mod:`perception.ros.outputs`); an empty name turns that output off.
        lidar_to_camera: 12 numbers (row-major 3 x 4) or 16 (4 x 4): the rigid transform from the cloud's frame
            to the (unrectified) camera frame, KITTI's ``Tr_velo_to_cam``.  Empty: taken from ``/tf_static``
            (the transform whose parent is the image's frame and child the cloud's frame).
        min_score: objects scoring below it are not published (0: all, as the API returns them).
        sync_tolerance: largest image / cloud stamp difference of one frame, seconds.
        input_queue_size: messages per input stream waiting for a partner (drop-oldest).
        frame_queue_size: synchronised frames waiting for inference (drop-oldest).
        diagnostics_period: seconds between diagnostics messages.
    """

    config: str = "configs/fusion/fusion_clocs_sim.py"
    lidar_checkpoint: str = ""
    camera_checkpoint: str = ""
    panoptic_checkpoint: str = ""
    scorer_checkpoint: str = ""
    device: str = "cpu"
    with_panoptic: bool = True
    image_topic: str = "/camera/image"
    camera_info_topic: str = "/camera/camera_info"
    points_topic: str = "/lidar/points"
    tf_static_topic: str = "/tf_static"
    detections3d_topic: str = "/perception/detections3d"
    detections2d_topic: str = "/perception/detections2d"
    fused_topic: str = "/perception/fused"
    panoptic_topic: str = "/perception/panoptic"
    diagnostics_topic: str = "/diagnostics"
    lidar_to_camera: tuple = ()
    min_score: float = 0.0
    sync_tolerance: float = 0.05
    input_queue_size: int = 4
    frame_queue_size: int = 2
    diagnostics_period: float = 1.0

    def __post_init__(self):
        for name in ("sync_tolerance", "diagnostics_period", "min_score"):
            if getattr(self, name) < 0:
                raise ValueError(f"parameter {name!r} must be >= 0, got {getattr(self, name)}")
        for name in ("input_queue_size", "frame_queue_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"parameter {name!r} must be >= 1, got {getattr(self, name)}")
        if len(self.lidar_to_camera) not in (0, 12, 16):
            raise ValueError(f"parameter 'lidar_to_camera' takes 12 or 16 numbers, got {len(self.lidar_to_camera)}")
        if not self.config:
            raise ValueError("parameter 'config' is required (a fusion config, e.g. configs/fusion/fusion_clocs_sim.py)")

    @property
    def checkpoints(self) -> dict[str, str]:
        """The non-empty checkpoint overrides, keyed as :class:`FusionDetector` takes them."""
        return {part: path for part in ("lidar", "camera", "panoptic", "scorer")
                if (path := getattr(self, f"{part}_checkpoint"))}

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], where: str = "parameters") -> "NodeParams":
        """Parameters from ``values`` (unknown names and wrong types raise, naming the parameter)."""
        fields = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - set(fields))
        if unknown:
            raise ValueError(f"{where}: unknown parameter(s) {unknown}; known: {sorted(fields)}")
        out: dict[str, Any] = {}
        for name, value in values.items():
            default = fields[name].default
            out[name] = _coerce(name, value, default, where)
        return cls(**out)

    def override(self, values: Optional[Mapping[str, Any]]) -> "NodeParams":
        merged = dataclasses.asdict(self)
        merged.update(values or {})
        return NodeParams.from_mapping(merged)


def _coerce(name: str, value: Any, default: Any, where: str) -> Any:
    expected = type(default)
    try:
        if expected is bool:
            if isinstance(value, str):
                if value.lower() not in ("true", "false", "1", "0"):
                    raise ValueError(value)
                return value.lower() in ("true", "1")
            return bool(value)
        if expected is tuple:
            if isinstance(value, str):
                value = value.replace(",", " ").split()
            return tuple(float(v) for v in value)
        if expected is int and isinstance(value, float) and not value.is_integer():
            raise ValueError(value)
        return expected(value)
    except (TypeError, ValueError) as err:
        kind = "a list of numbers" if expected is tuple else expected.__name__
        raise ValueError(f"{where}: parameter {name!r} must be {kind}, got {value!r}") from err
