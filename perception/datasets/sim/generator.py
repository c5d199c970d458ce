"""Frame and dataset generation: :func:`simulate_frame`, :func:`write_frame`, :func:`generate_dataset`.

Frame ``i`` depends on ``(config, i)`` only: its random streams come from
``numpy.random.SeedSequence([config.seed, i])``, so a dataset is
byte-identical across runs and worker counts, and any frame can be
regenerated alone.
"""
from __future__ import annotations

import dataclasses
import io
import json
import multiprocessing as mp
import os
import time
from typing import Optional

import numpy as np

from perception.datasets import kitti_io
from perception.structures import KittiCalibration
from perception.utils.fileio import atomic_write_bytes, atomic_write_text, read_json

from . import categories as C
from .calib import kitti_calibration
from .config import SimConfig
from .labels import FrameLabels, make_labels
from .lidar import LidarScan, simulate_lidar
from .raycast import Raycaster
from .render import CameraRender, render_camera
from .scene import Scene, sample_scene
from .version import GENERATOR_VERSION

__all__ = ["SimDatasetError", "SimFrame", "frame_rngs", "simulate_frame", "write_frame", "generate_dataset",
           "frame_name", "FRAME_FILES", "STAGES"]

#: Per-frame files, relative to ``<root>/training``; ``sim_frames/*.json`` is written last and marks a
#: complete frame.
FRAME_FILES = (("velodyne", ".bin"), ("image_2", ".png"), ("calib", ".txt"), ("label_2", ".txt"),
               ("panoptic", ".png"), ("sim_frames", ".json"))
#: Timed stages of a frame, in order.
STAGES = ("scene", "lidar", "camera", "labels", "write")


class SimDatasetError(RuntimeError):
    """The output directory cannot be used (holds something else, or frames of other settings)."""


def frame_name(index: int) -> str:
    return f"{index:06d}"


@dataclasses.dataclass
class SimFrame:
    """One simulated frame in memory (what :func:`write_frame` writes)."""

    index: int
    scene: Scene
    calib: KittiCalibration
    scan: LidarScan
    render: CameraRender
    labels: FrameLabels
    timings: dict

    @property
    def name(self) -> str:
        return frame_name(self.index)

    def meta(self, config: SimConfig) -> dict:
        """The frame's JSON record (image entry, segments, point labels, statistics)."""
        counts = {}
        for st in self.labels.status:
            counts.setdefault(st.name, {}).setdefault(st.status, 0)
            counts[st.name][st.status] += 1
        return {
            "image": {"id": self.index, "file_name": f"{self.name}.png", "width": config.image_width,
                      "height": config.image_height},
            "segments_info": self.labels.segments_info,
            "points": self.labels.point_labels,
            "stats": {"layout": self.scene.layout, "lidar_points": int(len(self.scan.points)),
                      "lidar_rays": int(self.scan.num_rays), "objects": counts,
                      "labels": len([o for o in self.labels.objects if o.type != "DontCare"]),
                      "dontcare": len([o for o in self.labels.objects if o.type == "DontCare"])},
        }


def frame_rngs(seed: int, index: int) -> dict[str, np.random.Generator]:
    """Independent random streams of frame ``index`` (scene, lidar, camera, labels)."""
    seq = np.random.SeedSequence([int(seed), int(index)])
    return {name: np.random.default_rng(s) for name, s in zip(("scene", "lidar", "camera", "labels"), seq.spawn(4))}


