"""perception.benchmarks.timing: round-robin order, per-round ratios and the device checks."""
import argparse
import itertools

import pytest
import torch

from perception.benchmarks import timing


def test_round_robin_calls_each_function_once_per_round_rotating_the_order():
    calls = []
    fns = {name: (lambda name=name: calls.append(name)) for name in "abc"}
    timed = timing.round_robin(fns, torch.device("cpu"), warmup=1, repeats=3)
    assert calls[:3] == ["a", "b", "c"]                       # warm-up round
    assert calls[3:] == ["a", "b", "c", "b", "c", "a", "c", "a", "b"]
    for name in "abc":
        assert len(timed[name]["times_s"]) == 3 and timed[name]["peak_mb"] is None
        assert 0 <= timed[name]["min_s"] <= timed[name]["median_s"]


def test_speed_ratio_is_the_ratio_of_medians_with_per_round_quantiles():
    baseline = {"median_s": 10.0, "times_s": [10.0, 12.0, 8.0, 10.0, 30.0]}
    candidate = {"median_s": 2.0, "times_s": [2.0, 2.0, 2.0, 4.0, 2.0]}
    ratio = timing.speed_ratio(baseline, candidate)
    assert ratio["speedup"] == 5.0
    # per-round ratios 5, 6, 4, 2.5, 15: sorted 2.5, 4, 5, 6, 15 -> q10 at index 0, q90 at index 4
    assert ratio["speedup_q10"] == 2.5 and ratio["speedup_q90"] == 15.0


def test_measure_runs_warmup_then_repeats():
    counter = itertools.count()
    out = timing.measure(lambda: next(counter), torch.device("cpu"), warmup=2, repeats=4)
    assert next(counter) == 6 and set(out) >= {"median_s", "min_s", "peak_mb"}


def test_round_robin_rejects_zero_repeats():
    with pytest.raises(ValueError, match="repeats must be >= 1"):
        timing.round_robin({"a": lambda: None}, torch.device("cpu"), warmup=0, repeats=0)


def test_prepare_device_sets_threads_and_refuses_missing_cuda(monkeypatch):
    before = torch.get_num_threads()
    try:
        assert timing.prepare_device(argparse.Namespace(device="cpu", threads=1), "x").type == "cpu"
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(SystemExit, match="x: --device cuda but torch sees no CUDA GPU"):
        timing.prepare_device(argparse.Namespace(device="cuda", threads=None), "x")


def test_compare_impls_times_both_implementations_in_the_same_rounds():
    calls = []
    row = timing.compare_impls(calls.append, torch.device("cpu"), warmup=0, repeats=3, with_ext=True)
    assert calls == ["reference", "ext", "ext", "reference", "reference", "ext"]
    assert row["reference_s"] >= 0 and row["ext_s"] >= 0 and row["speedup_q10"] <= row["speedup_q90"]
    calls.clear()
    row = timing.compare_impls(calls.append, torch.device("cpu"), warmup=0, repeats=2, with_ext=False)
    assert calls == ["reference", "reference"] and set(row) == {"reference_s", "reference_peak_mb"}
