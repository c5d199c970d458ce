"""Run a trained LiDAR detector on in-memory frames.

    inferencer = LidarInferencer(config="configs/sst/sst_sim.py", checkpoint="checkpoints/sst_sim.pth")
    detections = inferencer([frame])          # list[ObjectAnnotations], LiDAR frame, with scores

The config's ``test_pipeline`` is reused with its file-loading step replaced by
the frame's points, so inference sees exactly what evaluation sees.
"""
from __future__ import annotations

from typing import Optional, Sequence, Union

import torch
from mmengine.config import Config
from mmengine.dataset import Compose, pseudo_collate

from perception.engine import load_model
from perception.structures import Boxes2D, Frame, ObjectAnnotations

__all__ = ["LidarInferencer", "label_names", "predictions_to_annotations"]


def label_names(labels: torch.Tensor, class_names: Sequence[str]) -> list[str]:
    """Class names of predicted integer ``labels``; a ``ValueError`` names any label outside ``class_names``."""
    labels = labels.cpu().tolist()
    bad = sorted({k for k in labels if not 0 <= k < len(class_names)})
    if bad:
        raise ValueError(f"predicted labels {bad} outside the {len(class_names)} classes {tuple(class_names)}")
    return [class_names[k] for k in labels]


def predictions_to_annotations(pred, class_names: Sequence[str]) -> ObjectAnnotations:
    """``pred_instances_3d`` (bboxes_3d, scores_3d, labels_3d) -> :class:`ObjectAnnotations`
    with ``names`` from ``class_names``; 2D boxes, truncation and occlusion left empty/zero."""
    boxes = pred.bboxes_3d.to("cpu")
    n = len(boxes)
    return ObjectAnnotations(
        names=label_names(pred.labels_3d, class_names), boxes3d=boxes, boxes2d=Boxes2D(torch.zeros(n, 4)),
        truncated=torch.zeros(n), occluded=torch.zeros(n, dtype=torch.long), alpha=torch.zeros(n),
        scores=pred.scores_3d.detach().cpu().float())


class LidarInferencer:
    """A LiDAR detector built from a config and a checkpoint.

    Args:
        config: config path or :class:`mmengine.Config` with ``model``, ``test_pipeline`` and ``class_names``.
        checkpoint: ``.pth`` file; ``None`` keeps the random initialisation (for tests).
        device: ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ...
    """

    def __init__(self, *, config: Union[str, Config], checkpoint: Optional[str], device: str = "cpu"):
        cfg = Config.fromfile(config) if isinstance(config, str) else config
        for key in ("model", "test_pipeline", "class_names"):
            if key not in cfg:
                raise KeyError(f"config {getattr(cfg, 'filename', '')} has no '{key}'")
        self.class_names = tuple(cfg.class_names)
        self.model, _ = load_model(cfg, checkpoint, device=device)
        self.device = device
        steps = [dict(step) for step in cfg.test_pipeline]
        load = [s for s in steps if s["type"] == "LoadPointsFromFile"]
        self.use_dims = load[0].get("use_dims") if load else None
        self.pipeline = Compose([s for s in steps if s["type"] != "LoadPointsFromFile"])

    @torch.no_grad()
    def __call__(self, frames: Sequence[Frame], batch_size: int = 4) -> list[ObjectAnnotations]:
        """Detect objects in each frame; boxes in the frame's LiDAR frame."""
        out: list[ObjectAnnotations] = []
        for start in range(0, len(frames), batch_size):
            batch = [self._prepare(f) for f in frames[start:start + batch_size]]
            data = self.model.data_preprocessor(pseudo_collate(batch), training=False)
            samples = self.model(data["inputs"], data["data_samples"], mode="predict")
            out.extend(predictions_to_annotations(s.pred_instances_3d, self.class_names) for s in samples)
        return out

    def _prepare(self, frame: Frame) -> dict:
        points = frame.points.float()
        if self.use_dims is not None:
            points = points[:, list(self.use_dims)]
        if frame.image_size is None:
            raise ValueError(f"frame {frame.frame_id}: the LiDAR pipeline needs the image size "
                             "(points are cut to the camera's field of view); set Frame.image")
        results = dict(points=points.contiguous(), calib=frame.calib, img_shape=frame.image_size,
                       sample_idx=frame.frame_id, num_pts_feats=points.shape[1])
        return self.pipeline(results)