def simulate_frame(index: int, config: SimConfig, *, nthreads: int = 0) -> SimFrame:
    """Simulate frame ``index`` in memory (``nthreads`` for ray casting, 0: all cores)."""
    rngs = frame_rngs(config.seed, index)
    timings = {}
    t0 = time.perf_counter()
    scene = sample_scene(rngs["scene"], config)
    calib = kitti_calibration(config.image_width, config.image_height)
    caster = Raycaster(scene.vertices, scene.triangles, nthreads=nthreads)
    t1 = time.perf_counter()
    scan = simulate_lidar(scene, caster, config, rngs["lidar"])  # first cast also builds the BVH
    t2 = time.perf_counter()
    render = render_camera(scene, caster, calib, config, rngs["camera"])
    t3 = time.perf_counter()
    labels = make_labels(scene, render, scan, calib, config, rngs["labels"])
    t4 = time.perf_counter()
    timings.update(scene=t1 - t0, lidar=t2 - t1, camera=t3 - t2, labels=t4 - t3)
    return SimFrame(index=index, scene=scene, calib=calib, scan=scan, render=render, labels=labels, timings=timings)


def _png_bytes(array: np.ndarray, compress_level: int) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG", compress_level=compress_level)
    return buf.getvalue()


def _json_text(obj) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":")) + "\n"


def write_frame(root: str | os.PathLike, frame: SimFrame, config: SimConfig) -> dict:
    """Write one frame's files atomically (the ``sim_frames`` record last); returns that record."""
    t0 = time.perf_counter()
    train = os.path.join(os.fspath(root), "training")
    name = frame.name
    kitti_io.write_points(os.path.join(train, "velodyne", f"{name}.bin"), frame.scan.points)
    atomic_write_bytes(os.path.join(train, "image_2", f"{name}.png"),
                       _png_bytes(frame.render.image, config.png_compress_level))
    atomic_write_text(os.path.join(train, "calib", f"{name}.txt"), frame.calib.to_text())
    kitti_io.write_label(os.path.join(train, "label_2", f"{name}.txt"), frame.labels.objects)
    atomic_write_bytes(os.path.join(train, "panoptic", f"{name}.png"),
                       _png_bytes(C.ids_to_rgb(frame.labels.panoptic), config.png_compress_level))
    meta = frame.meta(config)
    atomic_write_text(os.path.join(train, "sim_frames", f"{name}.json"), _json_text(meta))
    frame.timings["write"] = time.perf_counter() - t0
    return meta


# ---------------------------------------------------------------------------- dataset
def _frame_complete(train: str, name: str) -> bool:
    return all(os.path.isfile(os.path.join(train, d, name + ext)) for d, ext in FRAME_FILES)


