"""Errors of the :class:`~perception.structures.FusedDetections` file formats."""
from __future__ import annotations

__all__ = ["FusedFormatError"]


class FusedFormatError(ValueError):
    """A fused-detections file is malformed.

    The message names the file, the line (JSONL) or sample token and box (nuScenes), the field at fault and
    the form that was expected, e.g. ``out.jsonl:3: field 'objects[1].box3d': expected 7 finite numbers ...``.
    """
