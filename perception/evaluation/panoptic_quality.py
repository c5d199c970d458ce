"""Panoptic quality (PQ = SQ x RQ; Kirillov et al., "Panoptic Segmentation", CVPR 2019), COCO panopticapi's
``pq_compute`` semantics, as a library function and the ``PanopticQualityMetric`` mmengine metric.

Per image (:func:`pq_compute_single`), with ``gt`` / ``pred`` segment-id maps and their ``segments_info``:

* predicted segment areas are counted on the prediction map; every non-zero id of a map must be listed in its
  ``segments_info`` and every listed segment must have pixels (a ``PanopticFormatError`` otherwise);
* a ground-truth and a predicted segment of the same category match when ``IoU > 0.5`` (strictly), where
  ``IoU = |g & p| / (|p| + |g| - |g & p| - |p & void|)``: the predicted segment's void pixels (ground-truth id 0)
  do not count in the union.  Crowd ground truth (``iscrowd: 1``) never matches;
* unmatched non-crowd ground-truth segments are false negatives;
* an unmatched predicted segment is a false positive unless more than half of its pixels lie on void or on
  crowd ground truth *of its own category*;
* per category ``PQ = sum IoU(TP) / (TP + FP/2 + FN/2)``, ``SQ = sum IoU(TP) / TP``, ``RQ = TP / (TP + FP/2 +
  FN/2)``; ``All`` / ``Things`` / ``Stuff`` average over the categories of that kind that occur (``TP + FP + FN >
  0``) in the whole set (NaN when none does).

Two deliberate differences from panopticapi's code, both invisible on consistent data: ground-truth areas are
counted on the ground-truth map (panopticapi reads the JSON's ``area``), and all crowd segments of a category are
used for the false-positive rule (panopticapi keeps one crowd segment per category, the last listed).
"""
from __future__ import annotations

import dataclasses
import math
import os
from typing import Any, Mapping, Optional, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log

from perception.registry import METRICS

__all__ = ["PanopticFormatError", "PQStatCategory", "PQStat", "pq_compute_single", "pq_summary",
           "PanopticQualityMetric"]

VOID = 0
_OFFSET = 1 << 32


class PanopticFormatError(ValueError):
    """A segment-id map and its ``segments_info`` disagree, or a category is unknown."""


@dataclasses.dataclass
class PQStatCategory:
    """Accumulated matches of one category."""

    iou: float = 0.0
    tp: int = 0
    fp: int = 0
    fn: int = 0

    def __iadd__(self, other: "PQStatCategory") -> "PQStatCategory":
        self.iou += other.iou
        self.tp += other.tp
        self.fp += other.fp
        self.fn += other.fn
        return self


class PQStat:
    """Per-category :class:`PQStatCategory` (``stat[category_id]``), summable over images (``+=``)."""

    def __init__(self):
        self.per_cat: dict[int, PQStatCategory] = {}

    def __getitem__(self, category_id: int) -> PQStatCategory:
        return self.per_cat.setdefault(int(category_id), PQStatCategory())

    def __iadd__(self, other: "PQStat") -> "PQStat":
        for cid, s in other.per_cat.items():
            self[cid] += s  # PQStatCategory.__iadd__ updates the stored object in place
        return self

    def __setitem__(self, category_id: int, value: PQStatCategory) -> None:
        self.per_cat[int(category_id)] = value

    def to_dict(self) -> dict[int, tuple[float, int, int, int]]:
        return {cid: (s.iou, s.tp, s.fp, s.fn) for cid, s in self.per_cat.items()}

    @classmethod
    def from_dict(cls, data: Mapping[int, Sequence]) -> "PQStat":
        out = cls()
        for cid, (iou, tp, fp, fn) in data.items():
            out.per_cat[int(cid)] = PQStatCategory(float(iou), int(tp), int(fp), int(fn))
        return out


def _get(obj: Any, key: str):
    return obj[key] if isinstance(obj, Mapping) else getattr(obj, key)


