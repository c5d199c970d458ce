"""Run a trained 2D camera detector (TridentNet and its variants) on in-memory images.

    detector = CameraDetector(config="configs/tridentnet/tridentnet_fast_sim.py",
                              checkpoint="checkpoints/tridentnet_sim.pth")
    detections = detector([image])      # list[Detections2D], boxes in the images' own pixels

The config's ``test_pipeline`` is reused with its image-loading step replaced by
the given image, so inference sees exactly what evaluation sees (resize to the
model's input scale; boxes are mapped back to the original pixels).
"""
from __future__ import annotations

from typing import Optional, Sequence, Union

import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import Compose, pseudo_collate

from perception.engine import load_model
from perception.utils.images import check_rgb_image

from .lidar_inference import label_names
from perception.structures import Boxes2D, Detections2D

__all__ = ["CameraDetector"]

_LOAD_STEPS = ("LoadImageFromFileRGB", "LoadImageFromFile", "mmdet.LoadImageFromFile")


class CameraDetector:
    """A 2D detector built from a config and a checkpoint.

    Args:
        config: config path or :class:`mmengine.Config` with ``model``, ``test_pipeline`` and ``class_names``.
        checkpoint: ``.pth`` file; ``None`` keeps the random initialisation (for tests).
        device: ``"cpu"``, ``"cuda"``, ...
        score_thr: detections below it are dropped (the model's own threshold applies first).
    """

    def __init__(self, *, config: Union[str, Config], checkpoint: Optional[str], device: str = "cpu",
                 score_thr: float = 0.0):
        cfg = Config.fromfile(config) if isinstance(config, str) else config
        for key in ("test_pipeline", "class_names"):
            if key not in cfg:
                raise KeyError(f"config {getattr(cfg, 'filename', '')} has no '{key}'")
        self.class_names = tuple(cfg.class_names)
        self.model, _ = load_model(cfg, checkpoint, device=device)
        self.device = device
        self.score_thr = float(score_thr)
        steps = [dict(step) for step in cfg.test_pipeline]
        if not steps or steps[0]["type"] not in _LOAD_STEPS:
            raise ValueError(f"config {getattr(cfg, 'filename', '')}: test_pipeline must start with an image "
                             f"loading step ({', '.join(_LOAD_STEPS)}), got {steps[0]['type'] if steps else None}")
        self.pipeline = Compose(steps[1:])

    @torch.no_grad()
    def __call__(self, images: Sequence[np.ndarray], batch_size: int = 2) -> list[Detections2D]:
        """Detect objects in each ``(H, W, 3)`` uint8 RGB image."""
        out: list[Detections2D] = []
        for start in range(0, len(images), batch_size):
            batch = [self._prepare(img, start + k) for k, img in enumerate(images[start:start + batch_size])]
            for sample in self.model.test_step(pseudo_collate(batch)):
                out.append(self._to_detections(sample.pred_instances))
        return out

    def _prepare(self, image: np.ndarray, index: int) -> dict:
        image = check_rgb_image(image, f"image {index}")
        shape = (int(image.shape[0]), int(image.shape[1]))
        return self.pipeline(dict(img=image, img_shape=shape, ori_shape=shape, img_path=f"<image {index}>",
                                  sample_idx=index))

    def _to_detections(self, pred) -> Detections2D:
        keep = pred.scores >= self.score_thr
        return Detections2D(boxes=Boxes2D(pred.bboxes[keep].detach().cpu().float()),
                            scores=pred.scores[keep].detach().cpu().float(),
                            names=label_names(pred.labels[keep], self.class_names))
