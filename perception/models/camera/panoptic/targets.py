"""Training targets of the panoptic head (Panoptic-DeepLab style) from a label map.

One function serves the three supervision modes: full panoptic masks, pseudo labels parsed from points, and the
naive point-only baseline (labels only at the points, instance centres at the points).
"""
from __future__ import annotations

import dataclasses
from typing import Optional

import torch
from torch import Tensor

__all__ = ["PanopticTargets", "panoptic_targets", "stack_targets"]


@dataclasses.dataclass
class PanopticTargets:
    """Per-pixel targets of one image (or a batch: a leading ``B`` axis), input pixels.

    Attributes:
        semantic: ``(H, W)`` int64 class index, ``ignore_index`` where unlabelled.
        semantic_weight: ``(H, W)`` float, 0 where unlabelled, ``small_instance_weight`` on small things.
        center: ``(H, W)`` float centre heatmap (max over instances of a Gaussian at each centre).
        center_weight: ``(H, W)`` float, 1 where the heatmap is supervised.
        offset: ``(2, H, W)`` float ``[dx, dy]`` from the pixel to its instance's centre, in input pixels.
        offset_weight: ``(H, W)`` float, 1 on the pixels of thing instances.
        centers: ``(N, 2)`` float ``[x, y]`` instance centres (NaN for instances without pixels and no
            given centre).
    """

    semantic: Tensor
    semantic_weight: Tensor
    center: Tensor
    center_weight: Tensor
    offset: Tensor
    offset_weight: Tensor
    centers: Tensor


def panoptic_targets(semantic: Tensor, instance: Tensor, *, num_instances: Optional[int] = None,
                     centers: Optional[Tensor] = None, ignore_index: int = 255, sigma: float = 4.0,
                     small_instance_area: int = 256, small_instance_weight: float = 3.0) -> PanopticTargets:
    """Targets from a label map.

    Args:
        semantic: ``(H, W)`` int64 class indices (``ignore_index``: unlabelled).
        instance: ``(H, W)`` int64 thing-instance index ``0..N-1`` per pixel, -1 for stuff / unlabelled.
        num_instances: ``N`` (default: ``instance.max() + 1``, or ``len(centers)``).
        centers: ``(N, 2)`` ``[x, y]`` explicit centres (e.g. the labelled points); default: each instance's
            centre of mass.
        sigma: Gaussian standard deviation of the centre heatmap, input pixels.
        small_instance_area: things of fewer pixels get ``small_instance_weight`` in the semantic loss.
    """
    if semantic.shape != instance.shape or semantic.dim() != 2:
        raise ValueError(f"semantic {tuple(semantic.shape)} and instance {tuple(instance.shape)} must be (H, W)")
    h, w = semantic.shape
    dev = semantic.device
    if num_instances is None:
        num_instances = len(centers) if centers is not None else int(instance.max().clamp(min=-1).item()) + 1
    n = int(num_instances)
    ys, xs = torch.meshgrid(torch.arange(h, device=dev, dtype=torch.float32),
                            torch.arange(w, device=dev, dtype=torch.float32), indexing="ij")
    inst = instance.reshape(-1)
    valid = inst >= 0
    if valid.any() and int(inst.max()) >= n:
        raise ValueError(f"instance index {int(inst.max())} >= num_instances {n}")
    idx = inst[valid]
    area = torch.zeros(n, device=dev).index_add_(0, idx, torch.ones_like(idx, dtype=torch.float32))
    if centers is None:
        sx = torch.zeros(n, device=dev).index_add_(0, idx, xs.reshape(-1)[valid])
        sy = torch.zeros(n, device=dev).index_add_(0, idx, ys.reshape(-1)[valid])
        ctr = torch.stack([sx, sy], 1) / area.clamp(min=1).unsqueeze(1)
        ctr[area == 0] = float("nan")
    else:
        ctr = centers.to(dev).float().reshape(n, 2)

    sem_weight = (semantic != ignore_index).float()
    small = (area > 0) & (area < small_instance_area)
    if small.any():
        on_small = torch.zeros_like(inst, dtype=torch.bool)
        on_small[valid] = small[idx]
        sem_weight = torch.where(on_small.view(h, w) & (sem_weight > 0), sem_weight * small_instance_weight,
                                 sem_weight)

    heat = torch.zeros((h, w), device=dev)
    radius = int(3 * sigma + 1)
    for cx, cy in ctr.tolist():
        if cx != cx:  # NaN: an instance without pixels
            continue
        x0, x1 = max(0, int(cx) - radius), min(w, int(cx) + radius + 1)
        y0, y1 = max(0, int(cy) - radius), min(h, int(cy) + radius + 1)
        if x0 >= x1 or y0 >= y1:
            continue
        g = torch.exp(-((xs[y0:y1, x0:x1] - cx) ** 2 + (ys[y0:y1, x0:x1] - cy) ** 2) / (2 * sigma ** 2))
        heat[y0:y1, x0:x1] = torch.maximum(heat[y0:y1, x0:x1], g)

    offset = torch.zeros((2, h * w), device=dev)
    off_weight = torch.zeros(h * w, device=dev)
    has_ctr = ~torch.isnan(ctr[:, 0]) if n else torch.zeros(0, dtype=torch.bool, device=dev)
    if valid.any():
        pix = torch.nonzero(valid).squeeze(1)
        ok = has_ctr[idx]
        pix, own = pix[ok], idx[ok]
        offset[0, pix] = ctr[own, 0] - xs.reshape(-1)[pix]
        offset[1, pix] = ctr[own, 1] - ys.reshape(-1)[pix]
        off_weight[pix] = 1.0
    return PanopticTargets(semantic=semantic, semantic_weight=sem_weight, center=heat,
                           center_weight=torch.ones((h, w), device=dev), offset=offset.view(2, h, w),
                           offset_weight=off_weight.view(h, w), centers=ctr)


def stack_targets(targets: list[PanopticTargets], shape: tuple[int, int], ignore_index: int = 255) -> PanopticTargets:
    """Pad each image's targets to ``shape`` (the padded batch input; padding is unsupervised) and stack them
    with a leading batch axis.  ``centers`` becomes a list-free ``(0, 2)`` placeholder."""
    H, W = shape

    def pad(t: Tensor, value: float) -> Tensor:
        h, w = t.shape[-2:]
        out = t.new_full(t.shape[:-2] + (H, W), value)
        out[..., :h, :w] = t
        return out

    return PanopticTargets(
        semantic=torch.stack([pad(t.semantic, ignore_index) for t in targets]),
        semantic_weight=torch.stack([pad(t.semantic_weight, 0.0) for t in targets]),
        center=torch.stack([pad(t.center, 0.0) for t in targets]),
        center_weight=torch.stack([pad(t.center_weight, 0.0) for t in targets]),
        offset=torch.stack([pad(t.offset, 0.0) for t in targets]),
        offset_weight=torch.stack([pad(t.offset_weight, 0.0) for t in targets]),
        centers=targets[0].centers.new_zeros((0, 2)) if targets else torch.zeros((0, 2)))