def _segments(segments_info: Sequence, categories: Mapping[int, bool], ids: np.ndarray, what: str) -> dict:
    segs = {}
    for s in segments_info:
        sid, cid = int(_get(s, "id")), int(_get(s, "category_id"))
        if cid not in categories:
            raise PanopticFormatError(f"{what}: segment {sid} has unknown category_id {cid} (known: "
                                      f"{sorted(categories)})")
        if sid == VOID:
            raise PanopticFormatError(f"{what}: segment id 0 is reserved for void")
        if sid in segs:
            raise PanopticFormatError(f"{what}: segment id {sid} is listed twice")
        iscrowd = int(s.get("iscrowd", 0)) if isinstance(s, Mapping) else int(getattr(s, "iscrowd", 0))
        segs[sid] = {"category_id": cid, "iscrowd": iscrowd, "area": 0}
    labels, counts = np.unique(ids, return_counts=True)
    for label, count in zip(labels.tolist(), counts.tolist()):
        if label == VOID:
            continue
        if label not in segs:
            raise PanopticFormatError(f"{what}: segment id {label} is in the map but not in segments_info")
        segs[label]["area"] = count
    empty = [sid for sid, s in segs.items() if s["area"] == 0]
    if empty:
        raise PanopticFormatError(f"{what}: segment id(s) {sorted(empty)[:10]} are in segments_info but not in "
                                  f"the map")
    return segs


