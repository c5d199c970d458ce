"""``PanopticHead``: a Panoptic-DeepLab-style head trained from full masks, from points (via pseudo labels), or
naively from the points alone.

Architecture (all at stride 4 of the input, on :class:`~.decoder.PanopticFPNDecoder`'s fused map; each branch
is a 3x3 conv + BN + ReLU and a 1x1 conv, centre and offset share their 3x3 conv)::

    semantic  (C)   class logits                       -> stuff segments and the class of thing pixels
    center    (1)   instance-centre heatmap            -> instance seeds
    offset    (2)   [dx, dy] from a pixel to its centre -> groups thing pixels into instances
    guide     (C)   point-supervised class logits       } only with supervision="points", 1x1 convs: the
    embedding (E)   unit-length instance embedding      } pseudo-label parser's inputs (unused at inference)

Supervision (``supervision``):

* ``"full"`` -- targets from the ground-truth panoptic masks (the upper bound);
* ``"points"`` -- the method of Fan et al. (ECCV 2022): the guide branch learns from the points (slightly
  expanded, :func:`~.losses.point_label_map`) and a colour-affinity prior; the embedding learns to tell the
  points' pseudo segments apart; each iteration :class:`~.pseudo_labels.PointPseudoLabeler` parses the points
  into panoptic pseudo labels with the (detached) guide probabilities, the image's colour boundaries and the
  embeddings, and the semantic / centre / offset branches learn from those (their weight ramps up linearly over
  ``warmup_iters`` while the guide becomes meaningful);
* ``"points_naive"`` -- the baseline without pseudo masks: semantic loss on the labelled pixels only, centre
  heatmap from the thing points, offsets only at the points.

Data samples must carry ``gt_points`` (``InstanceData``: ``coords (K, 2)`` int64 ``[x, y]`` input pixels,
``labels (K,)`` class indices, ``isthing (K,)``) for the point modes, or ``gt_panoptic`` (``PixelData`` with
``ids (1, H, W)`` segment ids at input resolution) and ``metainfo['gt_segments_info']`` (``id``, ``label``,
``isthing``, ``iscrowd``) for ``"full"``; see :class:`perception.datasets.transforms.PackPanopticInputs`.
"""
from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from torch import Tensor, nn

from perception.registry import MODELS

from .decoder import PanopticFPNDecoder
from .image_cues import boundary_map, rgb_to_lab
from .losses import (center_loss, color_affinity_loss, embedding_contrast_loss, offset_loss, point_label_map,
                     semantic_loss)
from perception.structures.panoptic_result import PanopticResult, PanopticSegment
from .postprocess import PanopticPostProcessor
from .pseudo_labels import ImagePoints, PointPseudoLabeler, PseudoPanoptic
from .targets import PanopticTargets, panoptic_targets, stack_targets

__all__ = ["PanopticHead", "default_categories"]

SUPERVISION_MODES = ("full", "points", "points_naive")
_DEFAULT_LOSS_WEIGHTS = {"semantic": 1.0, "center": 200.0, "offset": 0.02, "guide": 1.0, "affinity": 1.0,
                         "embedding": 0.1}


def default_categories() -> list[dict]:
    """The simulator's categories as COCO dicts (``id``, ``name``, ``isthing``, ``color``)."""
    from perception.datasets.sim.categories import coco_categories

    return coco_categories()


def _cat_get(c: Any, key: str):
    return c[key] if isinstance(c, Mapping) else getattr(c, key)


def _branch(in_channels: int, mid: int, out: int, norm_cfg: dict) -> nn.Sequential:
    return nn.Sequential(ConvModule(in_channels, mid, 3, padding=1, norm_cfg=norm_cfg), nn.Conv2d(mid, out, 1))


