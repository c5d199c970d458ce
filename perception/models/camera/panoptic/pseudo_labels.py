"""Panoptic pseudo labels from point labels by minimum traversing distance (Fan et al., ECCV 2022, Sec. 3).

Every pixel is given to one of the image's labelled points (a thing instance or a stuff region).  The cost of
giving pixel ``x`` to point ``k`` (class ``c_k``) is

    cost_k(x) = D_k(x) + w_cls * -log p_{c_k}(x)

* ``D_k(x)``, the *traversing distance*: the cheapest 8-connected path from the point to ``x`` on a coarse grid
  (the network's stride-4 output), where stepping between neighbours ``u, v`` costs

      w_step * |u - v| + w_sem * 0.5 * ||p(u) - p(v)||_1 + w_bnd * max(b(u), b(v)) + w_emb * 0.5 * (1 - <e(u), e(v)>)

  with ``p`` the class probabilities of the network's point-supervised (guide) semantic branch (semantic
  similarity), ``b`` the colour-boundary map of the image (low-level cue) and ``e`` the network's unit-length
  instance embedding (instance cue).  Paths are cheap inside one homogeneous object and expensive across class
  changes, image edges and embedding changes, so neighbouring instances of one class are separated where they
  meet.
* ``-log p_{c_k}(x)``: the point's class must be likely at ``x`` (so a pixel is not handed to a point of another
  class just because it is near).

``x`` takes the point of least cost.  Pixels whose chosen class has probability below ``min_class_prob`` (or whose
cost exceeds ``max_cost``) are left unlabelled (``ignore_index``); each point's own pixel always keeps its label.
Distances are computed on the grid and upsampled bilinearly; the assignment is made at input resolution.
"""
from __future__ import annotations

import dataclasses
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from .traversal import GRID_OFFSETS, neighbour_pairs, traversal_distances

__all__ = ["ImagePoints", "PseudoPanoptic", "PointPseudoLabeler"]


@dataclasses.dataclass
class ImagePoints:
    """The point labels of one image, in input pixels.

    Attributes:
        coords: ``(K, 2)`` int64 ``[x, y]`` pixel column / row.
        labels: ``(K,)`` int64 class indices (the model's contiguous labels).
        isthing: ``(K,)`` bool.
    """

    coords: Tensor
    labels: Tensor
    isthing: Tensor

    def __post_init__(self):
        k = self.coords.shape[0]
        if self.coords.shape != (k, 2) or self.labels.shape != (k,) or self.isthing.shape != (k,):
            raise ValueError(f"ImagePoints: expected coords (K, 2), labels (K,), isthing (K,), got "
                             f"{tuple(self.coords.shape)}, {tuple(self.labels.shape)}, {tuple(self.isthing.shape)}")

    def __len__(self) -> int:
        return int(self.coords.shape[0])


@dataclasses.dataclass
class PseudoPanoptic:
    """Pseudo labels of one image at input resolution ``(H, W)``.

    Attributes:
        semantic: ``(H, W)`` int64 class index, ``ignore_index`` where unlabelled.
        instance: ``(H, W)`` int64 index of the thing point owning the pixel, -1 for stuff and unlabelled pixels.
        point: ``(H, W)`` int64 index of the point of least cost (before ignoring), -1 if the image has no point.
        cost: ``(H, W)`` float the least cost.
    """

    semantic: Tensor
    instance: Tensor
    point: Tensor
    cost: Tensor


