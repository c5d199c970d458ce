"""Settings of the driving simulator (:class:`SimConfig`)."""
from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any

__all__ = ["SimConfig", "KITTI_IMAGE_SIZE"]

#: ``(width, height)`` of KITTI's rectified colour images (the calibration's P2 belongs to this size).
KITTI_IMAGE_SIZE = (1242, 375)


@dataclasses.dataclass(frozen=True)
class SimConfig:
    """Everything that decides what the simulator produces (besides the frame index).

    Two runs with equal configs write byte-identical files; :meth:`fingerprint`
    names a config in ``sim_meta.json`` so a re-run into the same root can tell
    whether its frames can be reused.

    Sensors:
        image_width, image_height: camera-2 image size in pixels; the KITTI
            intrinsics are scaled from 1242x375 to this size.
        num_beams: LiDAR beams; 64 is the HDL-64E table (see
            :func:`perception.datasets.sim.lidar.hdl64_elevations`), fewer
            take evenly spread beams of that table.
        azimuth_step_deg: horizontal step between the columns of the scan.
        lidar_height: mounting height of the LiDAR above the road (m).
        max_range: farthest LiDAR return (m).
        range_noise_std: standard deviation of the range noise (m).
        dropout: base probability that a return is lost (more at long range
            and on dark or glass surfaces).
        shadows: cast shadow rays toward the sun when rendering the image.
    Scene:
        num_cars, num_pedestrians, num_cyclists: ``(min, max)`` inclusive
            counts tried per scene (placement can fail for a few).
        object_range: ``(min, max)`` BEV distance of things from the LiDAR (m).
        layout_weights: relative frequency of ``straight``, ``curve`` and
            ``intersection`` road layouts.
    Labels:
        min_lidar_points: fewer LiDAR returns than this on an object make it
            ``DontCare``.
        min_box_height: 2D boxes lower than this (pixels) become ``DontCare``.
        min_visible_pixels: objects with fewer visible pixels become ``DontCare``.
        occlusion_thresholds: visible fractions ``(a, b)``: ``> a`` is
            occlusion level 0, ``> b`` level 1, else 2.
    Dataset:
        seed: base seed; frame ``i`` uses a seed derived from ``(seed, i)`` only.
        val_every: frame ``i`` is in ``val`` when ``i % val_every == val_every - 1``
            (20 % for 5), the rest in ``train``.
        png_compress_level: zlib level of the PNG files (0-9).
    """

    image_width: int = KITTI_IMAGE_SIZE[0]
    image_height: int = KITTI_IMAGE_SIZE[1]
    num_beams: int = 64
    azimuth_step_deg: float = 0.1728
    lidar_height: float = 1.73
    max_range: float = 120.0
    range_noise_std: float = 0.02
    dropout: float = 0.02
    shadows: bool = True
    num_cars: tuple[int, int] = (6, 14)
    num_pedestrians: tuple[int, int] = (2, 8)
    num_cyclists: tuple[int, int] = (1, 3)
    object_range: tuple[float, float] = (3.0, 70.0)
    layout_weights: tuple[float, float, float] = (0.4, 0.3, 0.3)
    min_lidar_points: int = 5
    min_box_height: float = 10.0
    min_visible_pixels: int = 20
    occlusion_thresholds: tuple[float, float] = (0.85, 0.4)
    seed: int = 0
    val_every: int = 5
    png_compress_level: int = 3

    def __post_init__(self):
        for name in ("num_cars", "num_pedestrians", "num_cyclists", "object_range", "layout_weights",
                     "occlusion_thresholds"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        if self.image_width < 16 or self.image_height < 16:
            raise ValueError(f"image must be at least 16x16 pixels, got {self.image_width}x{self.image_height}")
        if not 1 <= self.num_beams <= 64:
            raise ValueError(f"num_beams must be in 1..64 (subsets of the HDL-64E table), got {self.num_beams}")
        if not 0.01 <= self.azimuth_step_deg <= 10:
            raise ValueError(f"azimuth_step_deg must be in [0.01, 10], got {self.azimuth_step_deg}")
        for name in ("num_cars", "num_pedestrians", "num_cyclists"):
            lo, hi = getattr(self, name)
            if not 0 <= lo <= hi:
                raise ValueError(f"{name} must be (min, max) with 0 <= min <= max, got {(lo, hi)}")
        lo, hi = self.object_range
        if not 0 < lo < hi:
            raise ValueError(f"object_range must be (min, max) with 0 < min < max, got {self.object_range}")
        if len(self.layout_weights) != 3 or min(self.layout_weights) < 0 or sum(self.layout_weights) <= 0:
            raise ValueError(f"layout_weights must be 3 non-negative weights (straight, curve, intersection), "
                             f"got {self.layout_weights}")
        a, b = self.occlusion_thresholds
        if not 0 <= b <= a <= 1:
            raise ValueError(f"occlusion_thresholds must be (a, b) with 0 <= b <= a <= 1, got {(a, b)}")
        if self.val_every < 2:
            raise ValueError(f"val_every must be >= 2, got {self.val_every}")
        if not 0 <= self.png_compress_level <= 9:
            raise ValueError(f"png_compress_level must be in 0..9, got {self.png_compress_level}")

    @classmethod
    def tiny(cls, **overrides: Any) -> "SimConfig":
        """A small, fast preset for tests: 414x125 image, 32 beams, a few objects."""
        values = dict(image_width=414, image_height=125, num_beams=32, azimuth_step_deg=0.5,
                      num_cars=(4, 6), num_pedestrians=(2, 3), num_cyclists=(1, 2), min_lidar_points=3,
                      min_box_height=5.0, min_visible_pixels=6, shadows=True)
        values.update(overrides)
        return cls(**values)

    def replace(self, **changes: Any) -> "SimConfig":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        return {f.name: (list(v) if isinstance(v := getattr(self, f.name), tuple) else v)
                for f in dataclasses.fields(self)}

    @classmethod
    def from_dict(cls, values: dict) -> "SimConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown SimConfig field(s): {', '.join(unknown)}")
        return cls(**values)

    def fingerprint(self) -> str:
        """A short hash of every setting (with the generator version)."""
        from .version import GENERATOR_VERSION

        text = json.dumps({"generator_version": GENERATOR_VERSION, **self.to_dict()}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]
