"""Losses of the panoptic head.

* :func:`semantic_loss` -- weighted cross-entropy with hard-pixel mining (Panoptic-DeepLab's top-k);
* :func:`center_loss`, :func:`offset_loss` -- instance centre heatmap (MSE) and centre offsets (L1);
* :func:`point_label_map` + cross-entropy -- the guide branch's loss on the (slightly expanded) points;
* :func:`color_affinity_loss` -- neighbours of similar colour should take the same class (the low-level prior
  that lets point supervision spread to whole regions);
* :func:`embedding_contrast_loss` -- the instance embedding at each point must be closest to the mean embedding
  of that point's pseudo segment (instance-discriminative features for the traversing cost).
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from .pseudo_labels import ImagePoints
from .traversal import neighbour_pairs

__all__ = ["semantic_loss", "center_loss", "offset_loss", "point_label_map", "color_affinity_loss",
           "embedding_contrast_loss"]


def semantic_loss(logits: Tensor, target: Tensor, weight: Tensor, *, top_k: float = 1.0,
                  ignore_index: int = 255) -> Tensor:
    """Weighted cross-entropy averaged over the hardest ``top_k`` fraction of the labelled pixels.

    Args:
        logits: ``(B, C, H, W)``; target: ``(B, H, W)`` class indices; weight: ``(B, H, W)`` (0 = unlabelled).
    """
    if not 0.0 < top_k <= 1.0:
        raise ValueError(f"top_k must be in (0, 1], got {top_k}")
    safe_target = torch.where(target == ignore_index, torch.zeros_like(target), target)  # weight 0 there
    per_pixel = F.cross_entropy(logits, safe_target, reduction="none")
    per_pixel = (per_pixel * weight).reshape(-1)
    labelled = weight.reshape(-1) > 0
    n = int(labelled.sum())
    if n == 0:
        return logits.sum() * 0.0
    values = per_pixel[labelled]
    if top_k < 1.0:
        values = values.topk(max(1, int(round(top_k * n)))).values
    return values.mean()


def center_loss(pred: Tensor, target: Tensor, weight: Tensor) -> Tensor:
    """Weighted mean squared error of the centre heatmap: ``pred (B, 1, H, W)``, ``target``/``weight``
    ``(B, H, W)``."""
    err = (pred[:, 0] - target) ** 2 * weight
    return err.sum() / weight.sum().clamp(min=1.0)


def offset_loss(pred: Tensor, target: Tensor, weight: Tensor) -> Tensor:
    """L1 of the ``(B, 2, H, W)`` offsets (input pixels) averaged over the weighted (thing) pixels."""
    err = (pred - target).abs().sum(1) * weight
    return err.sum() / weight.sum().clamp(min=1.0)


def point_label_map(points: ImagePoints, shape: tuple[int, int], *, expand: int | Sequence[int] = 1,
                    ignore_index: int = 255) -> Tensor:
    """``(H, W)`` label map with each point's class on the ``e x e`` window around it (odd ``e``: one ``expand`` for
    all points, or one per point); pixels claimed by two points of different classes and all other pixels are
    ``ignore_index``."""
    sizes = [int(expand)] * len(points) if isinstance(expand, int) else [int(e) for e in expand]
    if len(sizes) != len(points) or any(e < 1 or e % 2 == 0 for e in sizes):
        raise ValueError(f"expand must be positive odd numbers, one per point or one for all, got {expand}")
    h, w = shape
    dev = points.coords.device
    out = torch.full((h, w), ignore_index, dtype=torch.long, device=dev)
    if len(points) == 0:
        return out
    conflict = torch.zeros((h, w), dtype=torch.bool, device=dev)
    for (x, y), c, e in zip(points.coords.tolist(), points.labels.tolist(), sizes):
        r = e // 2
        y0, y1, x0, x1 = max(0, y - r), min(h, y + r + 1), max(0, x - r), min(w, x + r + 1)
        win = out[y0:y1, x0:x1]
        conflict[y0:y1, x0:x1] |= (win != ignore_index) & (win != c)
        win[win == ignore_index] = c
    out[conflict] = ignore_index
    out[points.coords[:, 1], points.coords[:, 0]] = points.labels.to(dev).long()  # the points themselves win
    return out


def color_affinity_loss(logits: Tensor, lab: Tensor, *, theta: float = 2.0, threshold: float = 0.3,
                        valid: Tensor | None = None) -> Tensor:
    """Pairwise colour prior: for 8-neighbours ``u, v`` of similar colour (``exp(-||lab_u - lab_v|| / theta) >=
    threshold``) maximise the probability that both take the same class, ``sum_c p_c(u) p_c(v)``.

    Args:
        logits: ``(B, C, h, w)`` class logits; lab: ``(B, 3, h, w)`` Lab image at the same resolution.
        valid: ``(B, h, w)`` bool, pixels inside the image (padding excluded); default all.
    """
    log_p = F.log_softmax(logits, dim=1)
    log_same = torch.logsumexp(log_p.unsqueeze(1) + neighbour_pairs(log_p), dim=2)  # (B, 4, h, w)
    sim = torch.exp(-(lab.unsqueeze(1) - neighbour_pairs(lab)).norm(dim=2) / theta)
    inside = neighbour_pairs(torch.ones_like(lab[:, :1]))[:, :, 0] > 0  # the neighbour exists
    if valid is not None:
        v = valid.float().unsqueeze(1)
        inside &= (v > 0) & (neighbour_pairs(v)[:, :, 0] > 0)
    w = ((sim >= threshold) & inside).float()
    return -(log_same * w).sum() / w.sum().clamp(min=1.0)


def embedding_contrast_loss(embedding: Tensor, owners: Sequence[Tensor], points: Sequence[ImagePoints], *,
                            stride: int, temperature: float = 0.07) -> Tensor:
    """Point-to-prototype contrastive loss of unit-length embeddings.

    For each image: the prototype of point ``k`` is the (re-normalised) mean embedding over the grid cells that
    the pseudo labels give to ``k``; the embedding at point ``k``'s cell must pick prototype ``k`` among all
    prototypes of the image (softmax cross-entropy, temperature ``temperature``).  Images with fewer than two
    points with a region contribute nothing.

    Args:
        embedding: ``(B, D, h, w)`` unit-length embeddings (grid of ``stride`` input pixels).
        owners: per image ``(h, w)`` int64 index of the owning point per grid cell, -1 for none.
        points: per image the points (input pixels).
    """
    losses = []
    for emb, own, pts in zip(embedding, owners, points):
        k = len(pts)
        if k < 2:
            continue
        d, h, w = emb.shape
        flat = emb.reshape(d, -1)
        o = own.reshape(-1)
        sel = o >= 0
        proto = torch.zeros((k, d), device=emb.device, dtype=emb.dtype).index_add_(0, o[sel], flat[:, sel].t())
        count = torch.zeros(k, device=emb.device).index_add_(0, o[sel], torch.ones_like(o[sel], dtype=torch.float))
        has = count > 0
        if int(has.sum()) < 2:
            continue
        proto = F.normalize(proto[has], dim=1)
        cols = (pts.coords[:, 0] // stride).clamp(max=w - 1)
        rows = (pts.coords[:, 1] // stride).clamp(max=h - 1)
        query = emb[:, rows, cols].t()[has]  # (k', D)
        logits = query @ proto.t() / temperature
        losses.append(F.cross_entropy(logits, torch.arange(len(proto), device=emb.device)))
    if not losses:
        return embedding.sum() * 0.0
    return torch.stack(losses).mean()
