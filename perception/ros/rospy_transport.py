"""The node on a real ROS 1 master, through rospy (TCPROS).

Subscriptions use ``rospy.AnyMsg``: rospy hands over the serialized bytes and the node deserializes them with
the same type store it uses for bags (:func:`InferenceNode.handle_raw`), so a message that does not parse is
a counted bad message rather than an exception in a rospy thread.  Publications wrap already-serialized bytes
in a ``genpy.Message`` subclass that carries the real type name, MD5 sum and definition, so subscribers with
the real message packages (``rostopic echo``, rviz, C++ nodes) see ordinary typed topics.  rospy's own
subscriber queues (``queue_size`` = the node's ``input_queue_size``) drop the oldest message when full.

rospy comes from Debian (``python3-rospy``, for the system Python 3.11); ``tools/install.sh`` makes exactly the
ROS 1 packages importable from the project's venv (see the README, "ROS").
"""
from __future__ import annotations

import functools
import logging
from typing import Any

from .node import InferenceNode
from .typestore import message_definition, ros1_name, ros1_typestore, typestore_name

__all__ = ["RosoutHandler", "RospyTransport", "forward_logs_to_rospy", "import_rospy", "raw_message_class"]


def import_rospy():
    """``rospy``, or an ImportError saying how to get it."""
    try:
        import rospy
    except ImportError as err:
        raise ImportError("rospy is not importable: install Debian's python3-rospy python3-rosmaster "
                          "python3-sensor-msgs python3-diagnostic-msgs python3-tf2-msgs and rerun "
                          "tools/install.sh (it links them into the venv)") from err
    return rospy


@functools.lru_cache(maxsize=None)
def raw_message_class(typename: str) -> type:
    """A genpy message class of ``typename`` whose instances publish pre-serialized ROS 1 bytes."""
    import genpy

    text, md5 = message_definition(typename)

    class RawMessage(genpy.Message):
        __slots__ = ["_buff"]
        _type = ros1_name(typestore_name(typename))
        _md5sum = md5
        _full_text = text
        _has_header = False        # the bytes already hold the header; rospy must not rewrite its seq
        _slot_types: list = []

        def __init__(self, buff: bytes = b""):
            self._buff = buff

        def serialize(self, buff) -> None:
            buff.write(self._buff)

        def deserialize(self, data: bytes) -> "RawMessage":
            self._buff = bytes(data)
            return self

    RawMessage.__name__ = f"Raw_{RawMessage._type.replace('/', '_')}"
    return RawMessage


class RosoutHandler(logging.Handler):
    """Forwards the ``perception`` loggers to rospy's (console and ``/rosout``): rospy's ``init_node``
    replaces Python's logging configuration, which would otherwise hide the node's warnings."""

    def emit(self, record: logging.LogRecord) -> None:
        rospy = import_rospy()
        text = self.format(record)
        if record.levelno >= logging.ERROR:
            rospy.logerr(text)
        elif record.levelno >= logging.WARNING:
            rospy.logwarn(text)
        else:
            rospy.loginfo(text)


def forward_logs_to_rospy(logger_name: str = "perception") -> None:
    logger = logging.getLogger(logger_name)
    if not any(isinstance(h, RosoutHandler) for h in logger.handlers):
        handler = RosoutHandler()
        handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False


class RospyTransport:
    """Connect ``node`` to the ROS master of ``ROS_MASTER_URI`` (``rospy.init_node`` must have run)."""

    def __init__(self, node: InferenceNode):
        rospy = import_rospy()
        self.node = node
        self._publishers = {topic: rospy.Publisher(topic, raw_message_class(kind), queue_size=10,
                                                   latch=(topic == node.params.diagnostics_topic))
                            for topic, kind in node.publications.items()}
        self._subscribers = [rospy.Subscriber(topic, rospy.AnyMsg, self._callback, callback_args=topic,
                                              queue_size=node.params.input_queue_size, buff_size=1 << 25)
                             for topic in node.subscriptions]

    def _callback(self, msg: Any, topic: str) -> None:
        msgtype = msg._connection_header.get("type", "")
        self.node.handle_raw(topic, msgtype, msg._buff)

    def publish(self, topic: str, msg: Any) -> None:
        data = ros1_typestore().serialize_ros1(msg, msg.__msgtype__)
        self._publishers[topic].publish(raw_message_class(msg.__msgtype__)(bytes(data)))

    def close(self) -> None:
        for sub in self._subscribers:
            sub.unregister()
        for pub in self._publishers.values():
            pub.unregister()
