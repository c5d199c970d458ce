"""nuScenes detection metrics (mAP, ATE, ASE, AOE, AVE, AAE, NDS) computed by the official devkit.

:func:`evaluate_nuscenes_detection` runs the steps of the devkit's ``DetectionEval`` (``nuscenes.eval.detection
.evaluate``) with the devkit's own functions: ground truth from the database (``load_gt_of_sample_tokens``),
ego distances and the class-range / zero-point / bike-rack filters (``add_center_dist``, ``filter_eval_boxes``),
matching by centre distance at 0.5 / 1 / 2 / 4 m (``accumulate``), AP and TP errors (``calc_ap``, ``calc_tp``)
and the summary (``DetectionMetrics``: mAP, mean TP errors, NDS).  What it adds: the submission is checked
first (:func:`~perception.evaluation.nuscenes.validate_submission`, clear errors instead of the devkit's
asserts), it is taken from memory (no file needed), any set of samples can be evaluated, a submission without
a single box is evaluated (``DetectionEval`` crashes on it), and the classes can be restricted (see
``classes``).  ``tests/evaluation/test_nuscenes_eval.py`` checks that it gives exactly ``DetectionEval``'s
numbers.
"""
from __future__ import annotations

import dataclasses
import os
from typing import Any, Iterable, Optional, Sequence

import numpy as np

from perception.datasets.nuscenes_io import NUSCENES_CLASSES

from .submission import load_submission, validate_submission

__all__ = ["TP_METRIC_NAMES", "NuScenesDetectionResult", "split_sample_tokens", "evaluate_nuscenes_detection"]

#: devkit TP metric -> the benchmark's name for its class mean.
TP_METRIC_NAMES = {"trans_err": "mATE", "scale_err": "mASE", "orient_err": "mAOE", "vel_err": "mAVE",
                   "attr_err": "mAAE"}


@dataclasses.dataclass
class NuScenesDetectionResult:
    """The metrics of one evaluation (the devkit's ``DetectionMetrics``, serialised).

    Attributes:
        mean_ap: mAP over ``classes`` and the distance thresholds.
        nd_score: NDS = (5 mAP + sum over the 5 TP metrics of max(0, 1 - error)) / 10.
        tp_errors: ``{'trans_err': m, 'scale_err': 1-IoU, 'orient_err': rad, 'vel_err': m/s, 'attr_err': 1-acc}``,
            each the mean over the classes where it is defined.
        class_aps: ``{class: {dist_th: AP}}``; class_tp_errors: ``{class: {tp_metric: error (NaN: undefined)}}``.
        classes: the evaluated classes; num_samples: evaluated samples; config: the devkit config name.
    """

    mean_ap: float
    nd_score: float
    tp_errors: dict[str, float]
    class_aps: dict[str, dict[float, float]]
    class_tp_errors: dict[str, dict[str, float]]
    classes: tuple[str, ...]
    num_samples: int
    config: str

    def class_ap(self, name: str) -> float:
        """AP of one class, averaged over the distance thresholds."""
        return float(np.mean(list(self.class_aps[name].values())))

    def to_flat_dict(self, detail: bool = True) -> dict[str, float]:
        """``mAP``, ``NDS``, ``mATE`` ... ``mAAE`` and ``{class}_AP`` per class; with ``detail`` also
        ``{class}_AP_dist_{th}`` and ``{class}_{ATE,ASE,AOE,AVE,AAE}`` (NaN where the devkit leaves it undefined)."""
        out = {"mAP": self.mean_ap, "NDS": self.nd_score}
        out.update({TP_METRIC_NAMES[k]: v for k, v in self.tp_errors.items()})
        for name in self.classes:
            out[f"{name}_AP"] = self.class_ap(name)
            if not detail:
                continue
            for th, ap in self.class_aps[name].items():
                out[f"{name}_AP_dist_{th:g}"] = ap
            for k, v in self.class_tp_errors[name].items():
                out[f"{name}_{TP_METRIC_NAMES[k][1:]}"] = v
        return {k: float(v) for k, v in out.items()}

    def table(self) -> str:
        """A text table: one row per class (AP and TP errors), then mAP and NDS."""
        head = f"{'class':<22}{'AP':>8}" + "".join(f"{TP_METRIC_NAMES[k][1:]:>8}" for k in TP_METRIC_NAMES)
        rows = [head]
        for name in self.classes:
            errs = "".join(f"{self.class_tp_errors[name][k]:>8.3f}" for k in TP_METRIC_NAMES)
            rows.append(f"{name:<22}{self.class_ap(name):>8.3f}{errs}")
        errs = "".join(f"{self.tp_errors[k]:>8.3f}" for k in TP_METRIC_NAMES)
        rows.append(f"{'mean':<22}{self.mean_ap:>8.3f}{errs}")
        rows.append(f"NDS {self.nd_score:.4f}  ({self.num_samples} samples, {len(self.classes)} classes, "
                    f"{self.config})")
        return "\n".join(rows)


def split_sample_tokens(nusc, eval_set: str) -> list[str]:
    """Sample tokens of a predefined or custom (``<dataroot>/<version>/splits.json``) split, in scene order."""
    from perception.datasets.nuscenes_infos import split_scene_names

    scenes = {s["name"]: s for s in nusc.scene}
    tokens = []
    for name in split_scene_names(nusc, eval_set):
        token = scenes[name]["first_sample_token"]
        while token:
            tokens.append(token)
            token = nusc.get("sample", token)["next"]
    return tokens


