"""What the KITTI and nuScenes info-file datasets share about their arguments and their entries."""
from __future__ import annotations

from typing import Any, Callable, Mapping, Optional, Sequence

from .create_data import InfoFileError

__all__ = ["modality_flags", "checked_classes", "parse_entries"]


def modality_flags(modality: Optional[Mapping[str, bool]], owner: str) -> dict:
    """``{"use_lidar": bool, "use_camera": bool}`` (LiDAR on, camera off unless given); a ``ValueError`` names
    ``owner`` and any unknown key."""
    flags = {"use_lidar": True, "use_camera": False, **dict(modality or {})}
    unknown = set(flags) - {"use_lidar", "use_camera"}
    if unknown:
        raise ValueError(f"{owner}: unknown modality key(s) {sorted(unknown)}; use use_lidar/use_camera")
    return flags


def checked_classes(classes: Any, owner: str) -> tuple:
    """``metainfo['classes']`` as a tuple; a ``ValueError`` naming ``owner`` when it is empty or a bare string."""
    if not classes or isinstance(classes, str):
        raise ValueError(f"{owner}: metainfo['classes'] must be a non-empty sequence, got {classes!r}")
    return tuple(classes)


def parse_entries(entries: Sequence[dict], parse: Callable[[dict], dict], *, ann_file: str, key: str,
                  unit: str) -> list[dict]:
    """``[parse(entry) for entry in entries]``; a malformed entry raises :class:`InfoFileError` naming the file,
    its position and its ``key`` field (``unit`` is what an entry is called: "frame", "sample")."""
    out = []
    for i, raw in enumerate(entries):
        try:
            out.append(parse(raw))
        except (KeyError, TypeError, ValueError) as exc:
            raise InfoFileError(f"{ann_file}: data_list[{i}] ({unit} {raw.get(key)}): "
                                f"{type(exc).__name__}: {exc}") from exc
    return out
