"""The inference node: sustained throughput, latency, the node's own overhead, and overload behaviour.

Input: ``--frames`` simulated frames (full KITTI size by default, seed ``--seed``, generated into ``--data-root``
or reused) as the sensor messages :func:`perception.ros.recording.frame_messages` makes (bgr8 image, x y z
intensity cloud, CameraInfo, the extrinsic on ``/tf_static``), cycled and re-stamped; output: every message
serialized to ROS 1 bytes, as a bag or TCPROS transport would write it.  The models are the fusion config's
(``--config``, shipped checkpoints).

1. **Sustained** (``--sustained`` frames): every frame is processed before the next one is offered (the
   bag replay's maximum rate).  Reports frames per second, p50/p99 latency (from the arrival of the message
   that completes the frame to the last output serialized), and the node's overhead (decoding the image and
   cloud, synchronising, building and serializing every output message) as a share of the frame time
   (overhead + inference).
   Target: overhead < 10 %.
2. **Overload** (``--overload-seconds``): a feeder thread offers frames at ``--overload-factor`` x the
   sustained rate for the given wall time while the node's worker runs behind its drop-oldest queues; the
   process's resident memory is sampled every second.  Reports offered / processed / dropped frames, the
   largest queue length seen, and the memory at the start and end with the least-squares slope (MB/min) over
   the second half of the run (after warm-up).  Target: bounded queues, dropped frames counted, flat memory.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import resource
import threading
import time

import numpy as np

__all__ = ["add_arguments", "run"]

TARGET_OVERHEAD_SHARE = 0.10


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", default="configs/fusion/fusion_clocs_sim.py")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--data-root", default="data/bench_ros_sim")
    parser.add_argument("--frames", type=int, default=3, help="distinct simulated frames, cycled (default: 3)")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--tiny", action="store_true", help="the simulator's small test preset")
    parser.add_argument("--sustained", type=int, default=20, help="frames of the sustained phase (default: 20)")
    parser.add_argument("--warmup", type=int, default=2, help="frames before measuring (default: 2)")
    parser.add_argument("--overload-seconds", type=float, default=60.0,
                        help="wall time of the overload phase, s (default: 60; 0 skips it)")
    parser.add_argument("--overload-factor", type=float, default=2.0,
                        help="offered rate / sustained rate in the overload phase (default: 2)")
    parser.add_argument("--no-panoptic", action="store_true", help="fusion without the panoptic model")


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _stamped(messages, stamp: float):
    """The messages of one frame re-stamped at ``stamp`` (cloud) / ``stamp + 0.01`` (camera)."""
    from perception.ros.recording import header

    out = []
    for topic, t, msg in messages:
        if not hasattr(msg, "header"):
            out.append((topic, msg))
            continue
        offset = t - messages[0][1]
        out.append((topic, dataclasses.replace(msg, header=header(stamp + offset, msg.header.frame_id))))
    return out


def _pct(values, q) -> float:
    return float(np.percentile(np.asarray(values), q)) if len(values) else float("nan")


def run(args: argparse.Namespace) -> dict:
    from perception.apis import FusionDetector
    from perception.apis.demo import prepare_demo_frames
    from perception.apis.model_zoo import repo_path
    from perception.datasets import kitti_io
    from perception.ros.node import InferenceNode
    from perception.ros.params import NodeParams
    from perception.ros.recording import frame_messages
    from perception.ros.typestore import ros1_typestore

    store = ros1_typestore()
    params = NodeParams(config=args.config, device=args.device, with_panoptic=not args.no_panoptic,
                        diagnostics_period=1.0, frame_queue_size=2, input_queue_size=4)
    ids = prepare_demo_frames(args.data_root, args.frames, seed=args.seed, tiny=args.tiny, log=lambda _: None)
    frames = [kitti_io.read_frame(args.data_root, i) for i in ids]
    templates = [frame_messages(f, stamp=0.0, params=params, with_tf=(k == 0)) for k, f in enumerate(frames)]
    detector = FusionDetector(config=repo_path(args.config), device=args.device,
                              with_panoptic=not args.no_panoptic)
    written = {"bytes": 0, "messages": 0}

    def publish(topic, msg):               # what a bag or TCPROS transport does with each output
        written["bytes"] += len(store.serialize_ros1(msg, msg.__msgtype__))
        written["messages"] += 1

    node = InferenceNode(params=params, detector=detector, class_names=detector.config.class_names, publish=publish)
    clock = {"t": 1000.0}

    def offer(k: int) -> None:
        clock["t"] += 0.1
        for topic, msg in _stamped(templates[k % len(templates)], clock["t"]):
            node.handle(topic, msg)

    # 1. sustained: offer, process, repeat
    for k in range(args.warmup):
        offer(k)
        node.process_pending()
    node.stats.latency_s.clear(), node.stats.inference_s.clear(), node.stats.overhead_s.clear()
    t0 = time.perf_counter()
    for k in range(args.sustained):
        offer(k)
        node.process_pending()
    wall = time.perf_counter() - t0
    s = node.stats
    inference, overhead = np.asarray(s.inference_s), np.asarray(s.overhead_s)
    share = float(np.median(overhead / (overhead + inference)))
    fps = args.sustained / wall
    report = {
        "frames": {"count": len(frames), "image_hw": list(frames[0].image.shape[:2]),
                   "points": [int(len(f.points)) for f in frames]},
        "torch_threads": __import__("torch").get_num_threads(),
        "sustained": {
            "frames": args.sustained, "fps": fps, "latency_p50_ms": 1e3 * _pct(s.latency_s, 50),
            "latency_p99_ms": 1e3 * _pct(s.latency_s, 99), "inference_p50_ms": 1e3 * _pct(s.inference_s, 50),
            "node_overhead_p50_ms": 1e3 * _pct(s.overhead_s, 50), "node_overhead_p99_ms": 1e3 * _pct(s.overhead_s, 99),
            "node_overhead_share_median": share, "target_overhead_share": TARGET_OVERHEAD_SHARE,
            "meets_target": share < TARGET_OVERHEAD_SHARE, "output_bytes_per_frame": written["bytes"] / max(
                1, args.sustained + args.warmup)},
    }

    # 2. overload: a feeder at factor x the sustained rate, the worker behind bounded queues
    if args.overload_seconds > 0:
        processed0, dropped0 = s.frames_processed, node.frames.dropped
        unmatched0 = sum(node.sync.dropped.values())
        stop = threading.Event()
        offered = {"n": 0}
        max_queue = {"n": 0}
        period = 1.0 / (args.overload_factor * fps)

        def feeder():
            next_t = time.perf_counter()
            while not stop.is_set():
                offer(offered["n"])
                offered["n"] += 1
                max_queue["n"] = max(max_queue["n"], len(node.frames))
                next_t += period
                stop.wait(max(0.0, next_t - time.perf_counter()))

        rss = []
        node.start()
        thread = threading.Thread(target=feeder, daemon=True)
        t_start = time.perf_counter()
        thread.start()
        while time.perf_counter() - t_start < args.overload_seconds:
            rss.append((time.perf_counter() - t_start, _rss_mb()))
            time.sleep(1.0)
        stop.set()
        thread.join()
        node.stop()
        elapsed = time.perf_counter() - t_start
        t, m = np.asarray(rss).T
        half = t >= t[-1] / 2
        slope = float(np.polyfit(t[half], m[half], 1)[0] * 60) if half.sum() >= 3 else float("nan")
        processed = s.frames_processed - processed0
        report["overload"] = {
            "seconds": elapsed, "offered_fps": offered["n"] / elapsed, "processed_fps": processed / elapsed,
            "frames_offered": offered["n"], "frames_processed": processed,
            "frames_dropped_queue_full": node.frames.dropped - dropped0,
            "messages_dropped_unmatched": sum(node.sync.dropped.values()) - unmatched0,
            "frame_queue_max": max_queue["n"], "frame_queue_size": params.frame_queue_size,
            "latency_p50_ms": 1e3 * _pct(list(s.latency_s)[-processed:], 50),
            "latency_p99_ms": 1e3 * _pct(list(s.latency_s)[-processed:], 99),
            "rss_mb_start": float(m[0]), "rss_mb_end": float(m[-1]), "rss_mb_max": float(m.max()),
            "rss_slope_mb_per_min_second_half": slope,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        }
    return report
