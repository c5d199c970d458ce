"""The learned fuser, CLOCs-style (Pang et al., IROS 2020): a small network over the 2D-3D candidate pairs.

Each candidate (see :mod:`perception.fusion.candidates`) goes through a shared
per-entry MLP (CLOCs' 1x1 convolutions over its sparse ``(N_3d, N_2d, F)``
tensor) that predicts a correction of the LiDAR score's logit; the corrected
logits of each 3D detection's entries are max-pooled into one fused logit.  The
last layer starts at zero, so an untrained fuser returns the LiDAR scores
unchanged and training only has to learn where the camera changes the ranking.  Training target: the 3D detection is a true positive (3D IoU with a
ground-truth box of its class at least the class's KITTI threshold); binary
cross-entropy on the fused logit.
"""
from __future__ import annotations

from typing import Optional, Sequence

import torch
from mmengine.model import BaseModel
from torch import nn

from perception.registry import MODELS

from .candidates import FEATURES, Candidates
from .late_fusion import FusionInputs

__all__ = ["ClocsFuser"]


@MODELS.register_module()
class ClocsFuser(BaseModel):
    """Args:
        class_names: classes of the one-hot feature (the LiDAR detector's, in its order).
        hidden: width of the per-entry MLP.
        identity_classes: classes whose scores the fuser leaves as the LiDAR gave them (no learned correction):
            a per-class gate, chosen by cross-fitting on the tuning split (``tools/tune_fusion.py --clocs``).
    """

    def __init__(self, *, class_names: Sequence[str] = ("Car", "Pedestrian", "Cyclist"),
                 hidden: Sequence[int] = (32, 32), identity_classes: Sequence[str] = (),
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        unknown = sorted(set(identity_classes) - set(class_names))
        if unknown:
            raise ValueError(f"ClocsFuser.identity_classes {unknown} not in {tuple(class_names)}")
        self.class_names = tuple(class_names)
        self.identity_classes = tuple(identity_classes)
        num_classes = len(class_names)
        layers: list[nn.Module] = []
        width = len(FEATURES) + num_classes
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU(inplace=True)]
            width = h
        last = nn.Linear(width, 1)
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
        layers.append(last)
        self.mlp = nn.Sequential(*layers)
        self.num_features = len(FEATURES) + num_classes

    def logits(self, candidates: Candidates) -> torch.Tensor:
        """``(N_3d,)`` fused logits: max over each 3D detection's candidate entries."""
        if candidates.num_features != self.num_features:
            raise ValueError(f"ClocsFuser expects {self.num_features} features per candidate, "
                             f"got {candidates.num_features}")
        device = next(self.parameters()).device
        features = candidates.features.to(device)
        score_3d = features[:, FEATURES.index("score_3d")].clamp(1e-4, 1 - 1e-4)
        onehot = features[:, len(FEATURES):]
        gate = 1.0 - onehot[:, [self.class_names.index(c) for c in self.identity_classes]].sum(dim=1)
        entry = torch.logit(score_3d) + gate * self.mlp(features).squeeze(1)
        out = torch.full((candidates.num_3d,), float("-inf"), device=device, dtype=entry.dtype)
        return out.scatter_reduce(0, candidates.index[:, 0].to(device), entry, reduce="amax", include_self=True)

    @torch.no_grad()
    def score(self, inputs: FusionInputs) -> torch.Tensor:
        """The scorer interface of :class:`LateFusion`: ``(N_3d,)`` fused scores in ``[0, 1]`` (on the CPU)."""
        was_training = self.training
        self.eval()
        scores = self.logits(inputs.candidates).sigmoid().cpu()
        self.train(was_training)
        return scores

    def forward(self, inputs: list, data_samples: Optional[list] = None, mode: str = "tensor"):
        """``inputs``: per-frame :class:`Candidates`; ``data_samples``: per-frame ``(N_3d,)`` float targets."""
        logits = [self.logits(c) for c in inputs]
        if mode == "tensor":
            return logits
        if mode == "predict":
            return [x.sigmoid() for x in logits]
        if mode != "loss":
            raise ValueError(f"ClocsFuser.forward: unknown mode {mode!r}")
        if data_samples is None:
            raise ValueError("ClocsFuser loss needs the targets as data_samples")
        logit = torch.cat(logits)
        target = torch.cat([t.to(logit.device).float() for t in data_samples])
        if logit.numel() == 0:
            return {"loss_fusion": sum(p.sum() * 0 for p in self.parameters())}
        return {"loss_fusion": nn.functional.binary_cross_entropy_with_logits(logit, target)}
