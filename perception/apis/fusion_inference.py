"""The stack's one entry point: a frame (image, points, calibration) in, :class:`FusedDetections` out.

    detector = FusionDetector(config="configs/fusion/fusion_clocs_sim.py")
    results = detector(frames)        # list[FusedDetections], one per Frame

It runs the fusion config's LiDAR detector, 2D detector and (when the config names one) panoptic model through
their own inference APIs, batched, then :class:`perception.fusion.LateFusion` per frame.
"""
from __future__ import annotations

from typing import Mapping, Optional, Sequence, Union

from mmengine.config import Config

from perception.fusion.builder import FROM_CONFIG, build_late_fusion, load_fusion_config, resolve_path
from perception.structures import Frame, FusedDetections

from .camera_inference import CameraDetector
from .lidar_inference import LidarInferencer

__all__ = ["FusionDetector"]


class FusionDetector:
    """Late-fusion detector built from a fusion config (``configs/fusion/``).

    Args:
        config: fusion config path or loaded config.
        device: ``"cpu"`` or ``"cuda[:k]"``, for every model.
        checkpoints: optional overrides ``{"lidar" | "camera" | "panoptic" | "scorer": path or None}`` of the
            config's checkpoints (``None``: random weights, for tests).
        with_panoptic: run the config's panoptic model (when it names one).
    """

    def __init__(self, *, config: Union[str, Config], device: str = "cpu",
                 checkpoints: Optional[Mapping[str, Optional[str]]] = None, with_panoptic: bool = True):
        cfg = load_fusion_config(config)
        checkpoints = dict(checkpoints or {})
        unknown = sorted(set(checkpoints) - {"lidar", "camera", "panoptic", "scorer"})
        if unknown:
            raise ValueError(f"FusionDetector: unknown checkpoint keys {unknown}")

        def ckpt(part: str) -> Optional[str]:
            return resolve_path(checkpoints.get(part, cfg[part].checkpoint))

        self.config = cfg
        self.device = device
        self.lidar = LidarInferencer(config=resolve_path(cfg.lidar.config), checkpoint=ckpt("lidar"), device=device)
        self.camera = CameraDetector(config=resolve_path(cfg.camera.config), checkpoint=ckpt("camera"),
                                     device=device)
        self.panoptic = None
        if with_panoptic and cfg.get("panoptic"):
            from perception.models.camera.panoptic import load_panoptic_model

            self.panoptic = load_panoptic_model(resolve_path(cfg.panoptic.config), ckpt("panoptic"), device)
        if self.lidar.class_names != tuple(cfg.class_names) or self.camera.class_names != tuple(cfg.class_names):
            raise ValueError(f"fusion config classes {tuple(cfg.class_names)} differ from the LiDAR model's "
                             f"{self.lidar.class_names} or the camera model's {self.camera.class_names}")
        self.fusion = build_late_fusion(cfg, scorer_checkpoint=checkpoints.get("scorer", FROM_CONFIG),
                                        device=device)

    def __call__(self, frames: Sequence[Frame], batch_size: int = 4) -> list[FusedDetections]:
        """Detect and fuse; every frame needs its image, points and calibration."""
        from perception.models.camera.panoptic import predict_image

        for frame in frames:
            if frame.image is None:
                raise ValueError(f"frame {frame.frame_id}: FusionDetector needs the camera image")
        lidar = self.lidar(frames, batch_size=batch_size)
        camera = self.camera([f.image for f in frames], batch_size=batch_size)
        out = []
        for frame, det3d, det2d in zip(frames, lidar, camera):
            panoptic = None
            if self.panoptic is not None:
                model, scale = self.panoptic
                panoptic = predict_image(model, frame.image, scale=scale)
            out.append(self.fusion(frame_id=frame.frame_id, calib=frame.calib, image_size=frame.image_size,
                                   lidar=det3d, camera=det2d, panoptic=panoptic))
        return out
