"""The ROS 1 message types the node reads and writes, from one place.

Messages inside the node are `rosbags <https://gitlab.com/ternaris/rosbags>`_ dataclasses of the ROS 1 Noetic
type store, plus ``vision_msgs`` (shipped by neither Debian nor rosbags) and ``tf2_msgs``, registered from the
``.msg`` files in ``perception/ros/msg/<package>/``.  Those files hold the field layout of vision_msgs 0.0.x, the ROS 1 release,
so the MD5 sums match the real package (``Detection3DArray`` ``05c51d9a...``, ``Detection2DArray``
``402071f6...``; tested) and any ROS 1 tool with vision_msgs installed reads the node's topics and bags.

The same serialized bytes go to a bag (rosbags' writers) or over TCPROS (:mod:`perception.ros.rospy_transport`
wraps them for rospy), so every transport publishes exactly the same messages.
"""
from __future__ import annotations

import functools
import pathlib
from typing import Any

import numpy as np
from rosbags.typesys import Stores, get_types_from_msg, get_typestore
from rosbags.typesys.store import Typestore

__all__ = ["MSG_DIR", "message_definition", "new_message", "ros1_name", "ros1_typestore", "typestore_name"]

#: Directory of the bundled ``.msg`` files (``<package>/<Type>.msg``).
MSG_DIR = pathlib.Path(__file__).parent / "msg"

# rosbags' Nodetype values (``typestore.fielddefs[type][1]`` entries are ``(name, (nodetype, details))``).
_BASE, _NAME, _ARRAY, _SEQUENCE = 1, 2, 3, 4
_NUMPY_BASE = {"bool": np.bool_, "int8": np.int8, "uint8": np.uint8, "int16": np.int16, "uint16": np.uint16,
               "int32": np.int32, "uint32": np.uint32, "int64": np.int64, "uint64": np.uint64,
               "float32": np.float32, "float64": np.float64}


@functools.lru_cache(maxsize=1)
def ros1_typestore() -> Typestore:
    """ROS 1 Noetic types plus the bundled vision_msgs (cached; treat as read-only)."""
    store = get_typestore(Stores.ROS1_NOETIC)
    types: dict = {}
    for path in sorted(MSG_DIR.glob("*/*.msg")):
        types.update(get_types_from_msg(path.read_text(), f"{path.parent.name}/msg/{path.stem}"))
    store.register(types)
    return store


def ros1_name(typename: str) -> str:
    """``sensor_msgs/msg/Image`` -> ``sensor_msgs/Image`` (the name on the ROS 1 wire and in bags)."""
    package, _, name = typename.partition("/msg/")
    return f"{package}/{name}" if name else typename


def typestore_name(ros1_type: str) -> str:
    """``sensor_msgs/Image`` -> ``sensor_msgs/msg/Image`` (rosbags' key)."""
    return ros1_type if "/msg/" in ros1_type else ros1_type.replace("/", "/msg/", 1)


def message_definition(typename: str) -> tuple[str, str]:
    """``(full ROS 1 definition text, md5sum)`` of ``typename``, as a master or a bag records them."""
    return ros1_typestore().generate_msgdef(typestore_name(typename))


def _default(store: Typestore, node: tuple) -> Any:
    kind, detail = node
    if kind == _BASE:
        base = detail[0]
        if base == "string":
            return ""
        if base in ("time", "duration"):
            return new_message(f"builtin_interfaces/msg/{'Time' if base == 'time' else 'Duration'}")
        return _NUMPY_BASE[base](0).item()
    if kind == _NAME:
        return new_message(detail)
    if kind == _ARRAY:
        sub, length = detail
        if sub[0] == _BASE and sub[1][0] in _NUMPY_BASE:
            return np.zeros(length, dtype=_NUMPY_BASE[sub[1][0]])
        return [_default(store, sub) for _ in range(length)]
    if kind == _SEQUENCE:
        sub = detail[0]
        if sub[0] == _BASE and sub[1][0] in _NUMPY_BASE:
            return np.zeros(0, dtype=_NUMPY_BASE[sub[1][0]])
        return []
    raise ValueError(f"unknown rosbags field node {node!r}")


def new_message(typename: str, **fields: Any) -> Any:
    """A message of ``typename`` (either spelling) with ``fields`` set and every other field at its default
    (zeros, empty strings and sequences, default sub-messages), like rospy's keyword constructors."""
    key, defs, names, cls = _type_info(typename)
    if not names.issuperset(fields):
        raise TypeError(f"{ros1_name(key)} has no field(s) {sorted(set(fields) - names)}; fields: "
                        f"{[name for name, _ in defs]}")
    store = ros1_typestore()
    return cls(**{name: fields[name] if name in fields else _default(store, node) for name, node in defs})


@functools.lru_cache(maxsize=None)
def _type_info(typename: str) -> tuple[str, list, frozenset, type]:
    store = ros1_typestore()
    key = typestore_name(typename)
    if key not in store.fielddefs:
        raise KeyError(f"unknown ROS message type {typename!r}")
    defs = store.fielddefs[key][1]
    return key, defs, frozenset(name for name, _ in defs), store.types[key]
