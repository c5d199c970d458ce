"""The ROS-style inference node, independent of the transport.

    node = InferenceNode(params=params, detector=FusionDetector(...), publish=transport.publish)
    node.handle(topic, msg)          # every incoming message (rosbags dataclasses, from any transport)
    node.start(); ...; node.stop()   # live: an inference worker thread behind a drop-oldest queue
    node.process_pending()           # or, for bag replay at maximum rate, process synchronously

Data flow: each message is decoded on arrival (:mod:`.image`, :mod:`.pointcloud2`, :mod:`.camera_info`); an
image and a cloud whose stamps differ by at most ``sync_tolerance`` form a frame (:class:`.sync.ApproximateSync`,
bounded drop-oldest queues); frames wait in a bounded drop-oldest queue for the detector (a
:class:`perception.apis.FusionDetector`); the result is published as the messages of :mod:`.outputs`, stamped
with the inputs' headers.  A bad message (unknown encoding, truncated data, NaN-only or empty cloud, a stamp
older than the last frame, no calibration yet) is logged, counted and skipped; an exception inside the
detector loses that frame only.  Diagnostics count all of it.
"""
from __future__ import annotations

import collections
import dataclasses
import logging
import threading
import time
from typing import Any, Callable, Optional, Sequence

import numpy as np
import torch

from perception.structures import Frame, FusedDetections, KittiCalibration

from . import outputs
from .camera_info import calibration_from_camera_info, camera_info_matrix, parse_lidar_to_camera
from .errors import MessageError
from .image import decode_image
from .params import NodeParams
from .pointcloud2 import pointcloud2_to_xyzi
from .sync import ApproximateSync, BoundedQueue, SyncedPair
from .tf import lidar_to_camera_from_tf
from .typestore import new_message, ros1_name, ros1_typestore, typestore_name

__all__ = ["InferenceNode", "NodeStats", "ros1_header", "stamp_seconds"]

log = logging.getLogger("perception.ros.node")

#: ``publish(topic, msg)``: hand a message (a rosbags dataclass) to the transport.
Publish = Callable[[str, Any], None]


def stamp_seconds(header: Any) -> float:
    return float(header.stamp.sec) + 1e-9 * float(header.stamp.nanosec)


def ros1_header(header: Any) -> Any:
    """A ROS 1 ``std_msgs/Header`` of ``header`` (ROS 2 headers have no ``seq``): what outputs are stamped with."""
    return new_message("std_msgs/Header", seq=int(getattr(header, "seq", 0)),
                       stamp=new_message("builtin_interfaces/Time", sec=int(header.stamp.sec),
                                         nanosec=int(header.stamp.nanosec)),
                       frame_id=str(header.frame_id))


@dataclasses.dataclass
class _Decoded:
    """A decoded input message: its header, payload and when / how fast it was decoded."""

    header: Any
    payload: Any
    received: float
    decode_s: float


@dataclasses.dataclass
class NodeStats:
    """Counters and timings of a node (what the diagnostics topic publishes)."""

    received: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    bad_messages: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    frames_synced: int = 0
    frames_processed: int = 0
    frames_failed: int = 0
    nan_points_dropped: int = 0
    latency_s: collections.deque = dataclasses.field(default_factory=lambda: collections.deque(maxlen=2000))
    inference_s: collections.deque = dataclasses.field(default_factory=lambda: collections.deque(maxlen=2000))
    overhead_s: collections.deque = dataclasses.field(default_factory=lambda: collections.deque(maxlen=2000))


def _percentile(values: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) if len(values) else float("nan")