def _has_boxes(boxes) -> bool:
    return any(len(b) for b in boxes.boxes.values())


def evaluate_nuscenes_detection(nusc, submission: dict | str | os.PathLike, *, eval_set: Optional[str] = None,
                                sample_tokens: Optional[Iterable[str]] = None,
                                classes: Optional[Sequence[str]] = None, config: str = "detection_cvpr_2019",
                                verbose: bool = False) -> NuScenesDetectionResult:
    """Evaluate a detection submission against a nuScenes database with the devkit.

    Args:
        nusc: a loaded ``nuscenes.NuScenes`` (e.g. :func:`perception.datasets.nuscenes_io.load_nuscenes`).
        submission: the submission dict, or the path of its JSON file (format:
            :mod:`perception.evaluation.nuscenes.submission`).
        eval_set: the split to evaluate (``val``, ``mini_val``, a custom split of ``splits.json``, ...); or
        sample_tokens: exactly these samples.  One of the two is required; the submission must hold exactly the
            evaluated samples.
        classes: evaluate these detection classes only (mAP, the mean TP errors and NDS use the devkit's formulas
            over them).  ``None``: all 10, the official benchmark.  A subset is for data that has only some
            classes, e.g. the simulator (car, pedestrian, bicycle): with all 10, the absent classes count as AP 0.
        config: the devkit's evaluation config (``detection_cvpr_2019`` is the benchmark's).

    Raises:
        SubmissionError: the submission is malformed, or misses / adds samples (naming them).
        ValueError: unknown classes, or neither / both of ``eval_set`` and ``sample_tokens``.
    """
    from nuscenes.eval.common.config import config_factory
    from nuscenes.eval.common.data_classes import EvalBoxes
    from nuscenes.eval.common.loaders import add_center_dist, filter_eval_boxes, load_gt_of_sample_tokens
    from nuscenes.eval.detection.algo import accumulate, calc_ap, calc_tp
    from nuscenes.eval.detection.constants import TP_METRICS
    from nuscenes.eval.detection.data_classes import DetectionBox, DetectionMetrics

    if (eval_set is None) == (sample_tokens is None):
        raise ValueError("evaluate_nuscenes_detection: give exactly one of eval_set and sample_tokens")
    source = "submission"
    if not isinstance(submission, dict):
        source = os.fspath(submission)
        submission = load_submission(submission)
    tokens = split_sample_tokens(nusc, eval_set) if eval_set is not None else list(dict.fromkeys(sample_tokens))
    known = {s["token"] for s in nusc.sample}
    unknown = [t for t in tokens if t not in known]
    if unknown:
        raise ValueError(f"{len(unknown)} sample token(s) are not in the database {nusc.dataroot}/{nusc.version} "
                         f"(e.g. {unknown[0]!r})")
    cfg = config_factory(config)
    validate_submission(submission, sample_tokens=tokens, max_boxes_per_sample=cfg.max_boxes_per_sample,
                        source=source)
    if classes is None:
        classes = tuple(cfg.class_names)
    bad = [c for c in classes if c not in NUSCENES_CLASSES]
    if bad or not classes:
        raise ValueError(f"classes must be a non-empty subset of {NUSCENES_CLASSES}, got {list(classes)}")
    cfg.class_names = tuple(c for c in cfg.class_names if c in set(classes))  # the devkit's order

    pred = EvalBoxes.deserialize({t: submission["results"][t] for t in tokens}, DetectionBox)
    gt = load_gt_of_sample_tokens(nusc, tokens, DetectionBox, verbose=verbose)
    pred, gt = add_center_dist(nusc, pred), add_center_dist(nusc, gt)
    if _has_boxes(pred):  # the devkit's filter cannot handle a set without a single box
        pred = filter_eval_boxes(nusc, pred, cfg.class_range, verbose=verbose)
    if _has_boxes(gt):
        gt = filter_eval_boxes(nusc, gt, cfg.class_range, verbose=verbose)

    metrics = DetectionMetrics(cfg)
    for name in cfg.class_names:  # DetectionEval.evaluate, over the chosen classes
        data = {th: accumulate(gt, pred, name, cfg.dist_fcn_callable, th) for th in cfg.dist_ths}
        for th in cfg.dist_ths:
            metrics.add_label_ap(name, th, calc_ap(data[th], cfg.min_recall, cfg.min_precision))
        for metric in TP_METRICS:
            undefined = (name == "traffic_cone" and metric in ("attr_err", "vel_err", "orient_err")) or \
                        (name == "barrier" and metric in ("attr_err", "vel_err"))
            tp = np.nan if undefined else calc_tp(data[cfg.dist_th_tp], cfg.min_recall, metric)
            metrics.add_label_tp(name, metric, tp)
    s: dict[str, Any] = metrics.serialize()
    return NuScenesDetectionResult(
        mean_ap=float(s["mean_ap"]), nd_score=float(s["nd_score"]),
        tp_errors={k: float(v) for k, v in s["tp_errors"].items()},
        class_aps={c: {float(th): float(ap) for th, ap in s["label_aps"][c].items()} for c in cfg.class_names},
        class_tp_errors={c: {k: float(v) for k, v in s["label_tp_errors"][c].items()} for c in cfg.class_names},
        classes=tuple(cfg.class_names), num_samples=len(tokens), config=config)
