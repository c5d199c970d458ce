"""The node's published messages, built from one frame's :class:`FusedDetections`.

=========================  ==============================  ==================================================
topic parameter            type                            content
=========================  ==============================  ==================================================
``detections3d_topic``     ``vision_msgs/Detection3DArray``  objects with a 3D box, LiDAR frame (the cloud's
                                                            ``frame_id``): ``bbox.center`` = box centre, yaw
                                                            as a quaternion about +z, ``bbox.size`` = (l, w, h)
``detections2d_topic``     ``vision_msgs/Detection2DArray``  objects with a 2D box, camera pixels (the image's
                                                            ``frame_id``): centre and size, ``theta = 0``
``fused_topic``            ``std_msgs/String``               the whole unified output as one JSON object (the
                                                            JSON-lines schema of
                                                            :mod:`perception.fusion.formats.jsonl`: sensors,
                                                            per-sensor scores, panoptic ids and masks, frustums)
``panoptic_topic``         ``sensor_msgs/Image``             ``rgb8`` segment ids, ``id = R + 256 G + 256^2 B``
                                                            (the COCO panoptic PNG encoding; 0 = void)
``diagnostics_topic``      ``diagnostic_msgs/DiagnosticArray``  counters and latencies (:mod:`.node`)
=========================  ==============================  ==================================================

In both detection arrays each detection has one hypothesis: ``id`` = index of the class in the node's
``class_names`` (``Car, Pedestrian, Cyclist`` for the shipped models), ``score`` = fused score, and
``results[0].pose.pose`` = the box centre and orientation (3D), or the 2D centre (2D).  The i-th 2D and 3D
detections are not the same object in general; the JSON message pairs everything per object.
"""
from __future__ import annotations

import json
from functools import partial
from typing import Any, Iterator, Sequence

import numpy as np
import torch

from perception.datasets.sim.categories import ids_to_rgb
from perception.fusion.formats.jsonl import frame_to_dict
from perception.structures import FusedDetections

from .image import encode_image
from .typestore import new_message

__all__ = ["detection2d_array", "detection3d_array", "fused_json", "panoptic_image", "read_detection2d_array",
           "read_detection3d_array"]


def _quaternion_z(yaw: float) -> Any:
    return new_message("geometry_msgs/Quaternion", x=0.0, y=0.0, z=float(np.sin(yaw / 2)), w=float(np.cos(yaw / 2)))


def _hypothesis(class_id: int, score: float, pose: Any) -> Any:
    return new_message("vision_msgs/ObjectHypothesisWithPose", id=int(class_id), score=float(score),
                       pose=new_message("geometry_msgs/PoseWithCovariance", pose=pose))


def _objects(result: FusedDetections, class_names: Sequence[str], boxes: torch.Tensor, has: torch.Tensor
             ) -> Iterator[tuple[int, float, list[float]]]:
    """``(class id, fused score, box row)`` of the objects of ``result`` where ``has`` is true."""
    index = {n: i for i, n in enumerate(class_names)}
    unknown = sorted({n for n in result.names if n not in index})
    if unknown:
        raise ValueError(f"frame {result.frame_id}: classes {unknown} are not in the node's class_names "
                         f"{list(class_names)}")
    rows = boxes.double().cpu().numpy()
    scores = result.scores.double().cpu().numpy()
    for i in np.flatnonzero(has.cpu().numpy()):
        yield index[result.names[i]], float(scores[i]), rows[i].tolist()


def detection3d_array(result: FusedDetections, header: Any, class_names: Sequence[str]) -> Any:
    """``Detection3DArray`` of the objects of ``result`` that have a 3D box (``header``: the cloud's)."""
    detections = []
    for class_id, score, (x, y, z, length, width, height, yaw) in _objects(result, class_names,
                                                                           result.boxes3d.tensor, result.has_box3d):
        pose = new_message("geometry_msgs/Pose", position=new_message("geometry_msgs/Point", x=x, y=y, z=z),
                           orientation=_quaternion_z(yaw))
        bbox = new_message("vision_msgs/BoundingBox3D", center=pose,
                           size=new_message("geometry_msgs/Vector3", x=length, y=width, z=height))
        detections.append(new_message("vision_msgs/Detection3D", header=header,
                                      results=[_hypothesis(class_id, score, pose)], bbox=bbox))
    return new_message("vision_msgs/Detection3DArray", header=header, detections=detections)


def detection2d_array(result: FusedDetections, header: Any, class_names: Sequence[str]) -> Any:
    """``Detection2DArray`` of the objects of ``result`` that have a 2D box (``header``: the image's)."""
    detections = []
    for class_id, score, (x1, y1, x2, y2) in _objects(result, class_names, result.boxes2d.tensor, result.has_box2d):
        cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
        pose = new_message("geometry_msgs/Pose", position=new_message("geometry_msgs/Point", x=cx, y=cy, z=0.0),
                           orientation=new_message("geometry_msgs/Quaternion", w=1.0))
        bbox = new_message("vision_msgs/BoundingBox2D", center=new_message("geometry_msgs/Pose2D", x=cx, y=cy),
                           size_x=x2 - x1, size_y=y2 - y1)
        detections.append(new_message("vision_msgs/Detection2D", header=header,
                                      results=[_hypothesis(class_id, score, pose)], bbox=bbox))
    return new_message("vision_msgs/Detection2DArray", header=header, detections=detections)


def fused_json(result: FusedDetections) -> Any:
    """``std_msgs/String`` holding the JSON object of ``result`` (one line of the JSON-lines format)."""
    return new_message("std_msgs/String", data=json.dumps(frame_to_dict(result), separators=(",", ":")))


def panoptic_image(result: FusedDetections, header: Any) -> Any:
    """``rgb8`` Image of the panoptic ids of ``result`` (``result.panoptic`` must be set)."""
    if result.panoptic is None:
        raise ValueError(f"frame {result.frame_id}: no panoptic result to publish")
    return encode_image(ids_to_rgb(result.panoptic.ids), "rgb8").to_msg(partial(new_message, "sensor_msgs/Image"),
                                                                       header)


def read_detection3d_array(msg: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(class_ids (N,) int64, scores (N,) float64, boxes (N, 7) float64 [x, y, z, l, w, h, yaw])``."""
    ids, scores, boxes = [], [], []
    for det in msg.detections:
        hyp = det.results[0]
        c, s = det.bbox.center, det.bbox.size
        yaw = 2 * np.arctan2(c.orientation.z, c.orientation.w)
        ids.append(hyp.id)
        scores.append(hyp.score)
        boxes.append([c.position.x, c.position.y, c.position.z, s.x, s.y, s.z, (yaw + np.pi) % (2 * np.pi) - np.pi])
    return (np.asarray(ids, dtype=np.int64), np.asarray(scores, dtype=np.float64),
            np.asarray(boxes, dtype=np.float64).reshape(-1, 7))


def read_detection2d_array(msg: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(class_ids (N,) int64, scores (N,) float64, boxes (N, 4) float64 [x1, y1, x2, y2])``."""
    ids, scores, boxes = [], [], []
    for det in msg.detections:
        b = det.bbox
        ids.append(det.results[0].id)
        scores.append(det.results[0].score)
        boxes.append([b.center.x - b.size_x / 2, b.center.y - b.size_y / 2,
                      b.center.x + b.size_x / 2, b.center.y + b.size_y / 2])
    return (np.asarray(ids, dtype=np.int64), np.asarray(scores, dtype=np.float64),
            np.asarray(boxes, dtype=np.float64).reshape(-1, 4))
