"""``sensor_msgs/PointCloud2`` <-> NumPy.

A PointCloud2 is ``height x width`` points, each ``point_step`` bytes, rows ``row_step`` bytes apart (rows may
be padded), with named fields at byte offsets (``datatype`` one of the eight ``PointField`` constants,
``count`` elements each; bytes not covered by a field are padding).  ``is_bigendian`` gives the byte order of
every field; ``is_dense`` promises that no point holds NaN/inf (when false, such points may be present).

:func:`decode_pointcloud2` returns a structured array (one record per point, native byte order);
:func:`pointcloud2_to_xyzi` turns it into the ``(N, 4) float32 [x, y, z, intensity]`` LiDAR-frame points the
models take, dropping non-finite points; :func:`encode_pointcloud2` does the reverse of the decoder.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Sequence

import numpy as np

from .errors import MessageError

__all__ = ["POINT_FIELD_DTYPES", "PointCloud2Data", "PointFieldSpec", "decode_pointcloud2", "encode_pointcloud2",
           "pointcloud2_to_xyzi"]

#: ``sensor_msgs/PointField`` datatype constant -> NumPy scalar type (little endian; byte order applied per message).
POINT_FIELD_DTYPES: dict[int, np.dtype] = {
    1: np.dtype("i1"), 2: np.dtype("u1"), 3: np.dtype("<i2"), 4: np.dtype("<u2"),
    5: np.dtype("<i4"), 6: np.dtype("<u4"), 7: np.dtype("<f4"), 8: np.dtype("<f8"),
}
_DATATYPE_OF = {dt.str.lstrip("<|"): code for code, dt in POINT_FIELD_DTYPES.items()}


@dataclasses.dataclass(frozen=True)
class PointFieldSpec:
    """One ``sensor_msgs/PointField``: ``name``, byte ``offset`` in the point, ``datatype`` constant, ``count``."""

    name: str
    offset: int
    datatype: int
    count: int = 1


@dataclasses.dataclass(frozen=True)
class PointCloud2Data:
    """The fields of a ``sensor_msgs/PointCloud2`` without its header (what :func:`encode_pointcloud2` makes).

    ``to_msg`` builds a message of any class with those attributes (rospy's, rosbags' dataclasses).
    """

    height: int
    width: int
    fields: tuple[PointFieldSpec, ...]
    is_bigendian: bool
    point_step: int
    row_step: int
    data: bytes
    is_dense: bool

    def to_msg(self, msg_cls: Any, field_cls: Any, header: Any) -> Any:
        fields = [field_cls(name=f.name, offset=f.offset, datatype=f.datatype, count=f.count) for f in self.fields]
        return msg_cls(header=header, height=self.height, width=self.width, fields=fields,
                       is_bigendian=self.is_bigendian, point_step=self.point_step, row_step=self.row_step,
                       data=np.frombuffer(self.data, dtype=np.uint8), is_dense=self.is_dense)


def _message_bytes(data: Any) -> bytes:
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data)
    if isinstance(data, np.ndarray):
        return data.astype(np.uint8, copy=False).tobytes()
    if isinstance(data, (list, tuple)):
        return bytes(data)
    raise MessageError(f"PointCloud2.data: expected bytes or a uint8 array, got {type(data).__name__}")


def _record_dtype(fields: Sequence[Any], point_step: int, bigendian: bool) -> np.dtype:
    names, formats, offsets = [], [], []
    for i, f in enumerate(fields):
        where = f"PointCloud2.fields[{i}] ({getattr(f, 'name', '?')!r})"
        if f.datatype not in POINT_FIELD_DTYPES:
            raise MessageError(f"{where}: datatype {f.datatype} is not a PointField constant (1..8)")
        if f.count < 1:
            raise MessageError(f"{where}: count must be >= 1, got {f.count}")
        base = POINT_FIELD_DTYPES[f.datatype].newbyteorder(">" if bigendian else "<")
        size = base.itemsize * f.count
        if f.offset < 0 or f.offset + size > point_step:
            raise MessageError(f"{where}: bytes [{f.offset}, {f.offset + size}) lie outside point_step {point_step}")
        if f.name in names:
            raise MessageError(f"{where}: duplicate field name")
        names.append(f.name)
        formats.append(base if f.count == 1 else (base, (f.count,)))
        offsets.append(f.offset)
    try:
        return np.dtype({"names": names, "formats": formats, "offsets": offsets, "itemsize": point_step})
    except ValueError as exc:  # overlapping fields
        raise MessageError(f"PointCloud2.fields: {exc}") from None


def _native(dtype: np.dtype) -> np.dtype:
    """The fields of a record dtype, packed, in native byte order."""
    return np.dtype([(n, dtype.fields[n][0].newbyteorder("=")) for n in dtype.names or ()])


def decode_pointcloud2(msg: Any) -> np.ndarray:
    """All points of ``msg`` as a structured array of ``height * width`` records in native byte order.

    Raises:
        MessageError: inconsistent sizes (``data`` shorter than ``height * row_step``, ``row_step <
        width * point_step``), an unknown datatype, a field outside the point.
    """
    height, width = int(msg.height), int(msg.width)
    point_step, row_step = int(msg.point_step), int(msg.row_step)
    if height < 0 or width < 0:
        raise MessageError(f"PointCloud2: height and width must be >= 0, got {height} x {width}")
    data = _message_bytes(msg.data)
    if height * width == 0:
        dtype = _record_dtype(msg.fields, point_step, bool(msg.is_bigendian)) if point_step > 0 else np.dtype([])
        return np.zeros(0, dtype=_native(dtype))
    if point_step <= 0:
        raise MessageError(f"PointCloud2.point_step: expected > 0, got {point_step}")
    if row_step < width * point_step:
        raise MessageError(f"PointCloud2.row_step: {row_step} < width * point_step = {width * point_step}")
    if len(data) < height * row_step:
        raise MessageError(f"PointCloud2.data: {len(data)} bytes, expected height * row_step = "
                           f"{height} * {row_step} = {height * row_step} (truncated message?)")
    dtype = _record_dtype(msg.fields, point_step, bool(msg.is_bigendian))
    rows = np.frombuffer(data, dtype=np.uint8, count=height * row_step).reshape(height, row_step)
    packed = np.ascontiguousarray(rows[:, : width * point_step]).reshape(-1)
    records = packed.view(dtype)
    out = np.empty(len(records), dtype=_native(dtype))
    for name in records.dtype.names:
        out[name] = records[name]
    return out


def pointcloud2_to_xyzi(msg: Any, *, intensity_fields: Sequence[str] = ("intensity", "i", "reflectance"),
                        drop_nonfinite: bool = True) -> tuple[np.ndarray, int]:
    """``(N, 4) float32 [x, y, z, intensity]`` of ``msg`` and how many non-finite points were dropped.

    ``intensity`` is the first of ``intensity_fields`` the cloud has (0 when it has none).  Points with a
    NaN/inf coordinate are dropped when ``drop_nonfinite`` (whatever ``is_dense`` claims).

    Raises:
        MessageError: as :func:`decode_pointcloud2`, or no ``x``/``y``/``z`` field.
    """
    records = decode_pointcloud2(msg)
    names = records.dtype.names or ()
    missing = [c for c in "xyz" if c not in names]
    if missing:
        raise MessageError(f"PointCloud2.fields: no {'/'.join(missing)} field (fields: {list(names)})")
    points = np.zeros((len(records), 4), dtype=np.float32)
    for j, c in enumerate("xyz"):
        if records.dtype.fields[c][0].shape:
            raise MessageError(f"PointCloud2.fields: field {c!r} has count > 1")
        points[:, j] = records[c]
    intensity = next((n for n in intensity_fields if n in names), None)
    if intensity is not None:
        points[:, 3] = records[intensity]
    dropped = 0
    if drop_nonfinite:
        keep = np.isfinite(points[:, :3]).all(axis=1)
        dropped = int((~keep).sum())
        points = points[keep]
    return points, dropped


def encode_pointcloud2(points: np.ndarray, names: Sequence[str] = ("x", "y", "z", "intensity"), *,
                       bigendian: bool = False, point_step: int | None = None) -> PointCloud2Data:
    """An unordered (``height = 1``) cloud of ``points (N, C)``, one field per column named ``names``.

    The columns keep their dtype (float32 unless given otherwise; one of the eight PointField types);
    ``point_step`` larger than the packed size adds trailing padding per point.  ``is_dense`` is set from the
    data (true when every value is finite).
    """
    points = np.asarray(points)
    if points.ndim != 2 or points.shape[1] != len(names):
        raise ValueError(f"encode_pointcloud2: points must be (N, {len(names)}) for fields {list(names)}, "
                         f"got {points.shape}")
    base = points.dtype.newbyteorder("<")
    if base.str.lstrip("<|") not in _DATATYPE_OF:
        raise ValueError(f"encode_pointcloud2: dtype {points.dtype} is not a PointField type")
    size = base.itemsize
    step = point_step if point_step is not None else size * len(names)
    if step < size * len(names):
        raise ValueError(f"encode_pointcloud2: point_step {step} < {size * len(names)} bytes of fields")
    fields = tuple(PointFieldSpec(name=n, offset=i * size, datatype=_DATATYPE_OF[base.str.lstrip("<|")])
                   for i, n in enumerate(names))
    order = ">" if bigendian else "<"
    record = np.dtype({"names": list(names), "formats": [base.newbyteorder(order)] * len(names),
                       "offsets": [f.offset for f in fields], "itemsize": step})
    out = np.zeros(len(points), dtype=record)
    for i, n in enumerate(names):
        out[n] = points[:, i]
    finite = bool(np.isfinite(points).all()) if points.dtype.kind == "f" else True
    return PointCloud2Data(height=1, width=len(points), fields=fields, is_bigendian=bigendian, point_step=step,
                           row_step=step * len(points), data=out.tobytes(), is_dense=finite)