@MODELS.register_module()
class PanopticHead(BaseModule):
    """See the module docstring.

    Args:
        in_channels, in_strides: the backbone levels fed to the decoder.
        supervision: ``"full"``, ``"points"`` or ``"points_naive"``.
        categories: COCO categories (dicts or objects with ``id``, ``isthing``) in class-index order; default
            the simulator's.
        channels: decoder width; head_channels: width of each branch's 3x3 conv.
        embedding_dims: instance-embedding size (``"points"`` only).
        point_expand: the guide's point labels cover ``e x e`` input pixels around each point: one odd ``e`` for
            all points or ``dict(thing=e_thing, stuff=e_stuff)`` (stuff points lie deep inside large regions, thing
            points inside small objects, and a larger stuff window also balances the guide's class prior).
        warmup_iters: ramp of the pseudo-label losses (``"points"`` only).
        loss_weights: overrides of ``semantic`` 1, ``center`` 200, ``offset`` 0.02, ``guide`` 1, ``affinity`` 1,
            ``embedding`` 0.1.
        semantic_top_k: fraction of hardest labelled pixels averaged by the semantic loss.
        pseudo_centers: ``"mass"`` (centres of mass of the pseudo masks, as with full supervision) or ``"points"``
            (the labelled thing points are the centres of the centre / offset targets: certain to lie inside their
            objects); ``"points"`` supervision only.
        target_cfg: :func:`~.targets.panoptic_targets` options (``sigma``, ``small_instance_area``,
            ``small_instance_weight``).
        pseudo_label_cfg: :class:`~.pseudo_labels.PointPseudoLabeler` fields.
        affinity_cfg: :func:`~.losses.color_affinity_loss` options (``theta``, ``threshold``).
        postprocess_cfg: :class:`~.postprocess.PanopticPostProcessor` fields (not the categories).
    """

    def __init__(self, *, in_channels: Sequence[int], in_strides: Sequence[int], supervision: str = "points",
                 categories: Optional[Sequence] = None, channels: int = 64, head_channels: int = 64,
                 embedding_dims: int = 8, point_expand: int | Mapping[str, int] = 5, warmup_iters: int = 300,
                 loss_weights: Optional[Mapping[str, float]] = None, semantic_top_k: float = 0.2,
                 pseudo_centers: str = "mass",
                 target_cfg: Optional[Mapping] = None, pseudo_label_cfg: Optional[Mapping] = None,
                 affinity_cfg: Optional[Mapping] = None, postprocess_cfg: Optional[Mapping] = None,
                 norm_cfg: Optional[dict] = None, ignore_index: int = 255, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        if supervision not in SUPERVISION_MODES:
            raise ValueError(f"supervision must be one of {SUPERVISION_MODES}, got {supervision!r}")
        self.supervision = supervision
        cats = list(categories) if categories is not None else default_categories()
        if not cats:
            raise ValueError("PanopticHead needs at least one category")
        self.category_ids = tuple(int(_cat_get(c, "id")) for c in cats)
        self.class_isthing = tuple(bool(int(_cat_get(c, "isthing"))) for c in cats)
        self.num_classes = len(cats)
        self.ignore_index = int(ignore_index)
        unknown = set(loss_weights or {}) - set(_DEFAULT_LOSS_WEIGHTS)
        if unknown:
            raise ValueError(f"unknown loss_weights {sorted(unknown)}; known: {sorted(_DEFAULT_LOSS_WEIGHTS)}")
        self.loss_weights = {**_DEFAULT_LOSS_WEIGHTS, **dict(loss_weights or {})}
        self.semantic_top_k = float(semantic_top_k)
        if isinstance(point_expand, Mapping):
            if set(point_expand) != {"thing", "stuff"}:
                raise ValueError(f"point_expand must be an odd int or dict(thing=..., stuff=...), got {point_expand}")
            self.point_expand = {"thing": int(point_expand["thing"]), "stuff": int(point_expand["stuff"])}
        else:
            self.point_expand = {"thing": int(point_expand), "stuff": int(point_expand)}
        self.warmup_iters = int(warmup_iters)
        if pseudo_centers not in ("points", "mass"):
            raise ValueError(f"pseudo_centers must be 'points' or 'mass', got {pseudo_centers!r}")
        self.pseudo_centers = pseudo_centers
        self.target_cfg = dict(target_cfg or {})
        self.affinity_cfg = dict(affinity_cfg or {})
        self.pseudo_labeler = PointPseudoLabeler(**{"ignore_index": self.ignore_index, **dict(pseudo_label_cfg or {})})
        self.postprocessor = PanopticPostProcessor(
            category_ids=self.category_ids, thing_classes=[i for i, t in enumerate(self.class_isthing) if t],
            **dict(postprocess_cfg or {}))
        norm_cfg = norm_cfg or dict(type="BN", requires_grad=True)
        self.decoder = PanopticFPNDecoder(in_channels, in_strides, channels=channels, norm_cfg=norm_cfg)
        self.stride = self.decoder.out_stride
        self.semantic = _branch(channels, head_channels, self.num_classes, norm_cfg)
        self.instance = ConvModule(channels, head_channels, 3, padding=1, norm_cfg=norm_cfg)  # shared tower
        self.center = nn.Conv2d(head_channels, 1, 1)
        self.offset = nn.Conv2d(head_channels, 2, 1)
        if supervision == "points":  # 1x1 projections: cheap, used only to make pseudo labels
            self.guide = nn.Conv2d(channels, self.num_classes, 1)
            self.embedding = nn.Conv2d(channels, int(embedding_dims), 1)
        # training iterations seen (drives the pseudo-label warm-up; saved with the checkpoint)
        self.register_buffer("num_iters", torch.zeros((), dtype=torch.long))

    # ------------------------------------------------------------------------------------------ forward
    def forward(self, feats: Sequence[Tensor]) -> dict[str, Tensor]:
        """Backbone levels -> maps at stride 4: ``semantic (B, C, h, w)``, ``center (B, 1, h, w)``,
        ``offset (B, 2, h, w)`` in input pixels, and with ``"points"`` supervision ``guide (B, C, h, w)`` and
        ``embedding (B, E, h, w)`` (unit length)."""
        x = self.decoder(feats)
        inst = self.instance(x)
        out = {"semantic": self.semantic(x), "center": self.center(inst), "offset": self.offset(inst)}
        if self.supervision == "points":
            out["guide"] = self.guide(x)
            out["embedding"] = F.normalize(self.embedding(x), dim=1)
        return out

    # ------------------------------------------------------------------------------------------ training
    def loss(self, feats: Sequence[Tensor], batch_data_samples: Sequence, images: Tensor) -> dict[str, Tensor]:
        """Losses of a batch.

        Args:
            feats: backbone levels (``in_channels`` / ``in_strides``).
            batch_data_samples: the batch's samples (see the module docstring).
            images: ``(B, 3, H, W)`` RGB in ``[0, 1]`` at the padded input size (for the low-level cues).
        """
        maps = self.forward(feats)
        H, W = images.shape[-2:]
        up = {k: F.interpolate(maps[k], size=(H, W), mode="bilinear", align_corners=False)
              for k in ("semantic", "center", "offset")}
        losses: dict[str, Tensor] = {}
        scale = 1.0
        if self.supervision == "full":
            targets = [self._full_targets(s) for s in batch_data_samples]
        elif self.supervision == "points_naive":
            targets = [self._naive_targets(s) for s in batch_data_samples]
        else:
            targets, point_losses = self._pseudo_targets_and_losses(maps, batch_data_samples, images)
            losses.update(point_losses)
            scale = min(1.0, float(self.num_iters + 1) / max(1, self.warmup_iters))
            self.num_iters += 1
        t = stack_targets(targets, (H, W), self.ignore_index)
        w = self.loss_weights
        losses["loss_semantic"] = scale * w["semantic"] * semantic_loss(
            up["semantic"], t.semantic, t.semantic_weight, top_k=self.semantic_top_k, ignore_index=self.ignore_index)
        losses["loss_center"] = scale * w["center"] * center_loss(up["center"], t.center, t.center_weight)
        losses["loss_offset"] = scale * w["offset"] * offset_loss(up["offset"], t.offset, t.offset_weight)
        return losses

    def _input_shape(self, sample) -> tuple[int, int]:
        shape = sample.metainfo.get("img_shape")
        if shape is None:
            raise KeyError("PanopticHead: data sample metainfo lacks 'img_shape'")
        return int(shape[0]), int(shape[1])

    def _points(self, sample) -> ImagePoints:
        if "gt_points" not in sample:
            raise KeyError(f"PanopticHead(supervision={self.supervision!r}): data sample of "
                           f"{sample.metainfo.get('img_path', '?')} has no gt_points (add LoadPointLabels and "
                           f"PackPanopticInputs to the pipeline)")
        g = sample.gt_points
        return ImagePoints(coords=g.coords.long(), labels=g.labels.long(), isthing=g.isthing.bool())

    def _target_kwargs(self) -> dict:
        return {"ignore_index": self.ignore_index, **self.target_cfg}

    def _full_targets(self, sample) -> PanopticTargets:
        if "gt_panoptic" not in sample or "gt_segments_info" not in sample.metainfo:
            raise KeyError(f"PanopticHead(supervision='full'): data sample of {sample.metainfo.get('img_path', '?')} "
                           f"has no gt_panoptic / gt_segments_info (add LoadPanopticAnnotations to the pipeline)")
        ids = sample.gt_panoptic.ids[0]
        semantic = torch.full_like(ids, self.ignore_index)
        instance = torch.full_like(ids, -1)
        n = 0
        for seg in sample.metainfo["gt_segments_info"]:
            mask = ids == int(seg["id"])
            if seg.get("iscrowd", 0):
                continue  # crowd regions stay unlabelled
            semantic[mask] = int(seg["label"])
            if seg["isthing"]:
                instance[mask] = n
                n += 1
        return panoptic_targets(semantic, instance, num_instances=n, **self._target_kwargs())

    def _naive_targets(self, sample) -> PanopticTargets:
        pts = self._points(sample)
        h, w = self._input_shape(sample)
        dev = pts.coords.device
        semantic = torch.full((h, w), self.ignore_index, dtype=torch.long, device=dev)
        instance = torch.full((h, w), -1, dtype=torch.long, device=dev)
        x, y = pts.coords[:, 0], pts.coords[:, 1]
        semantic[y, x] = pts.labels
        things = torch.nonzero(pts.isthing).squeeze(1)
        instance[y[things], x[things]] = torch.arange(len(things), device=dev)
        centers = pts.coords[things].float()
        return panoptic_targets(semantic, instance, centers=centers, **self._target_kwargs())

    def _pseudo_targets_and_losses(self, maps: dict[str, Tensor], samples: Sequence, images: Tensor
                                   ) -> tuple[list[PanopticTargets], dict[str, Tensor]]:
        H, W = images.shape[-2:]
        guide, emb = maps["guide"], maps["embedding"]
        h, w = guide.shape[-2:]
        s = self.stride
        points = [self._points(sm) for sm in samples]
        shapes = [self._input_shape(sm) for sm in samples]
        with torch.no_grad():
            lab = rgb_to_lab(F.avg_pool2d(images.float(), s, s)[..., :h, :w])
            bnd = boundary_map(lab)
        valid = torch.zeros((len(samples), h, w), dtype=torch.bool, device=guide.device)
        for i, (ih, iw) in enumerate(shapes):
            valid[i, :-(-ih // s), :-(-iw // s)] = True
        # guide branch: expanded points + colour affinity
        guide_up = F.interpolate(guide, size=(H, W), mode="bilinear", align_corners=False)
        point_maps = torch.full((len(samples), H, W), self.ignore_index, dtype=torch.long, device=guide.device)
        for i, (pts, (ih, iw)) in enumerate(zip(points, shapes)):
            sizes = [self.point_expand["thing" if t else "stuff"] for t in pts.isthing.tolist()]
            point_maps[i, :ih, :iw] = point_label_map(pts, (ih, iw), expand=sizes, ignore_index=self.ignore_index)
        wts = self.loss_weights
        losses = {
            "loss_guide": wts["guide"] * F.cross_entropy(guide_up, point_maps, ignore_index=self.ignore_index),
            "loss_affinity": wts["affinity"] * color_affinity_loss(guide, lab, valid=valid, **self.affinity_cfg),
        }
        # pseudo labels (no gradient)
        targets, owners, labelled = [], [], []
        with torch.no_grad():
            for i, (pts, (ih, iw)) in enumerate(zip(points, shapes)):
                gh, gw = -(-ih // s), -(-iw // s)
                probs = PointPseudoLabeler.point_class_probs(guide[i, :, :gh, :gw], pts)
                pseudo = self.pseudo_labeler(probs, bnd[i, :gh, :gw], pts, stride=s, out_shape=(ih, iw),
                                             embedding=emb[i, :, :gh, :gw].detach())
                targets.append(self._targets_from_pseudo(pseudo, pts))
                owner = torch.where(pseudo.semantic == self.ignore_index, torch.full_like(pseudo.point, -1),
                                    pseudo.point)
                grid_owner = torch.full((h, w), -1, dtype=torch.long, device=guide.device)
                grid_owner[:gh, :gw] = _sample_cells(owner, s, gh, gw)
                owners.append(grid_owner)
                labelled.append((pseudo.semantic != self.ignore_index).float().mean())
        losses["loss_embedding"] = wts["embedding"] * embedding_contrast_loss(emb, owners, points, stride=s)
        losses["pseudo_labelled"] = torch.stack(labelled).mean()  # logged, not a loss
        return targets, losses

    def _targets_from_pseudo(self, pseudo: PseudoPanoptic, pts: ImagePoints) -> PanopticTargets:
        things = torch.nonzero(pts.isthing).squeeze(1)
        remap = torch.full((len(pts) + 1,), -1, dtype=torch.long, device=pseudo.instance.device)
        remap[things] = torch.arange(len(things), device=remap.device)
        instance = remap[pseudo.instance]  # -1 stays -1 (index len(pts) -> -1 via the wrap-around slot)
        centers = pts.coords[things].float() if self.pseudo_centers == "points" else None
        return panoptic_targets(pseudo.semantic, instance, num_instances=len(things), centers=centers,
                                **self._target_kwargs())

    # ------------------------------------------------------------------------------------------ inference
    @torch.no_grad()
    def predict(self, feats: Sequence[Tensor], batch_data_samples: Sequence, batch_input_shape: tuple[int, int],
                rescale: bool = True) -> list[PanopticResult]:
        """Panoptic segmentations of a batch, at the original image size when ``rescale`` (``ori_shape``),
        else at the input size (``img_shape``)."""
        maps = self.forward(feats)
        H, W = batch_input_shape
        up = {k: F.interpolate(maps[k], size=(H, W), mode="bilinear", align_corners=False)
              for k in ("semantic", "center", "offset")}
        results = []
        for i, sample in enumerate(batch_data_samples):
            h, w = self._input_shape(sample)
            ids, segments = self.postprocessor(up["semantic"][i, :, :h, :w], up["center"][i, 0, :h, :w],
                                               up["offset"][i, :, :h, :w])
            if sample.metainfo.get("flip", False):
                raise ValueError("PanopticHead.predict: flipped test inputs are not supported")
            if rescale:
                ori = sample.metainfo.get("ori_shape", (h, w))
                if tuple(ori[:2]) != (h, w):
                    ids = F.interpolate(ids[None, None].float(), size=tuple(int(v) for v in ori[:2]),
                                        mode="nearest")[0, 0].long()
            results.append(_with_areas(ids.cpu().numpy(), segments))
        return results


def _sample_cells(label_map: Tensor, stride: int, gh: int, gw: int) -> Tensor:
    """The label at the centre pixel of each ``stride`` cell of an ``(H, W)`` map -> ``(gh, gw)``."""
    H, W = label_map.shape
    ys = (torch.arange(gh, device=label_map.device) * stride + stride // 2).clamp(max=H - 1)
    xs = (torch.arange(gw, device=label_map.device) * stride + stride // 2).clamp(max=W - 1)
    return label_map[ys][:, xs]


def _with_areas(ids: np.ndarray, segments: list[PanopticSegment]) -> PanopticResult:
    """Recompute segment areas on the final id map; segments that lost all their pixels are dropped."""
    counts = np.bincount(ids.ravel(), minlength=max([s.id for s in segments], default=0) + 1)
    kept = [PanopticSegment(id=s.id, category_id=s.category_id, isthing=s.isthing, area=int(counts[s.id]),
                            score=s.score) for s in segments if counts[s.id] > 0]
    return PanopticResult(ids=ids, segments=kept)
