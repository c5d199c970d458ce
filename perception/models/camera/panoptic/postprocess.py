"""Panoptic-DeepLab post-processing: semantic logits + centre heatmap + offsets -> a panoptic segmentation.

1. Semantic label per pixel: argmax of the logits.
2. Instance centres: local maxima of the heatmap (``nms_kernel`` max-pooling) above ``center_threshold``, the
   ``top_k`` strongest.
3. Every thing pixel votes for ``pixel + offset`` and joins the nearest centre; an instance's class is the
   majority of its pixels' thing labels.  Thing pixels with no centre at all become void.
4. Stuff: one segment per stuff class, from the pixels labelled with it.
5. Segments smaller than ``thing_min_area`` / ``stuff_min_area`` pixels become void.
"""
from __future__ import annotations

import dataclasses
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from perception.structures.panoptic_result import PanopticSegment

__all__ = ["PanopticPostProcessor"]


@dataclasses.dataclass
class PanopticPostProcessor:
    """Turns the head's maps into a segment-id map (see the module docstring).

    Attributes:
        category_ids: COCO category id of each class index.
        thing_classes: class indices that are things.
        center_threshold, nms_kernel, top_k: centre extraction.
        thing_min_area, stuff_min_area: smaller segments become void (pixels of the map given).
    """

    category_ids: Sequence[int]
    thing_classes: Sequence[int]
    center_threshold: float = 0.1
    nms_kernel: int = 7
    top_k: int = 100
    thing_min_area: int = 4
    stuff_min_area: int = 64

    def centers(self, heat: Tensor) -> Tensor:
        """``(H, W)`` heatmap -> ``(N, 3)`` ``[x, y, score]`` of the kept peaks, strongest first."""
        pooled = F.max_pool2d(heat[None, None], self.nms_kernel, stride=1, padding=self.nms_kernel // 2)[0, 0]
        peak = (heat == pooled) & (heat > self.center_threshold)
        ys, xs = torch.nonzero(peak, as_tuple=True)
        scores = heat[ys, xs]
        order = scores.argsort(descending=True)[:self.top_k]
        return torch.stack([xs[order].float(), ys[order].float(), scores[order]], 1)

    @torch.no_grad()
    def __call__(self, sem_logits: Tensor, center: Tensor, offset: Tensor) -> tuple[Tensor, list[PanopticSegment]]:
        """Args: ``sem_logits (C, H, W)``, ``center (H, W)``, ``offset (2, H, W)`` ``[dx, dy]`` pixels.
        Returns: ``(H, W)`` int64 segment ids (0 void, then 1, 2, ...) and the segments."""
        c, h, w = sem_logits.shape
        dev = sem_logits.device
        probs = sem_logits.float().softmax(0)
        conf, sem = probs.max(0)
        is_thing_cls = torch.zeros(c, dtype=torch.bool, device=dev)
        is_thing_cls[list(self.thing_classes)] = True
        thing_px = is_thing_cls[sem]
        ids = torch.zeros((h, w), dtype=torch.long, device=dev)
        segments: list[PanopticSegment] = []
        ctr = self.centers(center.float())
        if len(ctr) and thing_px.any():
            ys, xs = torch.nonzero(thing_px, as_tuple=True)
            vx = xs.float() + offset[0, ys, xs].float()
            vy = ys.float() + offset[1, ys, xs].float()
            d = (vx[:, None] - ctr[None, :, 0]) ** 2 + (vy[:, None] - ctr[None, :, 1]) ** 2
            owner = d.argmin(1)
            for n in range(len(ctr)):
                sel = owner == n
                area = int(sel.sum())
                if area < max(1, self.thing_min_area):
                    continue
                labels = sem[ys[sel], xs[sel]]
                cls = int(torch.bincount(labels, minlength=c).argmax())
                seg_id = len(segments) + 1
                ids[ys[sel], xs[sel]] = seg_id
                score = float(ctr[n, 2]) * float(conf[ys[sel], xs[sel]].mean())
                segments.append(PanopticSegment(id=seg_id, category_id=int(self.category_ids[cls]), isthing=True,
                                                area=area, score=score))
        for cls in range(c):
            if is_thing_cls[cls]:
                continue
            sel = sem == cls
            area = int(sel.sum())
            if area == 0 or area < self.stuff_min_area:
                continue
            seg_id = len(segments) + 1
            ids[sel] = seg_id
            segments.append(PanopticSegment(id=seg_id, category_id=int(self.category_ids[cls]), isthing=False,
                                            area=area, score=float(conf[sel].mean())))
        return ids, segments
