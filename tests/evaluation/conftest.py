"""Helpers for the KITTI evaluation tests: build label/result objects tersely."""
from __future__ import annotations

import pytest

from perception.datasets.kitti_io import KittiObject


def make_object(type="Car", bbox=(100.0, 100.0, 200.0, 200.0), loc=(0.0, 1.5, 20.0), dims=(1.5, 1.6, 3.9), ry=0.0,
                alpha=0.0, truncated=0.0, occluded=0, score=None) -> KittiObject:
    """A KITTI object: by default an easy, fully visible car 100 px high, 20 m ahead."""
    return KittiObject(type=type, truncated=truncated, occluded=occluded, alpha=alpha, bbox=tuple(bbox),
                       dimensions=tuple(dims), location=tuple(loc), rotation_y=ry, score=score)


def make_dontcare(bbox) -> KittiObject:
    return KittiObject(type="DontCare", truncated=-1, occluded=-1, alpha=-10, bbox=tuple(bbox), dimensions=(-1, -1, -1),
                       location=(-1000, -1000, -1000), rotation_y=-10)


@pytest.fixture
def obj():
    return make_object


@pytest.fixture
def dontcare():
    return make_dontcare
