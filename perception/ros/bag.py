"""The node on recorded data: read a bag, feed the node, write its outputs to a new ROS 1 bag.

Input: a ROS 1 bag (``.bag``), a ROS 2 bag directory (SQLite3 or MCAP storage) or a single ``.mcap`` file
recorded by ROS 2, read through rosbags' ``AnyReader``.  Output: a ROS 1 bag with one connection per output
topic (:attr:`InferenceNode.publications`), each message stored at its header stamp (diagnostics at the
replay time).  The output is written to ``<out>.partial`` and renamed to ``<out>`` when the replay ends or is
stopped (SIGINT/SIGTERM through ``stop``), so a bag at ``<out>`` is always complete and readable; an error
during the replay leaves only the ``.partial`` file.

Rates: ``rate=None`` replays as fast as the node processes (each frame is processed before the next message
is read, so nothing is dropped and the output is deterministic); ``rate=r`` replays at ``r`` x the recorded
rate against the wall clock, with the node's worker thread behind its drop-oldest queues, as on a live robot.
"""
from __future__ import annotations

import os
import pathlib
import threading
import time
from typing import Any, Iterator, Optional

from rosbags.highlevel import AnyReader
from rosbags.rosbag1 import Writer

from .node import InferenceNode, stamp_seconds
from .typestore import ros1_typestore, typestore_name

__all__ = ["BagRecorder", "read_messages", "replay_bag"]


def read_messages(path: str | os.PathLike, topics: Optional[set[str]] = None
                  ) -> Iterator[tuple[str, int, Any]]:
    """``(topic, timestamp_ns, message)`` of a bag in recorded order (messages deserialized by the bag's own
    type definitions); only ``topics`` when given."""
    path = pathlib.Path(path)
    if not path.exists():
        raise FileNotFoundError(f"bag {path} does not exist")
    with AnyReader([path]) as reader:
        connections = [c for c in reader.connections if topics is None or c.topic in topics]
        for connection, timestamp, raw in reader.messages(connections=connections):
            yield connection.topic, timestamp, reader.deserialize(raw, connection.msgtype)


class BagRecorder:
    """Thread-safe writer of messages (rosbags ROS 1 dataclasses) to a ROS 1 bag, atomically.

    The bag is written to ``<path>.partial``; :meth:`close` with ``complete=True`` moves it to ``path``. Topics
    get a connection on first use (or up front from ``topics``: ``{topic: type}``); ``/tf_static`` is latched,
    as ``rosbag record`` does.  :meth:`publish` is the node's publish function: messages are stored at their
    header stamp, or at :attr:`now_ns` (the replay time) when they have none.  Use as a context manager to
    close it, completely only when no exception escaped.
    """

    def __init__(self, path: str | os.PathLike, topics: Optional[dict[str, str]] = None):
        self.path = pathlib.Path(path)
        self.partial = self.path.with_name(self.path.name + ".partial")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.partial.exists():
            self.partial.unlink()
        self._writer = Writer(self.partial)
        self._writer.open()
        self._connections: dict[str, Any] = {}
        self._lock = threading.Lock()
        self.now_ns = 0
        self.counts: dict[str, int] = {}
        self._closed = False
        for topic, kind in (topics or {}).items():
            self._connection(topic, kind)

    def _connection(self, topic: str, msgtype: str) -> Any:
        if topic not in self._connections:
            self._connections[topic] = self._writer.add_connection(
                topic, typestore_name(msgtype), typestore=ros1_typestore(),
                latching=1 if topic.endswith("tf_static") else None)
            self.counts[topic] = 0
        return self._connections[topic]

    def write(self, topic: str, msg: Any, timestamp_ns: int) -> None:
        data = ros1_typestore().serialize_ros1(msg, msg.__msgtype__)
        with self._lock:
            if self._closed:
                return
            self._writer.write(self._connection(topic, msg.__msgtype__), int(timestamp_ns), data)
            self.counts[topic] += 1

    def publish(self, topic: str, msg: Any) -> None:
        header = getattr(msg, "header", None)
        stamp = int(round(stamp_seconds(header) * 1e9)) if header is not None else 0
        self.write(topic, msg, stamp if stamp > 0 else max(self.now_ns, 1))

    def close(self, *, complete: bool = True) -> pathlib.Path:
        """Close the bag; ``complete``: move it to its final name. Returns where the bag now is."""
        with self._lock:
            if not self._closed:
                self._writer.close()
                self._closed = True
                if complete:
                    os.replace(self.partial, self.path)
        return self.path if complete else self.partial

    def __enter__(self) -> "BagRecorder":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close(complete=exc_type is None)


def replay_bag(node: InferenceNode, recorder: BagRecorder, path: str | os.PathLike, *, rate: Optional[float] = None,
               stop: Optional[threading.Event] = None, progress: bool = False) -> int:
    """Feed the messages of bag ``path`` to ``node`` (see the module docstring for ``rate``); returns how many
    messages were read.  ``stop`` ends the replay early (the caller's signal handler sets it)."""
    if rate is not None and rate <= 0:
        raise ValueError(f"replay rate must be > 0 (or None for maximum rate), got {rate}")
    stop = stop or threading.Event()
    topics = set(node.subscriptions)
    messages = read_messages(path, topics)
    if progress:
        from tqdm import tqdm

        messages = tqdm(messages, desc=f"replaying {pathlib.Path(path).name}", unit="msg")
    live = rate is not None
    if live:
        node.start()
    n = 0
    t_bag0 = t_wall0 = None
    try:
        for topic, timestamp, msg in messages:
            if stop.is_set():
                break
            if live:
                if t_bag0 is None:
                    t_bag0, t_wall0 = timestamp, time.monotonic()
                wait = t_wall0 + (timestamp - t_bag0) * 1e-9 / rate - time.monotonic()
                if wait > 0 and stop.wait(wait):
                    break
            recorder.now_ns = timestamp
            node.handle(topic, msg)
            n += 1
            if not live:
                node.process_pending()
    finally:
        if live:
            node.stop(drain=not stop.is_set())
        else:
            node.process_pending()
            node.publish_diagnostics()
    return n