def _load_meta(train: str, name: str) -> Optional[dict]:
    try:
        with open(os.path.join(train, "sim_frames", f"{name}.json"), encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


_WORKER_CONFIG: Optional[SimConfig] = None
_WORKER_ROOT: Optional[str] = None


def _init_worker(root: str, config_dict: dict) -> None:
    global _WORKER_CONFIG, _WORKER_ROOT
    import torch

    torch.set_num_threads(1)
    _WORKER_CONFIG = SimConfig.from_dict(config_dict)
    _WORKER_ROOT = root


def _work(index: int) -> tuple[int, dict, dict]:
    frame = simulate_frame(index, _WORKER_CONFIG, nthreads=1)
    meta = write_frame(_WORKER_ROOT, frame, _WORKER_CONFIG)
    return index, meta, frame.timings


def _check_root(root: str, config: SimConfig, num_frames: int) -> None:
    meta_path = os.path.join(root, "sim_meta.json")
    if os.path.isfile(meta_path):
        old = read_json(meta_path, "dataset meta file", SimDatasetError)
        if old.get("fingerprint") != config.fingerprint():
            diffs = sorted(k for k, v in config.to_dict().items() if old.get("config", {}).get(k) != v)
            if old.get("generator_version") != GENERATOR_VERSION:
                diffs.insert(0, f"generator_version {old.get('generator_version')} -> {GENERATOR_VERSION}")
            raise SimDatasetError(
                f"{root} holds a simulated dataset made with other settings (differs in: "
                f"{', '.join(diffs) or 'fingerprint'}); its frames cannot be reused. "
                f"Pick another output directory or delete this one.")
        frames_dir = os.path.join(root, "training", "sim_frames")
        if os.path.isdir(frames_dir):
            extra = sorted(n for n in os.listdir(frames_dir)
                           if n.endswith(".json") and n[:-5].isdigit() and int(n[:-5]) >= num_frames)
            if extra:
                raise SimDatasetError(
                    f"{root} already holds {len(extra)} frame(s) beyond the {num_frames} requested "
                    f"(e.g. {extra[0][:-5]}); ask for at least as many frames or use another directory.")
    elif os.path.isdir(root) and os.listdir(root):
        raise SimDatasetError(f"{root} exists, is not empty and has no sim_meta.json: refusing to write "
                              f"simulated frames into it. Pick a new or empty directory.")


def generate_dataset(root: str | os.PathLike, *, num_frames: int, config: Optional[SimConfig] = None,
                     workers: int = 1, progress: bool = True) -> dict:
    """Generate (or complete) a simulated KITTI-format dataset under ``root``.

    Layout::

        <root>/sim_meta.json                      generator version, seed, settings, frame count, statistics
        <root>/ImageSets/{train,val,trainval}.txt frame i is val when i % val_every == val_every - 1
        <root>/training/velodyne/NNNNNN.bin       float32 [x, y, z, intensity], LiDAR frame
        <root>/training/image_2/NNNNNN.png        camera 2, RGB
        <root>/training/calib/NNNNNN.txt          KITTI calibration
        <root>/training/label_2/NNNNNN.txt        KITTI labels (Car, Pedestrian, Cyclist, DontCare)
        <root>/training/panoptic/NNNNNN.png       COCO panoptic PNG, id = R + 256 G + 256^2 B
        <root>/training/panoptic.json             COCO panoptic annotations
        <root>/training/point_labels.json         one labelled pixel per segment (see the package docs)
        <root>/training/sim_frames/NNNNNN.json    per-frame record (segments, points, stats); written last

    Re-running into the same root with the same settings reuses complete
    frames (a frame is complete when all its files exist; each file is
    written atomically and the record last) and generates the rest; a root
    made with other settings, or any other non-empty directory, is refused
    with :class:`SimDatasetError`.

    ``workers > 1`` uses a ``spawn`` process pool (each worker ray-casts with
    one thread); as with any spawning pool, call it under
    ``if __name__ == "__main__":`` in scripts.

    Returns:
        a summary: ``frames``, ``generated``, ``reused``, ``seconds``, ``seconds_per_frame``
        (per generated frame, wall clock), ``mean_stage_seconds`` and ``stats``.
    """
    config = SimConfig() if config is None else config
    if num_frames < 1:
        raise ValueError(f"num_frames must be >= 1, got {num_frames}")
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    root = os.fspath(root)
    _check_root(root, config, num_frames)
    train = os.path.join(root, "training")
    start = time.perf_counter()
    _write_sim_meta(root, config, num_frames, complete=False, stats=None)
    metas: dict[int, dict] = {}
    todo = []
    for i in range(num_frames):
        meta = _load_meta(train, frame_name(i)) if _frame_complete(train, frame_name(i)) else None
        if meta is not None:
            metas[i] = meta
        else:
            todo.append(i)
    reused = len(metas)
    stage_sums = {s: 0.0 for s in STAGES}
    from tqdm import tqdm

    bar = tqdm(total=num_frames, initial=reused, desc="simulating", unit="frame", disable=not progress)
    try:
        if workers == 1 or len(todo) <= 1:    # in this process: leave its torch thread count alone
            for i in todo:
                frame = simulate_frame(i, config, nthreads=0)
                metas[i] = write_frame(root, frame, config)
                for s in STAGES:
                    stage_sums[s] += frame.timings[s]
                bar.update(1)
        else:
            ctx = mp.get_context("spawn")
            with ctx.Pool(min(workers, len(todo)), initializer=_init_worker, initargs=(root, config.to_dict())) as pool:
                for i, meta, timings in pool.imap_unordered(_work, todo, chunksize=1):
                    metas[i] = meta
                    for s in STAGES:
                        stage_sums[s] += timings[s]
                    bar.update(1)
    finally:
        bar.close()
    ordered = [metas[i] for i in range(num_frames)]
    _write_indices(root, train, ordered, config)
    stats = _dataset_stats(ordered)
    _write_sim_meta(root, config, num_frames, complete=True, stats=stats)
    seconds = time.perf_counter() - start
    n_gen = len(todo)
    return {"root": root, "frames": num_frames, "generated": n_gen, "reused": reused, "workers": workers,
            "seconds": seconds, "seconds_per_frame": seconds / n_gen if n_gen else 0.0,
            "mean_stage_seconds": {s: v / n_gen for s, v in stage_sums.items()} if n_gen else {},
            "stats": stats}


def _write_indices(root: str, train: str, metas: list[dict], config: SimConfig) -> None:
    names = [frame_name(m["image"]["id"]) for m in metas]
    val = [n for i, n in enumerate(names) if i % config.val_every == config.val_every - 1]
    trn = [n for i, n in enumerate(names) if i % config.val_every != config.val_every - 1]
    kitti_io.write_image_set(os.path.join(root, "ImageSets", "train.txt"), trn)
    kitti_io.write_image_set(os.path.join(root, "ImageSets", "val.txt"), val)
    kitti_io.write_image_set(os.path.join(root, "ImageSets", "trainval.txt"), names)
    categories = C.coco_categories()
    info = {"description": "perception simulated driving benchmark", "version": GENERATOR_VERSION,
            "seed": config.seed}
    panoptic = {
        "info": info, "licenses": [], "categories": categories,
        "images": [m["image"] for m in metas],
        "annotations": [{"image_id": m["image"]["id"], "file_name": m["image"]["file_name"],
                         "segments_info": m["segments_info"]} for m in metas],
    }
    atomic_write_text(os.path.join(train, "panoptic.json"), _json_text(panoptic))
    points = {
        "info": {**info, "format": "perception point labels v1: one labelled pixel per panoptic segment; "
                                   "x = column, y = row (pixel centre at x + 0.5, y + 0.5)"},
        "categories": categories,
        "images": [{**m["image"], "points": m["points"]} for m in metas],
    }
    atomic_write_text(os.path.join(train, "point_labels.json"), _json_text(points))


def _dataset_stats(metas: list[dict]) -> dict:
    pts = np.array([m["stats"]["lidar_points"] for m in metas], np.float64)
    objects: dict[str, dict[str, int]] = {}
    layouts: dict[str, int] = {}
    for m in metas:
        layouts[m["stats"]["layout"]] = layouts.get(m["stats"]["layout"], 0) + 1
        for name, by_status in m["stats"]["objects"].items():
            for status, n in by_status.items():
                objects.setdefault(name, {}).setdefault(status, 0)
                objects[name][status] += n
    return {"lidar_points_mean": round(float(pts.mean()), 1), "lidar_points_min": int(pts.min()),
            "lidar_points_max": int(pts.max()), "layouts": dict(sorted(layouts.items())),
            "objects": {k: dict(sorted(v.items())) for k, v in sorted(objects.items())},
            "labels": int(sum(m["stats"]["labels"] for m in metas)),
            "dontcare": int(sum(m["stats"]["dontcare"] for m in metas))}


def _write_sim_meta(root: str, config: SimConfig, num_frames: int, *, complete: bool, stats: Optional[dict]) -> None:
    n_val = sum(1 for i in range(num_frames) if i % config.val_every == config.val_every - 1)
    meta = {"generator": "perception.datasets.sim", "generator_version": GENERATOR_VERSION,
            "fingerprint": config.fingerprint(), "seed": config.seed, "num_frames": num_frames,
            "complete": complete, "splits": {"train": num_frames - n_val, "val": n_val},
            "config": config.to_dict(), "stats": stats}
    atomic_write_text(os.path.join(root, "sim_meta.json"), json.dumps(meta, indent=2, sort_keys=True) + "\n")
