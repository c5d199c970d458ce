"""Single-sensor detections of a whole split, computed once and stored, for fuser training and evaluation.

    python tools/cache_detections.py --data-root data/sim --split train --out work_dirs/fusion/train_dets.pt

The file holds, per frame, the detections of each LiDAR model (LiDAR frame, with scores) and of the camera
model (camera-2 pixels).  It is a ``torch.save`` pickle: trusted local files only.
"""
from __future__ import annotations

import dataclasses
import io
import os
from typing import Optional, Sequence

import torch

from perception.structures import Detections2D, ObjectAnnotations
from perception.utils.fileio import atomic_write_bytes

__all__ = ["DetectionCache", "build_detection_cache", "load_detection_cache"]

_FORMAT = "perception.detection_cache/1"


@dataclasses.dataclass
class DetectionCache:
    """Detections of one split.

    Attributes:
        data_root: the KITTI-layout root the frames come from.
        frame_ids: the split's frames, in order.
        lidar: ``{model name: [ObjectAnnotations per frame]}`` (LiDAR frame, ``scores`` set).
        camera: ``{model name: [Detections2D per frame]}``.
    """

    data_root: str
    frame_ids: list[str]
    lidar: dict[str, list[ObjectAnnotations]]
    camera: dict[str, list[Detections2D]]

    def __post_init__(self):
        for kind, per_model in (("lidar", self.lidar), ("camera", self.camera)):
            for name, dets in per_model.items():
                if len(dets) != len(self.frame_ids):
                    raise ValueError(f"detection cache: {kind} model {name} has {len(dets)} frames, "
                                     f"the split has {len(self.frame_ids)}")

    def subset(self, indices: Sequence[int]) -> "DetectionCache":
        """The frames at ``indices`` (in that order)."""
        return DetectionCache(data_root=self.data_root, frame_ids=[self.frame_ids[i] for i in indices],
                              lidar={k: [v[i] for i in indices] for k, v in self.lidar.items()},
                              camera={k: [v[i] for i in indices] for k, v in self.camera.items()})

    def save(self, path: str | os.PathLike) -> None:
        buf = io.BytesIO()
        torch.save({"format": _FORMAT, **dataclasses.asdict(self)} | {"lidar": self.lidar, "camera": self.camera}, buf)
        atomic_write_bytes(path, buf.getvalue())


def load_detection_cache(path: str | os.PathLike) -> DetectionCache:
    """Read a file written by :meth:`DetectionCache.save`; errors name the file and what is wrong."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no detection cache; make it with tools/cache_detections.py")
    data = torch.load(path, map_location="cpu", weights_only=False)
    if not isinstance(data, dict) or data.get("format") != _FORMAT:
        found = data.get("format") if isinstance(data, dict) else type(data).__name__
        raise ValueError(f"{path}: not a detection cache (format {found!r}, expected {_FORMAT!r})")
    return DetectionCache(data_root=data["data_root"], frame_ids=list(data["frame_ids"]), lidar=data["lidar"],
                          camera=data["camera"])


def build_detection_cache(*, data_root: str, frame_ids: Sequence[str], lidar_models: dict[str, tuple[str, str]],
                          camera_models: dict[str, tuple[str, str]], device: str = "cpu", batch_size: int = 4,
                          progress: bool = True) -> DetectionCache:
    """Run each ``{name: (config, checkpoint)}`` model over the frames of ``data_root``."""
    from tqdm import tqdm

    from perception.apis import CameraDetector, LidarInferencer
    from perception.datasets import kitti_io

    lidar = {name: LidarInferencer(config=cfg, checkpoint=ckpt, device=device)
             for name, (cfg, ckpt) in lidar_models.items()}
    camera = {name: CameraDetector(config=cfg, checkpoint=ckpt, device=device)
              for name, (cfg, ckpt) in camera_models.items()}
    out_lidar: dict[str, list] = {name: [] for name in lidar}
    out_camera: dict[str, list] = {name: [] for name in camera}
    bar = tqdm(total=len(frame_ids), desc="detecting", unit="frame", disable=not progress)
    for start in range(0, len(frame_ids), batch_size):
        frames = [kitti_io.read_frame(data_root, i, with_labels=False) for i in frame_ids[start:start + batch_size]]
        for name, model in lidar.items():
            out_lidar[name].extend(model(frames, batch_size=batch_size))
        for name, model in camera.items():
            out_camera[name].extend(model([f.image for f in frames], batch_size=batch_size))
        bar.update(len(frames))
    bar.close()
    return DetectionCache(data_root=os.path.abspath(data_root), frame_ids=list(frame_ids), lidar=out_lidar,
                          camera=out_camera)


def _resolve(names: Optional[Sequence[str]], task: str) -> dict[str, tuple[str, str]]:
    from perception.apis.model_zoo import MODEL_ZOO

    zoo = {m.name: m for m in MODEL_ZOO if m.task == task}
    out = {}
    for name in names or []:
        if name not in zoo:
            raise ValueError(f"unknown {task} model {name!r}; shipped: {sorted(zoo)}")
        if not zoo[name].available:
            raise FileNotFoundError(f"{name}: no weights at {zoo[name].checkpoint_path}")
        out[name] = (zoo[name].config_path, zoo[name].checkpoint_path)
    return out
