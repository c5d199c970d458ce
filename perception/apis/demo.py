"""The demo behind ``tools/demo.py``: simulate a few frames, run every shipped model, draw.

Outputs under ``out_dir``::

    frames/<id>_camera.png    camera image: ground truth (white), LiDAR detections (3D boxes, by class) projected,
                              camera detections (2D boxes)
    frames/<id>_panoptic.png  the panoptic model's segmentation over the camera image (when one ran)
    frames/<id>_bev.png       bird's-eye view: points by height, GT (white) and detections (red)
    frames/<id>_fusion.png    the fused output over the camera image: matched panoptic instances, projected 3D
                              boxes, 2D boxes coloured by supporting sensors (when a fusion model ran)
    frames/<id>_fusion_bev.png  bird's-eye view of the fused output: 3D boxes and camera-only frustums
    fused/<model>.jsonl       the fused output, one frame per line (perception.fusion.formats.jsonl)
    kitti/<model>/<id>.txt    LiDAR detections in KITTI result format
    summary.json              per model and frame: detections, matches to ground truth, timings

Models by ``task``: ``lidar3d`` (:class:`LidarInferencer`), ``camera2d`` (:class:`CameraDetector`),
``panoptic`` (:func:`perception.models.camera.panoptic.predict_image`) and ``fusion`` (:class:`FusionDetector`).
"""
from __future__ import annotations

import json
import os
import time
from typing import Callable, Optional, Sequence

import torch

from perception.apis.model_zoo import MODEL_ZOO, ModelEntry
from perception.datasets import kitti_io
from perception.structures import Detections2D, Frame, ObjectAnnotations, box_iou_bev
from perception.utils.fileio import atomic_write_text

__all__ = ["DEMO_SEED", "prepare_demo_frames", "run_demo", "match_counts"]

#: The demo's frames come from a seed the shipped models never trained on (training used seed 0).
DEMO_SEED = 2026


def prepare_demo_frames(data_root: str, num_frames: int, *, seed: int = DEMO_SEED, tiny: bool = False,
                        log: Callable[[str], None] = print) -> list[str]:
    """Generate ``num_frames`` simulated frames (default size, or the tiny test preset) into ``data_root``
    (complete frames already there are reused) and return their ids."""
    from perception.datasets.sim import SimConfig, generate_dataset

    t0 = time.perf_counter()
    config = SimConfig.tiny(seed=seed) if tiny else SimConfig(seed=seed)
    generate_dataset(data_root, num_frames=num_frames, config=config, workers=1, progress=True)
    log(f"simulated frames ready in {data_root} ({time.perf_counter() - t0:.1f} s)")
    return [f"{i:06d}" for i in range(num_frames)]


def match_counts(gt: ObjectAnnotations, det: ObjectAnnotations, *, score_thr: float = 0.3,
                 iou_thr: float = 0.5) -> dict:
    """How many ground-truth objects a detection of the same class overlaps with BEV IoU >= ``iou_thr``
    (greedy by score), for a quick per-frame summary; the real metric is ``tools/eval_kitti.py``."""
    keep = det.scores >= score_thr if det.scores is not None else torch.ones(len(det), dtype=torch.bool)
    det = det.select(keep)
    matched = 0
    if len(gt) and len(det):
        iou = box_iou_bev(det.boxes3d.to(torch.float64), gt.boxes3d.to(torch.float64))
        same = torch.tensor([[d == g for g in gt.names] for d in det.names])
        iou = torch.where(same, iou, torch.zeros_like(iou))
        used = torch.zeros(len(gt), dtype=torch.bool)
        for i in det.scores.argsort(descending=True).tolist():
            cand = torch.where(used, torch.zeros_like(iou[i]), iou[i])
            j = int(cand.argmax())
            if cand[j] >= iou_thr:
                used[j] = True
                matched += 1
    return {"ground_truth": len(gt), "detections": len(det), "matched": matched}


