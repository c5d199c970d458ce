"""The simulator's panoptic categories, defined once for the whole project.

Things (one segment per instance) come first, then stuff (one segment per
class and image).  Thing names are the KITTI label types, so a panoptic thing
segment and a ``label_2`` line name their class the same way.

Panoptic PNGs use the COCO encoding ``id = R + 256 * G + 256**2 * B``; this
simulator numbers segments ``category_id * 1000 + instance`` (``instance`` 0
for stuff, ``1..999`` for things), and ``0`` is void (never produced: every
pixel sees some surface or the sky).
"""
from __future__ import annotations

import dataclasses

import numpy as np

__all__ = [
    "Category", "CATEGORIES", "THING_CATEGORIES", "STUFF_CATEGORIES", "CATEGORY_BY_ID", "CATEGORY_BY_NAME",
    "CAR", "PEDESTRIAN", "CYCLIST", "ROAD", "SIDEWALK", "BUILDING", "VEGETATION", "SKY",
    "VOID_ID", "SEGMENT_ID_STRIDE", "segment_id", "segment_category", "ids_to_rgb", "rgb_to_ids",
    "coco_categories", "category_color_table",
]

#: Panoptic id of unlabelled pixels.
VOID_ID = 0
#: ``segment id = category_id * SEGMENT_ID_STRIDE + instance``.
SEGMENT_ID_STRIDE = 1000


@dataclasses.dataclass(frozen=True)
class Category:
    """One panoptic category.

    Attributes:
        id: COCO ``category_id`` (1-based, things first).
        name: class name; for things the KITTI label type (``Car``, ...).
        isthing: countable objects with instances (and KITTI labels).
        color: RGB display colour (Cityscapes palette).
        supercategory: COCO supercategory.
    """

    id: int
    name: str
    isthing: bool
    color: tuple[int, int, int]
    supercategory: str


CAR = 1
PEDESTRIAN = 2
CYCLIST = 3
ROAD = 4
SIDEWALK = 5
BUILDING = 6
VEGETATION = 7
SKY = 8

CATEGORIES: tuple[Category, ...] = (
    Category(CAR, "Car", True, (0, 0, 142), "vehicle"),
    Category(PEDESTRIAN, "Pedestrian", True, (220, 20, 60), "human"),
    Category(CYCLIST, "Cyclist", True, (255, 0, 0), "human"),
    Category(ROAD, "road", False, (128, 64, 128), "flat"),
    Category(SIDEWALK, "sidewalk", False, (244, 35, 232), "flat"),
    Category(BUILDING, "building", False, (70, 70, 70), "construction"),
    Category(VEGETATION, "vegetation", False, (107, 142, 35), "nature"),
    Category(SKY, "sky", False, (70, 130, 180), "sky"),
)
THING_CATEGORIES = tuple(c for c in CATEGORIES if c.isthing)
STUFF_CATEGORIES = tuple(c for c in CATEGORIES if not c.isthing)
CATEGORY_BY_ID = {c.id: c for c in CATEGORIES}
CATEGORY_BY_NAME = {c.name: c for c in CATEGORIES}


def segment_id(category_id: int, instance: int = 0) -> int:
    """Panoptic segment id of a stuff class (``instance=0``) or a thing instance (``1..999``)."""
    if not 0 <= instance < SEGMENT_ID_STRIDE:
        raise ValueError(f"instance must be in [0, {SEGMENT_ID_STRIDE}), got {instance}")
    return int(category_id) * SEGMENT_ID_STRIDE + int(instance)


def segment_category(ids: np.ndarray | int) -> np.ndarray | int:
    """Category id of panoptic segment id(s) (0 for void)."""
    return ids // SEGMENT_ID_STRIDE


def ids_to_rgb(ids: np.ndarray) -> np.ndarray:
    """``(H, W)`` integer ids -> ``(H, W, 3)`` uint8 RGB with ``id = R + 256 G + 256^2 B``."""
    ids = np.asarray(ids)
    if ids.min(initial=0) < 0 or ids.max(initial=0) >= 256 ** 3:
        raise ValueError("panoptic ids must lie in [0, 256**3)")
    # the three low bytes of each id, little-endian: R = id % 256, G = (id // 256) % 256, B = id // 65536
    return np.ascontiguousarray(ids.astype("<u4").view(np.uint8).reshape(*ids.shape, 4)[..., :3])


def rgb_to_ids(rgb: np.ndarray) -> np.ndarray:
    """``(H, W, 3)`` uint8 RGB panoptic PNG -> ``(H, W)`` int64 ids."""
    rgb = np.asarray(rgb).astype(np.int64)
    return rgb[..., 0] + 256 * rgb[..., 1] + 65536 * rgb[..., 2]


def coco_categories() -> list[dict]:
    """The ``categories`` list of a COCO panoptic JSON."""
    return [{"id": c.id, "name": c.name, "supercategory": c.supercategory, "isthing": int(c.isthing),
             "color": list(c.color)} for c in CATEGORIES]


def category_color_table() -> np.ndarray:
    """``(max_id + 1, 3)`` uint8 colours indexed by category id (row 0, void, is black)."""
    table = np.zeros((max(CATEGORY_BY_ID) + 1, 3), dtype=np.uint8)
    for c in CATEGORIES:
        table[c.id] = c.color
    return table