def pq_compute_single(gt_ids: np.ndarray, gt_segments: Sequence, pred_ids: np.ndarray, pred_segments: Sequence,
                      categories: Sequence, *, name: str = "image") -> PQStat:
    """Matches of one image (see the module docstring).

    Args:
        gt_ids, pred_ids: ``(H, W)`` integer segment-id maps of the same size (0 = void).
        gt_segments, pred_segments: their ``segments_info`` (``id``, ``category_id``, ``iscrowd`` for gt).
        categories: COCO categories (``id``, ``isthing``); dicts or objects.
        name: names the image in error messages.
    """
    gt_ids = np.asarray(gt_ids, dtype=np.int64)
    pred_ids = np.asarray(pred_ids, dtype=np.int64)
    if gt_ids.shape != pred_ids.shape or gt_ids.ndim != 2:
        raise PanopticFormatError(f"{name}: ground truth {gt_ids.shape} and prediction {pred_ids.shape} must be "
                                  f"(H, W) maps of one size")
    cats = {int(_get(c, "id")): bool(int(_get(c, "isthing"))) for c in categories}
    gt = _segments(gt_segments, cats, gt_ids, f"{name} (ground truth)")
    pred = _segments(pred_segments, cats, pred_ids, f"{name} (prediction)")
    if (gt_ids < 0).any() or (pred_ids < 0).any() or gt_ids.max(initial=0) >= _OFFSET or \
            pred_ids.max(initial=0) >= _OFFSET:
        raise PanopticFormatError(f"{name}: segment ids must lie in [0, 2**32)")
    joint = gt_ids.ravel() * _OFFSET + pred_ids.ravel()
    labels, counts = np.unique(joint, return_counts=True)
    inter = {(int(l // _OFFSET), int(l % _OFFSET)): int(c) for l, c in zip(labels.tolist(), counts.tolist())}

    stat = PQStat()
    gt_matched, pred_matched = set(), set()
    for (g, p), n in inter.items():
        if g not in gt or p not in pred:
            continue
        gs, ps = gt[g], pred[p]
        if gs["iscrowd"] or gs["category_id"] != ps["category_id"]:
            continue
        union = ps["area"] + gs["area"] - n - inter.get((VOID, p), 0)
        iou = n / union
        if iou > 0.5:
            st = stat[gs["category_id"]]
            st.tp += 1
            st.iou += iou
            gt_matched.add(g)
            pred_matched.add(p)
    crowd_by_cat: dict[int, list[int]] = {}
    for g, gs in gt.items():
        if g in gt_matched:
            continue
        if gs["iscrowd"]:
            crowd_by_cat.setdefault(gs["category_id"], []).append(g)
            continue
        stat[gs["category_id"]].fn += 1
    for p, ps in pred.items():
        if p in pred_matched:
            continue
        ignored = inter.get((VOID, p), 0) + sum(inter.get((g, p), 0) for g in crowd_by_cat.get(ps["category_id"], ()))
        if ignored / ps["area"] > 0.5:
            continue
        stat[ps["category_id"]].fp += 1
    return stat


def pq_summary(stat: PQStat, categories: Sequence) -> dict:
    """``{"All"|"Things"|"Stuff": {"pq", "sq", "rq", "n"}, "per_class": {category_id: {"pq", "sq", "rq", "tp",
    "fp", "fn"}}}``; averages over the categories with ``TP + FP + FN > 0`` (NaN when there are none)."""
    cats = {int(_get(c, "id")): bool(int(_get(c, "isthing"))) for c in categories}
    per_class = {}
    for cid in cats:
        s = stat.per_cat.get(cid, PQStatCategory())
        denom = s.tp + 0.5 * s.fp + 0.5 * s.fn
        if denom == 0:
            continue
        per_class[cid] = {"pq": s.iou / denom, "sq": s.iou / s.tp if s.tp else 0.0, "rq": s.tp / denom,
                          "tp": s.tp, "fp": s.fp, "fn": s.fn}
    out = {"per_class": per_class}
    for name, want in (("All", None), ("Things", True), ("Stuff", False)):
        sel = [v for cid, v in per_class.items() if want is None or cats[cid] == want]
        n = len(sel)
        out[name] = {k: (sum(v[k] for v in sel) / n if n else math.nan) for k in ("pq", "sq", "rq")}
        out[name]["n"] = n
    return out


@METRICS.register_module()
class PanopticQualityMetric(BaseMetric):
    """PQ / SQ / RQ over all, thing and stuff categories (percent), for models that fill ``pred_panoptic``
    (:class:`perception.models.camera.panoptic.PanopticResult`, original image pixels).

    Ground truth: each sample's metainfo ``panoptic_path`` (the COCO panoptic PNG) and ``gt_segments_info``
    (``id``, ``category_id``, ``iscrowd``): put ``LoadPanopticAnnotations(with_map=False)`` in the test
    pipeline and ``panoptic_path`` in the packed meta keys.

    Metrics (prefix ``panoptic``): ``PQ``, ``SQ``, ``RQ``, ``PQ_th``, ``SQ_th``, ``RQ_th``, ``PQ_st``,
    ``SQ_st``, ``RQ_st`` and ``PQ_<category name>`` per category.

    Args:
        categories: COCO categories (``id``, ``name``, ``isthing``); default the simulator's.
    """

    default_prefix = "panoptic"

    def __init__(self, categories: Optional[Sequence] = None, collect_device: str = "cpu",
                 prefix: Optional[str] = None):
        super().__init__(collect_device=collect_device, prefix=prefix)
        if categories is None:
            from perception.datasets.sim.categories import coco_categories

            categories = coco_categories()
        self.categories = [{"id": int(_get(c, "id")), "name": str(_get(c, "name")),
                            "isthing": int(bool(int(_get(c, "isthing"))))} for c in categories]

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        from perception.datasets.point_labels import read_panoptic_png

        for sample in data_samples:
            path = sample.get("panoptic_path")
            if "pred_panoptic" not in sample:
                raise KeyError("PanopticQualityMetric: a data sample has no pred_panoptic (a panoptic model?)")
            if not path or "gt_segments_info" not in sample:
                raise KeyError(f"PanopticQualityMetric: sample {sample.get('img_path', '?')} lacks panoptic_path "
                               f"/ gt_segments_info (LoadPanopticAnnotations(with_map=False) in the test "
                               f"pipeline, 'panoptic_path' in the meta keys)")
            pred = sample["pred_panoptic"]
            gt_ids = read_panoptic_png(path)
            stat = pq_compute_single(gt_ids, sample["gt_segments_info"], pred.ids, pred.segments_info(),
                                     self.categories, name=os.path.basename(path))
            self.results.append(stat.to_dict())

    def compute_metrics(self, results: list) -> dict:
        total = PQStat()
        for r in results:
            total += PQStat.from_dict(r)
        summary = pq_summary(total, self.categories)
        out = {}
        for name, suffix in (("All", ""), ("Things", "_th"), ("Stuff", "_st")):
            for k in ("pq", "sq", "rq"):
                out[f"{k.upper()}{suffix}"] = 100.0 * summary[name][k]
        names = {c["id"]: c["name"] for c in self.categories}
        lines = [f"{'category':<12}{'PQ':>7}{'SQ':>7}{'RQ':>7}{'TP':>6}{'FP':>6}{'FN':>6}"]
        for cid, v in summary["per_class"].items():
            out[f"PQ_{names[cid]}"] = 100.0 * v["pq"]
            lines.append(f"{names[cid]:<12}{100 * v['pq']:7.1f}{100 * v['sq']:7.1f}{100 * v['rq']:7.1f}"
                         f"{v['tp']:6d}{v['fp']:6d}{v['fn']:6d}")
        print_log("panoptic quality per category:\n" + "\n".join(lines), logger="current")
        return out