@dataclasses.dataclass
class PointPseudoLabeler:
    """Parses point labels into panoptic pseudo labels (see the module docstring for the costs).

    Attributes:
        step: ``w_step``, cost per grid step (1 for a side step, sqrt(2) diagonally).
        semantic: ``w_sem``, weight of the class-probability change between neighbours.
        boundary: ``w_bnd``, weight of the colour-boundary strength.
        embedding: ``w_emb``, weight of the instance-embedding change (ignored when no embedding is given).
        class_cost: ``w_cls``, weight of ``-log p`` of the point's class at the pixel.
        min_class_prob: pixels whose assigned class has a lower probability are unlabelled.
        max_cost: pixels of a higher least cost are unlabelled (``None``: no limit).
        stuff_distance: factor on the traversing distance of stuff points (0: a stuff region is claimed by its
            class probability alone, however far its point is).
        prob_floor: probabilities are clamped to at least this before the log.
        ignore_index: label of unlabelled pixels.
    """

    step: float = 0.01
    semantic: float = 1.0
    boundary: float = 0.5
    embedding: float = 0.5
    class_cost: float = 1.0
    min_class_prob: float = 0.5
    max_cost: Optional[float] = None
    stuff_distance: float = 1.0
    prob_floor: float = 1e-4
    ignore_index: int = 255

    def edge_costs(self, probs: Tensor, boundary: Tensor, embedding: Optional[Tensor] = None) -> Tensor:
        """``(4, h, w)`` costs of the grid edges (:data:`~.traversal.GRID_OFFSETS`).

        Args:
            probs: ``(C, h, w)`` class probabilities.
            boundary: ``(h, w)`` boundary strength in ``[0, 1]``.
            embedding: ``(D, h, w)`` unit-length embeddings, or ``None``.
        """
        h, w = probs.shape[-2:]
        if boundary.shape != (h, w):
            raise ValueError(f"boundary map {tuple(boundary.shape)} does not match the probabilities ({h}, {w})")
        lengths = probs.new_tensor([float((dy * dy + dx * dx) ** 0.5) for dy, dx in GRID_OFFSETS]).view(4, 1, 1)
        cost = self.step * lengths.expand(4, h, w).clone()
        if self.semantic:
            cost += self.semantic * 0.5 * (probs.unsqueeze(0) - neighbour_pairs(probs)).abs().sum(1)
        if self.boundary:
            cost += self.boundary * torch.maximum(boundary.unsqueeze(0), neighbour_pairs(boundary[None])[:, 0])
        if self.embedding and embedding is not None:
            if embedding.shape[-2:] != (h, w):
                raise ValueError(f"embedding {tuple(embedding.shape)} does not match the probabilities ({h}, {w})")
            dot = (embedding.unsqueeze(0) * neighbour_pairs(embedding)).sum(1)
            cost += self.embedding * 0.5 * (1.0 - dot).clamp(min=0.0)
        return cost

    @torch.no_grad()
    def __call__(self, probs: Tensor, boundary: Tensor, points: ImagePoints, *, stride: int,
                 out_shape: tuple[int, int], embedding: Optional[Tensor] = None,
                 fine_probs: Optional[Tensor] = None) -> PseudoPanoptic:
        """Pseudo labels of one image.

        Args:
            probs: ``(C, h, w)`` class probabilities on the grid (cell ``(i, j)`` covers input pixels
                ``[i*stride, (i+1)*stride) x [j*stride, (j+1)*stride)``).  Classes without a point in the image
                should already be zeroed (see :meth:`point_class_probs`).
            boundary: ``(h, w)`` boundary map on the grid.
            points: the image's points (input pixels).
            stride: input pixels per grid cell.
            out_shape: ``(H, W)`` input size, ``H <= h * stride`` and ``W <= w * stride``.
            embedding: ``(D, h, w)`` unit-length instance embeddings, optional.
            fine_probs: ``(C, H, W)`` class probabilities at input resolution for the class cost (default: the
                grid's, upsampled bilinearly).
        """
        c, h, w = probs.shape
        H, W = out_shape
        if H > h * stride or W > w * stride:
            raise ValueError(f"out_shape {out_shape} exceeds the grid {h}x{w} at stride {stride}")
        dev = probs.device
        if len(points) == 0:
            semantic = torch.full((H, W), self.ignore_index, dtype=torch.long, device=dev)
            minus = torch.full((H, W), -1, dtype=torch.long, device=dev)
            return PseudoPanoptic(semantic=semantic, instance=minus, point=minus.clone(),
                                  cost=torch.zeros((H, W), device=dev))
        coords = points.coords.to(dev).long()
        labels = points.labels.to(dev).long()
        if (labels < 0).any() or (labels >= c).any():
            raise ValueError(f"point labels must be class indices in [0, {c}), got {labels.tolist()}")
        if (coords[:, 0] < 0).any() or (coords[:, 0] >= W).any() or (coords[:, 1] < 0).any() or \
                (coords[:, 1] >= H).any():
            raise ValueError(f"point coordinates must lie in the {W}x{H} input, got {coords.tolist()}")
        cells = torch.stack([(coords[:, 1] // stride).clamp(max=h - 1), (coords[:, 0] // stride).clamp(max=w - 1)], 1)
        grid_probs = probs.float().clone()
        grid_probs[:, cells[:, 0], cells[:, 1]] = 0.0  # a point's cell is certain of its class
        grid_probs[labels, cells[:, 0], cells[:, 1]] = 1.0
        costs = self.edge_costs(grid_probs, boundary.float(), None if embedding is None else embedding.float())
        dist = traversal_distances(costs, cells[:, 0] * w + cells[:, 1])
        dist = torch.as_tensor(dist, dtype=torch.float32, device=dev)
        dist = F.interpolate(dist[None], size=(h * stride, w * stride), mode="bilinear", align_corners=False)[0]
        dist = dist[:, :H, :W]
        if fine_probs is None:
            up = F.interpolate(grid_probs[None], size=(h * stride, w * stride), mode="bilinear",
                               align_corners=False)[0, :, :H, :W]
        else:
            if tuple(fine_probs.shape) != (c, H, W):
                raise ValueError(f"fine_probs must be ({c}, {H}, {W}), got {tuple(fine_probs.shape)}")
            up = fine_probs.float()
        point_prob = up[labels]  # (K, H, W): probability of each point's class
        isthing = points.isthing.to(dev).bool()
        if self.stuff_distance != 1.0:
            dist = dist * torch.where(isthing, 1.0, self.stuff_distance).view(-1, 1, 1)
        cost = dist + self.class_cost * -torch.log(point_prob.clamp(min=self.prob_floor))
        best_cost, best = cost.min(0)
        semantic = labels[best]
        chosen_prob = point_prob.gather(0, best[None])[0]
        ignore = chosen_prob < self.min_class_prob
        if self.max_cost is not None:
            ignore |= best_cost > self.max_cost
        # every point keeps its own pixel (overriding ignore and a cheaper neighbour point)
        best[coords[:, 1], coords[:, 0]] = torch.arange(len(points), device=dev)
        semantic[coords[:, 1], coords[:, 0]] = labels
        ignore[coords[:, 1], coords[:, 0]] = False
        semantic = torch.where(ignore, torch.full_like(semantic, self.ignore_index), semantic)
        instance = torch.where(isthing[best] & ~ignore, best, torch.full_like(best, -1))
        return PseudoPanoptic(semantic=semantic, instance=instance, point=best, cost=best_cost)

    @staticmethod
    def point_class_probs(logits: Tensor, points: ImagePoints) -> Tensor:
        """Softmax over the classes that have a point in the image (the others get probability 0):
        ``(C, h, w)`` logits -> ``(C, h, w)`` probabilities.  Every segment of an image has a point, so a class
        without one is absent."""
        present = torch.zeros(logits.shape[0], dtype=torch.bool, device=logits.device)
        present[points.labels.to(logits.device).long()] = True
        masked = logits.float().masked_fill(~present.view(-1, 1, 1), float("-inf"))
        if not present.any():
            return torch.zeros_like(logits, dtype=torch.float32)
        return masked.softmax(0)
