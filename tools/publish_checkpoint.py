"""Strip a training checkpoint to what inference needs (weights + meta), e.g. for ``checkpoints/``.

    python tools/publish_checkpoint.py work_dirs/sst_sim/iter_2000.pth checkpoints/sst_sim.pth

Keeps ``state_dict`` (float32 tensors) and ``meta`` (epoch/iter, seed, mmengine/torch versions), drops the
optimizer, scheduler and message-hub state; the output is written atomically and loads with
``mmengine.runner.load_checkpoint`` (and ``torch.load(..., weights_only=True)``).
"""
from __future__ import annotations

import argparse
import io
import sys

import torch

from perception.engine import load_from_local
from perception.utils.fileio import atomic_write_bytes


def _plain(value):
    """Meta values reduced to types the safe unpickler reads (str/int/float/bool/None, lists, dicts)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", help="training checkpoint written by tools/train.py")
    parser.add_argument("out", help="output .pth")
    args = parser.parse_args(argv)
    ckpt = load_from_local(args.checkpoint, map_location="cpu")
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt:
        parser.error(f"{args.checkpoint}: expected an mmengine checkpoint with a 'state_dict'")
    meta = {k: v for k, v in ckpt.get("meta", {}).items() if k in ("epoch", "iter", "seed", "mmengine_version",
                                                                   "time", "experiment_name")}
    meta["source"] = args.checkpoint
    out = {"state_dict": {k: v.detach().clone() for k, v in ckpt["state_dict"].items()}, "meta": _plain(meta)}
    buffer = io.BytesIO()
    torch.save(out, buffer)
    atomic_write_bytes(args.out, buffer.getvalue())
    print(f"wrote {args.out}: {len(out['state_dict'])} tensors, {buffer.tell() / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