def _draw(frame: Frame, dets: dict[str, ObjectAnnotations], dets2d: dict[str, Detections2D], panoptic,
          out_dir: str, score_thr: float = 0.3) -> list[str]:
    """Write the frame's pictures; ``panoptic`` is a ``PanopticResult`` or ``None``."""
    from perception.models.camera.panoptic import draw_panoptic_result
    from perception.visualization import bev_plot, draw_boxes2d, draw_boxes3d_on_image, save_image

    paths = []
    img = frame.image.copy()
    gt = frame.annotations
    if gt is not None and len(gt):
        img = draw_boxes3d_on_image(img, gt.boxes3d, frame.calib, colors=(255, 255, 255), thickness=1,
                                    front_cross=False)
    for det in dets.values():
        shown = det.select(det.scores >= score_thr)
        img = draw_boxes3d_on_image(img, shown.boxes3d, frame.calib, labels=shown.names,
                                    scores=shown.scores.tolist())
    for det in dets2d.values():
        shown = det.select(det.scores >= score_thr)
        img = draw_boxes2d(img, shown.boxes, labels=[f"{n} (2D)" for n in shown.names], scores=shown.scores.tolist(),
                           thickness=1)
    path = os.path.join(out_dir, "frames", f"{frame.frame_id}_camera.png")
    save_image(path, img)
    paths.append(path)
    if panoptic is not None:
        path = os.path.join(out_dir, "frames", f"{frame.frame_id}_panoptic.png")
        save_image(path, draw_panoptic_result(frame.image, panoptic))
        paths.append(path)
    first = next(iter(dets.values()), None)
    shown = first.select(first.scores >= score_thr) if first is not None else None
    path = os.path.join(out_dir, "frames", f"{frame.frame_id}_bev.png")
    bev_plot(frame.points.numpy(), gt.boxes3d if gt is not None else None,
             shown.boxes3d if shown is not None else None,
             pred_scores=shown.scores.tolist() if shown is not None else None,
             gt_labels=gt.names if gt is not None else None,
             title=f"frame {frame.frame_id}: GT white" + (f", {next(iter(dets))} red" if dets else ""), path=path)
    paths.append(path)
    return paths


def _timed(run: Callable[[], list], num_frames: int) -> tuple[list, float]:
    """``(run(), seconds per frame)``."""
    t0 = time.perf_counter()
    out = run()
    return out, round((time.perf_counter() - t0) / max(num_frames, 1), 3)


def _run_lidar(entry: ModelEntry, frames: list[Frame], out_dir: str, device: str) -> tuple[list, dict]:
    from perception.apis.lidar_inference import LidarInferencer
    from perception.evaluation.kitti.convert import predictions_to_kitti

    inferencer = LidarInferencer(config=entry.config_path, checkpoint=entry.checkpoint_path, device=device)
    dets, seconds = _timed(lambda: inferencer(frames), len(frames))
    per_frame = {}
    for frame, det in zip(frames, dets):
        objs = predictions_to_kitti(det, frame.calib, frame.image_size)
        kitti_io.write_label(os.path.join(out_dir, "kitti", entry.name, f"{frame.frame_id}.txt"), objs)
        per_frame[frame.frame_id] = match_counts(frame.annotations, det)
    totals = {k: int(sum(v[k] for v in per_frame.values())) for k in ("ground_truth", "detections", "matched")}
    return dets, {"status": "ran", "seconds_per_frame": seconds, "frames": per_frame, "total": totals}


def _run_camera2d(entry: ModelEntry, frames: list[Frame], device: str, score_thr: float) -> tuple[list, dict]:
    from perception.apis.camera_inference import CameraDetector

    detector = CameraDetector(config=entry.config_path, checkpoint=entry.checkpoint_path, device=device)
    dets, seconds = _timed(lambda: detector([f.image for f in frames]), len(frames))
    per_frame = {f.frame_id: {"detections": int((d.scores >= score_thr).sum()),
                              "ground_truth": len(f.annotations) if f.annotations is not None else 0}
                 for f, d in zip(frames, dets)}
    return dets, {"status": "ran", "seconds_per_frame": seconds, "frames": per_frame}


def _run_panoptic(entry: ModelEntry, frames: list[Frame], device: str) -> tuple[list, dict]:
    from perception.models.camera.panoptic import load_panoptic_model, predict_image

    model, scale = load_panoptic_model(entry.config_path, entry.checkpoint_path, device)
    results, seconds = _timed(lambda: [predict_image(model, f.image, scale=scale) for f in frames], len(frames))
    per_frame = {f.frame_id: {"things": sum(s.isthing for s in r.segments),
                              "stuff": sum(not s.isthing for s in r.segments)} for f, r in zip(frames, results)}
    return results, {"status": "ran", "seconds_per_frame": seconds, "frames": per_frame}


def _run_fusion(entry: ModelEntry, frames: list[Frame], out_dir: str, device: str,
                score_thr: float) -> tuple[list, dict]:
    from perception.apis.fusion_inference import FusionDetector
    from perception.fusion.formats.jsonl import write_jsonl
    from perception.structures import Sensor

    detector = FusionDetector(config=entry.config_path, device=device)
    results, seconds = _timed(lambda: detector(frames), len(frames))
    write_jsonl(os.path.join(out_dir, "fused", f"{entry.name}.jsonl"), results)
    per_frame = {}
    for f, r in zip(frames, results):
        shown = r.select(r.scores >= score_thr)
        per_frame[f.frame_id] = {
            "objects": len(shown), "lidar_and_camera": int((shown.seen_by(Sensor.LIDAR) & shown.seen_by(Sensor.CAMERA)).sum()),
            "lidar_only": int((shown.seen_by(Sensor.LIDAR) & ~shown.seen_by(Sensor.CAMERA)).sum()),
            "camera_only": int((~shown.seen_by(Sensor.LIDAR)).sum()),
            "with_panoptic_instance": int(shown.seen_by(Sensor.PANOPTIC).sum())}
    return results, {"status": "ran", "seconds_per_frame": seconds, "frames": per_frame}


