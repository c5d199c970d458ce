"""How good are the pseudo labels?  PQ of a point-supervised model's pseudo labels against the full ground truth.

Diagnostic only (training never sees the ground truth).  For each frame of a dataset whose pipeline loads both
the point labels and the panoptic ground truth (``LoadPointLabels`` + ``LoadPanopticAnnotations(with_map=True)``
+ ``AlignPanopticToImage``), the model's guide branch, embedding and the image's boundaries are parsed into pseudo
labels exactly as in training; every point's pseudo segment becomes a predicted segment (unlabelled pixels are
void) and is scored with :func:`perception.evaluation.panoptic_quality.pq_compute_single` at input resolution.
Also reported: the fraction of pixels the pseudo labels leave unlabelled, and the accuracy of the labelled ones.

Example (the trained point-supervised model on 50 training frames)::

    python -c "from perception.models.camera.panoptic.pseudo_label_eval import main; main()" \\
        configs/panoptic/panoptic_points_sim.py work_dirs/panoptic_points_sim/iter_1200.pth --frames 50
"""
from __future__ import annotations

import argparse
import dataclasses
from typing import Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from .image_cues import boundary_map, rgb_to_lab
from .pseudo_labels import PointPseudoLabeler

__all__ = ["pseudo_label_quality", "main"]


@torch.no_grad()
def pseudo_label_quality(model, dataset, frames: Sequence[int], labeler: Optional[PointPseudoLabeler] = None,
                         categories: Optional[Sequence] = None) -> dict:
    """Score the pseudo labels of ``frames`` of ``dataset`` (see the module docstring).

    Args:
        model: a :class:`~.segmentor.PanopticSegmentor` (or :class:`~.camera_model.CameraModel`) whose head has
            ``supervision="points"``.
        labeler: the parser to use (default: the head's own).
    Returns:
        ``{"pq", "pq_things", "pq_stuff", "unlabelled", "accuracy"}`` (fractions) and ``"per_class"``.
    """
    from mmengine.dataset import pseudo_collate

    from perception.evaluation.panoptic_quality import PQStat, pq_compute_single, pq_summary

    head = model.panoptic_head
    if head.supervision != "points":
        raise ValueError("pseudo_label_quality needs a model trained with supervision='points'")
    labeler = labeler or head.pseudo_labeler
    if categories is None:
        categories = [{"id": c, "isthing": int(t)} for c, t in zip(head.category_ids, head.class_isthing)]
    model.eval()
    total, unlabelled, correct, labelled = PQStat(), 0.0, 0, 0
    s = head.stride
    for idx in frames:
        data = model.data_preprocessor(pseudo_collate([dataset[int(idx)]]), False)
        sample = data["data_samples"][0]
        if "gt_panoptic" not in sample:
            raise KeyError("pseudo_label_quality: the dataset pipeline must load the panoptic ground truth")
        inputs = data["inputs"]
        maps = head(model.panoptic_feats(inputs))
        images = model.images_01(inputs)
        h, w = maps["guide"].shape[-2:]
        lab = rgb_to_lab(F.avg_pool2d(images.float(), s, s)[..., :h, :w])
        bnd = boundary_map(lab)[0]
        ih, iw = (int(v) for v in sample.metainfo["img_shape"][:2])
        gh, gw = -(-ih // s), -(-iw // s)
        pts = head._points(sample)
        probs = PointPseudoLabeler.point_class_probs(maps["guide"][0, :, :gh, :gw], pts)
        pseudo = labeler(probs, bnd[:gh, :gw], pts, stride=s, out_shape=(ih, iw),
                         embedding=maps["embedding"][0, :, :gh, :gw])
        ignore = pseudo.semantic == labeler.ignore_index
        pred_ids = torch.where(ignore, torch.zeros_like(pseudo.point), pseudo.point + 1).cpu().numpy()
        cats = sample.gt_points.category_ids.tolist()
        pred_segs = [{"id": int(v), "category_id": cats[int(v) - 1]} for v in np.unique(pred_ids) if v > 0]
        gt_ids = sample.gt_panoptic.ids[0].cpu().numpy()
        present = set(np.unique(gt_ids).tolist())
        gt_segs = [g for g in sample.metainfo["gt_segments_info"] if g["id"] in present]
        total += pq_compute_single(gt_ids, gt_segs, pred_ids, pred_segs, categories)
        label_of = {g["id"]: g["label"] for g in gt_segs}
        gt_sem = np.vectorize(lambda v: label_of.get(int(v), -1))(gt_ids)
        sem = pseudo.semantic.cpu().numpy()
        keep = ~ignore.cpu().numpy()
        unlabelled += float(1.0 - keep.mean())
        correct += int((sem[keep] == gt_sem[keep]).sum())
        labelled += int(keep.sum())
    summary = pq_summary(total, categories)
    return {"pq": summary["All"]["pq"], "pq_things": summary["Things"]["pq"], "pq_stuff": summary["Stuff"]["pq"],
            "unlabelled": unlabelled / max(1, len(frames)), "accuracy": correct / max(1, labelled),
            "per_class": {c: v["pq"] for c, v in summary["per_class"].items()}}


def main(argv: Optional[Sequence[str]] = None) -> dict:
    """Command line (see the module docstring): config, checkpoint, ``--frames N`` (every k-th training frame),
    ``--set key=value`` overrides of the parser's fields (e.g. ``--set boundary=0.5``)."""
    import importlib
    import sys

    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    from perception.registry import DATASETS, MODELS

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("config")
    parser.add_argument("checkpoint")
    parser.add_argument("--frames", type=int, default=50)
    parser.add_argument("--data-root")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    cfg = Config.fromfile(args.config)
    for module in cfg.custom_imports.imports:
        importlib.import_module(module)
    init_default_scope(cfg.get("default_scope", "perception"))
    model = MODELS.build(cfg.model)
    # an mmengine checkpoint (message hub inside needs weights_only=False): trusted local files only
    state = torch.load(args.checkpoint, map_location="cpu", weights_only=False)
    model.load_state_dict(state.get("state_dict", state))
    ds_cfg = cfg.train_dataloader.dataset.copy()
    if args.data_root:
        ds_cfg.data_root = args.data_root
    pipeline = [dict(type="LoadImageFromFileRGB"), dict(type="LoadPointLabels"),
                dict(type="LoadPanopticAnnotations", with_map=True)]
    pipeline += [dict(t) for t in ds_cfg.pipeline if t["type"] == "mmdet.Resize"]
    pipeline += [dict(type="AlignPanopticToImage"), dict(type="PackPanopticInputs")]
    ds_cfg.pipeline = pipeline
    ds_cfg.test_mode = True
    dataset = DATASETS.build(ds_cfg)
    overrides = {}
    for item in args.set:
        key, _, value = item.partition("=")
        overrides[key] = None if value == "None" else float(value)
    labeler = dataclasses.replace(model.panoptic_head.pseudo_labeler, **overrides)
    step = max(1, len(dataset) // max(1, args.frames))
    frames = list(range(0, len(dataset), step))[:args.frames]
    result = pseudo_label_quality(model, dataset, frames, labeler)
    print(f"pseudo labels of {len(frames)} frames ({labeler}):")
    print(f"  PQ {100 * result['pq']:.1f}  things {100 * result['pq_things']:.1f}  stuff "
          f"{100 * result['pq_stuff']:.1f}  unlabelled {100 * result['unlabelled']:.1f} %  accuracy of labelled "
          f"pixels {100 * result['accuracy']:.1f} %")
    return result
