"""Timing helpers shared by the benchmarks: synchronised wall-clock timing and round-robin comparisons.

A speed ratio between two implementations is only meaningful when both were measured under the same
conditions.  On a small shared machine the load changes within seconds, so timing all repeats of one
implementation and then all of the other lets a load change land on one side only.  :func:`round_robin`
instead calls every candidate once per round (rotating which goes first), so each round's calls see the
same conditions; :func:`speed_ratio` reports the ratio of the medians and the spread of the per-round
ratios, which says how far one run's ratio can be trusted.
"""
from __future__ import annotations

import argparse
import statistics
import time
from typing import Callable, Mapping, Optional

import torch

__all__ = ["compare_impls", "measure", "prepare_device", "round_robin", "speed_ratio", "sync", "time_call"]


def prepare_device(args: argparse.Namespace, benchmark: str) -> torch.device:
    """``args.device`` as a ``torch.device`` (a clear exit when CUDA is asked for but absent); applies
    ``args.threads`` (torch CPU threads) when given."""
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit(f"{benchmark}: --device cuda but torch sees no CUDA GPU")
    if getattr(args, "threads", None):
        torch.set_num_threads(args.threads)
    return device


def sync(device: torch.device) -> None:
    """Wait for the device's queued work (CUDA); a no-op on CPU."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_call(fn: Callable[[], object], device: torch.device) -> float:
    """Seconds one call of ``fn`` takes, queued device work included."""
    sync(device)
    start = time.perf_counter()
    fn()
    sync(device)
    return time.perf_counter() - start


def measure(fn: Callable[[], object], device: torch.device, warmup: int, repeats: int) -> dict:
    """``{"median_s", "min_s", "peak_mb"}`` of ``repeats`` calls after ``warmup``; ``peak_mb`` is the peak CUDA
    memory allocated above what was allocated before (MiB), ``None`` on CPU."""
    return round_robin({"fn": fn}, device, warmup, repeats)["fn"]


def round_robin(fns: Mapping[str, Callable[[], object]], device: torch.device, warmup: int,
                repeats: int) -> dict[str, dict]:
    """Time every function of ``fns`` once per round for ``repeats`` rounds (after ``warmup`` rounds),
    rotating the order each round.

    Returns, per name, ``{"median_s", "min_s", "times_s" (per round), "peak_mb"}``; ``peak_mb`` as in
    :func:`measure`, the largest over the rounds.
    """
    if repeats < 1:
        raise ValueError(f"round_robin: repeats must be >= 1, got {repeats}")
    names = list(fns)
    for _ in range(warmup):
        for name in names:
            fns[name]()
    sync(device)
    times: dict[str, list[float]] = {name: [] for name in names}
    peaks: dict[str, Optional[float]] = {name: None for name in names}
    for r in range(repeats):
        shift = r % len(names)
        for name in names[shift:] + names[:shift]:
            if device.type == "cuda":
                sync(device)
                torch.cuda.reset_peak_memory_stats(device)
                base = torch.cuda.memory_allocated(device)
            times[name].append(time_call(fns[name], device))
            if device.type == "cuda":
                peak = (torch.cuda.max_memory_allocated(device) - base) / 2**20
                peaks[name] = round(max(peak, peaks[name] or 0.0), 2)
    return {name: {"median_s": statistics.median(times[name]), "min_s": min(times[name]),
                   "times_s": times[name], "peak_mb": peaks[name]} for name in names}


def speed_ratio(baseline: dict, candidate: dict) -> dict:
    """How many times faster ``candidate`` is than ``baseline`` (two entries of one :func:`round_robin`).

    ``speedup``: median(baseline) / median(candidate); ``speedup_q10`` / ``speedup_q90``: the 10th and
    90th percentiles of the per-round ratios (how much one round's ratio varies on this machine).
    """
    per_round = sorted(b / c for b, c in zip(baseline["times_s"], candidate["times_s"]))

    def quantile(q: float) -> float:
        return per_round[round(q * (len(per_round) - 1))]

    return {"speedup": round(baseline["median_s"] / candidate["median_s"], 2),
            "speedup_q10": round(quantile(0.1), 2), "speedup_q90": round(quantile(0.9), 2)}


def compare_impls(run_impl: Callable[[str], object], device: torch.device, warmup: int, repeats: int,
                  with_ext: bool) -> dict:
    """An op's PyTorch reference and (``with_ext``) its compiled version, ``run_impl("reference")`` and
    ``run_impl("ext")``, timed in the same rounds by :func:`round_robin`.

    Returns ``{"reference_s", "reference_peak_mb"}``, plus ``ext_s``, ``ext_peak_mb`` and :func:`speed_ratio`'s
    keys (reference over ext) with ``with_ext``; seconds rounded to the microsecond.
    """
    impls = ("reference", "ext") if with_ext else ("reference",)
    timed = round_robin({impl: (lambda impl=impl: run_impl(impl)) for impl in impls}, device, warmup, repeats)
    row = {"reference_s": round(timed["reference"]["median_s"], 6), "reference_peak_mb": timed["reference"]["peak_mb"]}
    if with_ext:
        row.update(ext_s=round(timed["ext"]["median_s"], 6), ext_peak_mb=timed["ext"]["peak_mb"],
                   **speed_ratio(timed["reference"], timed["ext"]))
    return row