def _draw_fusion(frame: Frame, result, name: str, out_dir: str, score_thr: float) -> list[str]:
    from perception.visualization import draw_fused_on_image, fused_bev_plot, save_image

    camera = os.path.join(out_dir, "frames", f"{frame.frame_id}_fusion.png")
    save_image(camera, draw_fused_on_image(frame.image, result, score_thr=score_thr,
                                           ground_truth=frame.annotations))
    bev = os.path.join(out_dir, "frames", f"{frame.frame_id}_fusion_bev.png")
    fused_bev_plot(frame.points.numpy(), result, score_thr=score_thr, ground_truth=frame.annotations,
                   title=f"frame {frame.frame_id}: {name} (GT white, fused red, camera-only frustums cyan)", path=bev)
    return [camera, bev]


def run_demo(*, out_dir: str, data_root: str, num_frames: int = 3, models: Optional[Sequence[str]] = None,
             device: str = "cpu", zoo: Sequence[ModelEntry] = MODEL_ZOO, tiny: bool = False,
             score_thr: float = 0.3, log: Callable[[str], None] = print) -> dict:
    """Simulate (or reuse) frames, run the models of ``zoo`` that have weights (or the ``models`` named),
    write pictures and results.  ``tiny`` uses the simulator's small test preset."""
    if models is not None:
        unknown = sorted(set(models) - {m.name for m in zoo})
        if unknown:
            raise ValueError(f"unknown model(s) {unknown}; shipped: {[m.name for m in zoo]}")
    frame_ids = prepare_demo_frames(data_root, num_frames, tiny=tiny, log=log)
    frames = [kitti_io.read_frame(data_root, i) for i in frame_ids]
    entries: list[ModelEntry] = [m for m in zoo if models is None or m.name in models]
    summary: dict = {"data_root": os.path.abspath(data_root), "frames": frame_ids, "models": {}}
    detections: dict[str, list[ObjectAnnotations]] = {}
    detections2d: dict[str, list[Detections2D]] = {}
    panoptic: Optional[list] = None  # the first panoptic model's results, one per frame
    fused: dict[str, list] = {}
    for entry in entries:
        if not entry.available:
            log(f"[{entry.name}] no weights at {entry.checkpoint}: skipped (train with tools/train.py {entry.config})")
            summary["models"][entry.name] = {"status": "no checkpoint"}
            continue
        if entry.task == "lidar3d":
            detections[entry.name], report = _run_lidar(entry, frames, out_dir, device)
            t = report["total"]
            note = (f"{t['matched']}/{t['ground_truth']} ground-truth objects found (BEV IoU >= 0.5, score >= "
                    f"{score_thr}), {t['detections']} detections")
        elif entry.task == "camera2d":
            detections2d[entry.name], report = _run_camera2d(entry, frames, device, score_thr)
            note = f"{sum(v['detections'] for v in report['frames'].values())} 2D detections (score >= {score_thr})"
        elif entry.task == "panoptic":
            results, report = _run_panoptic(entry, frames, device)
            panoptic = panoptic or results
            note = f"{sum(v['things'] for v in report['frames'].values())} thing segments"
        elif entry.task == "fusion":
            fused[entry.name], report = _run_fusion(entry, frames, out_dir, device, score_thr)
            v = report["frames"].values()
            note = (f"{sum(x['lidar_and_camera'] for x in v)} objects seen by LiDAR and camera, "
                    f"{sum(x['lidar_only'] for x in v)} LiDAR-only, {sum(x['camera_only'] for x in v)} camera-only "
                    f"(score >= {score_thr})")
        else:
            summary["models"][entry.name] = {"status": f"task {entry.task} is not part of the demo yet"}
            continue
        summary["models"][entry.name] = report
        log(f"[{entry.name}] {report['seconds_per_frame']:.2f} s/frame; {note}")
    pictures = []
    for k, frame in enumerate(frames):
        pictures += _draw(frame, {name: d[k] for name, d in detections.items()},
                          {name: d[k] for name, d in detections2d.items()},
                          None if panoptic is None else panoptic[k], out_dir, score_thr)
        for name, results in fused.items():
            pictures += _draw_fusion(frame, results[k], name, out_dir, score_thr)
    summary["pictures"] = [os.path.relpath(p, out_dir) for p in pictures]
    atomic_write_text(os.path.join(out_dir, "summary.json"), json.dumps(summary, indent=2) + "\n")
    log(f"wrote {len(pictures)} pictures and summary.json to {out_dir}")
    return summary
