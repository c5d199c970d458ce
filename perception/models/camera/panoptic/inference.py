"""Run a trained panoptic model on plain camera images (the demo's entry point) and draw the results.

Library::

    model, scale = load_panoptic_model("configs/panoptic/panoptic_points_sim.py", "work_dirs/.../iter_1200.pth")
    result = predict_image(model, image_rgb, scale=scale)     # PanopticResult at the image's size
    overlay = draw_panoptic_result(image_rgb, result)

Command line (one overlay per image; ``--gt`` stacks the ground-truth overlay below)::

    python -m perception.models.camera.panoptic.inference CONFIG CHECKPOINT IMAGE.png --out pred.png \\
        [--gt PANOPTIC.png]
"""
from __future__ import annotations

import argparse
from typing import Optional, Sequence

import numpy as np
import torch

from perception.structures.panoptic_result import PanopticResult
from perception.utils.images import check_rgb_image
from .visualize import draw_panoptic_result

__all__ = ["load_panoptic_model", "predict_image", "main"]


def load_panoptic_model(config: str, checkpoint: Optional[str], device: str = "cpu"):
    """Build the config's model (``PanopticSegmentor`` or ``CameraModel``), load ``checkpoint`` (an mmengine
    checkpoint; trusted local files only: it is unpickled) and return ``(model in eval mode, (w, h) input scale of
    the config's test pipeline)``."""
    from perception.engine import load_model

    model, cfg = load_model(config, checkpoint, device=device)
    scale = next((tuple(t["scale"]) for t in cfg.test_dataloader.dataset.pipeline if t["type"] == "mmdet.Resize"),
                 None)
    if scale is None:
        raise ValueError(f"{config}: the test pipeline has no mmdet.Resize step to take the input scale from")
    return model, scale


@torch.no_grad()
def predict_image(model, image: np.ndarray, *, scale: Sequence[int]) -> PanopticResult:
    """Panoptic prediction of one ``(H, W, 3)`` uint8 RGB image, resized (keeping its aspect ratio) to fit
    ``scale = (w, h)`` as in the test pipeline; the result has the image's size."""
    import mmcv
    from mmdet.structures import DetDataSample

    image = check_rgb_image(image, "predict_image")
    h0, w0 = image.shape[:2]
    resized = mmcv.imrescale(image, tuple(int(v) for v in scale), interpolation="bilinear")
    h, w = resized.shape[:2]
    sample = DetDataSample(metainfo={"img_shape": (h, w), "ori_shape": (h0, w0), "scale_factor": (w / w0, h / h0)})
    inputs = torch.from_numpy(np.ascontiguousarray(resized.transpose(2, 0, 1)))
    out = model.test_step({"inputs": [inputs], "data_samples": [sample]})
    return out[0].pred_panoptic


def main(argv: Optional[Sequence[str]] = None) -> list[str]:
    from perception.datasets.kitti_io import read_image
    from perception.datasets.point_labels import read_panoptic_png
    from perception.visualization import panoptic_overlay, save_image

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("config")
    parser.add_argument("checkpoint")
    parser.add_argument("images", nargs="+")
    parser.add_argument("--out", required=True, help="output PNG (several images: a folder)")
    parser.add_argument("--gt", nargs="*", default=[], help="ground-truth panoptic PNG per image, drawn below")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    if args.gt and len(args.gt) != len(args.images):
        parser.error("--gt needs one panoptic PNG per image")
    model, scale = load_panoptic_model(args.config, args.checkpoint, args.device)
    written = []
    for i, path in enumerate(args.images):
        image = read_image(path)
        canvas = draw_panoptic_result(image, predict_image(model, image, scale=scale))
        if args.gt:
            canvas = np.concatenate([canvas, panoptic_overlay(image, read_panoptic_png(args.gt[i]))], axis=0)
        out = args.out if len(args.images) == 1 else f"{args.out}/{i:03d}.png"
        save_image(out, canvas)
        written.append(out)
        print(f"wrote {out}")
    return written


if __name__ == "__main__":
    main()