class InferenceNode:
    """Synchronise camera and LiDAR messages, run the fusion detector, publish the unified output.

    Args:
        params: the node's parameters.
        detector: ``detector(frames) -> list[FusedDetections]`` (a :class:`FusionDetector`).
        class_names: class list of the detection messages' hypothesis ids.
        publish: the transport's publish function.
        clock: wall clock for latencies (tests pass a fake).
    """

    def __init__(self, *, params: NodeParams, detector: Callable[[list[Frame]], list[FusedDetections]],
                 class_names: Sequence[str], publish: Publish, clock: Callable[[], float] = time.perf_counter):
        self.params = params
        self.detector = detector
        self.class_names = tuple(class_names)
        self._publish = publish
        self._clock = clock
        self.stats = NodeStats()
        self.sync = ApproximateSync(tolerance=params.sync_tolerance, queue_size=params.input_queue_size)
        self.frames: BoundedQueue[SyncedPair] = BoundedQueue(params.frame_queue_size)
        self._extrinsic = parse_lidar_to_camera(params.lidar_to_camera) if params.lidar_to_camera else None
        self._camera_info: Any = None                # the latest CameraInfo message
        self._tf_message: Any = None
        self._calib_cache: Optional[tuple[bytes, KittiCalibration]] = None   # (the matrices it was built from, calib)
        self._lock = threading.Lock()
        self._worker: Optional[threading.Thread] = None
        self._stop = threading.Event()
        self._last_diagnostics = float("-inf")
        self._handlers = {
            params.image_topic: ("sensor_msgs/msg/Image", self._on_image),
            params.points_topic: ("sensor_msgs/msg/PointCloud2", self._on_points),
            params.camera_info_topic: ("sensor_msgs/msg/CameraInfo", self._on_camera_info),
            params.tf_static_topic: ("tf2_msgs/msg/TFMessage", self._on_tf),
        }

    # ------------------------------------------------------------------ inputs
    @property
    def subscriptions(self) -> dict[str, str]:
        """``{topic: ROS 1 type}`` the node reads."""
        return {topic: ros1_name(t) for topic, (t, _) in self._handlers.items() if topic}

    @property
    def publications(self) -> dict[str, str]:
        """``{topic: ROS 1 type}`` the node writes (empty topic names are off)."""
        p = self.params
        topics = {p.detections3d_topic: "vision_msgs/Detection3DArray",
                  p.detections2d_topic: "vision_msgs/Detection2DArray", p.fused_topic: "std_msgs/String",
                  p.panoptic_topic: "sensor_msgs/Image" if p.with_panoptic else "",
                  p.diagnostics_topic: "diagnostic_msgs/DiagnosticArray"}
        return {t: kind for t, kind in topics.items() if t and kind}

    def handle_raw(self, topic: str, msgtype: str, data: bytes) -> None:
        """A serialized ROS 1 message from the wire or a bag; undecodable bytes are a bad message."""
        if topic not in self._handlers:
            return
        expected, _ = self._handlers[topic]
        if typestore_name(msgtype) != expected:
            return self._bad(topic, f"type {msgtype}, expected {ros1_name(expected)}")
        try:
            msg = ros1_typestore().deserialize_ros1(bytes(data), expected)
        except Exception as err:  # rosbags raises assorted errors on truncated buffers
            return self._bad(topic, f"cannot deserialize {ros1_name(expected)} ({type(err).__name__}: {err})")
        self.handle(topic, msg)

    def handle(self, topic: str, msg: Any) -> None:
        """One incoming message; a bad one is logged and counted, never raised."""
        if topic not in self._handlers:
            return
        self.stats.received[topic] += 1
        _, handler = self._handlers[topic]
        try:
            handler(msg)
        except MessageError as err:
            self._bad(topic, str(err))

    def _bad(self, topic: str, reason: str) -> None:
        key = reason.split(":")[0]
        self.stats.bad_messages[f"{topic}: {key}"] += 1
        log.warning("skipping a message on %s: %s", topic, reason)

    def _decode(self, msg: Any, decode: Callable[[Any], Any]) -> _Decoded:
        t0 = self._clock()
        payload = decode(msg)
        header = ros1_header(msg.header)
        t1 = self._clock()
        return _Decoded(header=header, payload=payload, received=t0, decode_s=t1 - t0)

    def _check_stamp(self, msg: Any, what: str) -> float:
        stamp = stamp_seconds(msg.header)
        if not np.isfinite(stamp) or stamp <= 0:
            raise MessageError(f"{what}.header.stamp: expected a positive time, got {stamp}")
        return stamp

    def _on_image(self, msg: Any) -> None:
        stamp = self._check_stamp(msg, "Image")
        decoded = self._decode(msg, decode_image)
        self._offer("image", stamp, decoded)

    def _on_points(self, msg: Any) -> None:
        stamp = self._check_stamp(msg, "PointCloud2")

        def decode(m):
            xyzi, dropped = pointcloud2_to_xyzi(m)
            self.stats.nan_points_dropped += dropped
            if len(xyzi) == 0:
                raise MessageError(f"PointCloud2: no finite points ({dropped} non-finite dropped); "
                                   "expected a non-empty cloud")
            return xyzi

        self._offer("points", stamp, self._decode(msg, decode))

    def _offer(self, stream: str, stamp: float, decoded: _Decoded) -> None:
        stale = self.sync.stale[stream]
        pair = self.sync.add(stream, stamp, decoded)
        if self.sync.stale[stream] > stale:
            raise MessageError(f"stale {stream} message: header.stamp {stamp:.6f} is at or before the last frame "
                               "or an earlier message of the stream (out of order or replayed)")
        if pair is not None:
            self.stats.frames_synced += 1
            self.frames.put(pair)

    def _on_camera_info(self, msg: Any) -> None:
        P = camera_info_matrix(msg, "P")
        if P.size != 12 or not P.any():
            raise MessageError("CameraInfo.P: expected the 3 x 4 projection matrix (12 numbers, not all zero)")
        with self._lock:
            self._camera_info = msg

    def _on_tf(self, msg: Any) -> None:
        with self._lock:
            self._tf_message = msg

    def _calibration(self, image_header: Any, points_header: Any):
        with self._lock:
            info = self._camera_info
            tf_msg = self._tf_message
        if info is None:
            raise MessageError(f"no CameraInfo received yet on {self.params.camera_info_topic}")
        extrinsic = self._extrinsic
        if extrinsic is None:
            if tf_msg is None:
                raise MessageError(f"no lidar_to_camera parameter and no transform on {self.params.tf_static_topic}")
            extrinsic = lidar_to_camera_from_tf(tf_msg, camera_frame=image_header.frame_id,
                                                lidar_frame=points_header.frame_id)
        key = camera_info_matrix(info, "P").tobytes() + camera_info_matrix(info, "R").tobytes() + extrinsic.tobytes()
        if self._calib_cache is None or self._calib_cache[0] != key:
            self._calib_cache = (key, calibration_from_camera_info(info, extrinsic))
        return self._calib_cache[1], info

    # ------------------------------------------------------------------ processing
    def process(self, pair: SyncedPair) -> Optional[FusedDetections]:
        """Run the detector on one frame and publish; returns the result (``None`` when the frame failed)."""
        image: _Decoded = pair.image
        points: _Decoded = pair.points
        try:
            calib, info = self._calibration(image.header, points.header)
            rgb = image.payload
            if (int(info.height), int(info.width)) not in ((0, 0), rgb.shape[:2]):
                raise MessageError(f"Image is {rgb.shape[1]} x {rgb.shape[0]} but CameraInfo says "
                                   f"{info.width} x {info.height}")
        except MessageError as err:
            self.stats.frames_failed += 1
            log.warning("skipping frame at %.6f: %s", pair.stamp, err)
            return None
        frame = Frame(frame_id=f"{pair.points_stamp:.6f}", points=torch.from_numpy(points.payload), calib=calib,
                      image=rgb)
        t0 = self._clock()
        try:
            result = self.detector([frame])[0]
        except Exception:  # one bad frame must not stop a long-running node
            self.stats.frames_failed += 1
            log.exception("the detector failed on frame %s; skipping it", frame.frame_id)
            return None
        t1 = self._clock()
        self._publish_result(result, image.header, points.header)
        t2 = self._clock()
        self.stats.frames_processed += 1
        self.stats.inference_s.append(t1 - t0)
        self.stats.overhead_s.append(image.decode_s + points.decode_s + (t2 - t1))
        self.stats.latency_s.append(t2 - max(image.received, points.received))
        self.maybe_publish_diagnostics(points.header)
        return result

    def _publish_result(self, result: FusedDetections, image_header: Any, points_header: Any) -> None:
        p = self.params
        if p.min_score > 0:
            result = result.select(result.scores >= p.min_score)
        if p.detections3d_topic:
            self._publish(p.detections3d_topic, outputs.detection3d_array(result, points_header, self.class_names))
        if p.detections2d_topic:
            self._publish(p.detections2d_topic, outputs.detection2d_array(result, image_header, self.class_names))
        if p.fused_topic:
            self._publish(p.fused_topic, outputs.fused_json(result))
        if p.panoptic_topic and result.panoptic is not None:
            self._publish(p.panoptic_topic, outputs.panoptic_image(result, image_header))

    def process_pending(self) -> int:
        """Process every queued frame now, in this thread (bag replay at maximum rate); returns how many."""
        n = 0
        while len(self.frames):
            pair = self.frames.get(timeout=0)
            if pair is None:
                break
            self.process(pair)
            n += 1
        return n

    # ------------------------------------------------------------------ live operation
    def start(self) -> None:
        """Start the inference worker thread (live mode)."""
        if self._worker is not None:
            raise RuntimeError("InferenceNode already started")
        self._stop.clear()
        self._worker = threading.Thread(target=self._run, name="perception-inference", daemon=True)
        self._worker.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            pair = self.frames.get(timeout=0.1)
            if pair is not None:
                self.process(pair)

    def stop(self, *, drain: bool = False, timeout: float = 60.0) -> None:
        """Stop the worker after its current frame (``drain``: after every queued frame), then publish the
        final diagnostics."""
        if self._worker is not None:
            if drain:
                deadline = time.monotonic() + timeout
                while len(self.frames) and time.monotonic() < deadline:
                    time.sleep(0.02)
            self._stop.set()
            self.frames.close()
            self._worker.join(timeout=timeout)
            self._worker = None
        self.publish_diagnostics()

    # ------------------------------------------------------------------ diagnostics
    def summary(self) -> dict[str, float]:
        """Counters and latency percentiles (milliseconds) as a flat dict."""
        s = self.stats
        out: dict[str, float] = {f"received {topic}": n for topic, n in sorted(s.received.items())}
        out.update({
            "frames synced": s.frames_synced, "frames processed": s.frames_processed,
            "frames failed": s.frames_failed, "frames dropped (queue full)": self.frames.dropped,
            "messages dropped unmatched": sum(self.sync.dropped.values()),
            "bad messages": sum(s.bad_messages.values()), "non-finite points dropped": s.nan_points_dropped,
            "latency p50 ms": 1e3 * _percentile(s.latency_s, 50), "latency p99 ms": 1e3 * _percentile(s.latency_s, 99),
            "inference p50 ms": 1e3 * _percentile(s.inference_s, 50),
            "node overhead p50 ms": 1e3 * _percentile(s.overhead_s, 50),
        })
        out.update({f"bad {k}": v for k, v in sorted(s.bad_messages.items())})
        return out

    def maybe_publish_diagnostics(self, header: Any = None) -> None:
        now = self._clock()
        if now - self._last_diagnostics >= self.params.diagnostics_period:
            self.publish_diagnostics(header)

    def publish_diagnostics(self, header: Any = None) -> None:
        if not self.params.diagnostics_topic:
            return
        self._last_diagnostics = self._clock()
        summary = self.summary()
        lossy = summary["frames dropped (queue full)"] or summary["bad messages"] or summary["frames failed"]
        status = new_message(
            "diagnostic_msgs/DiagnosticStatus", level=1 if lossy else 0, name="perception_node",
            message="frames lost or messages skipped" if lossy else "ok", hardware_id="",
            values=[new_message("diagnostic_msgs/KeyValue", key=k, value=f"{v:.3f}" if isinstance(v, float) else str(v))
                    for k, v in summary.items()])
        stamp_header = header if header is not None else new_message("std_msgs/Header")
        self._publish(self.params.diagnostics_topic,
                      new_message("diagnostic_msgs/DiagnosticArray", header=stamp_header, status=[status]))
