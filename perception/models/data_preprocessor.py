"""Batches packed LiDAR (and optional camera) inputs and moves them to the model's device."""
from __future__ import annotations

from typing import Optional, Sequence

import torch
from mmengine.model import BaseDataPreprocessor

from perception.registry import MODELS

__all__ = ["Det3DDataPreprocessor"]


@MODELS.register_module()
class Det3DDataPreprocessor(BaseDataPreprocessor):
    """Turns a list of packed samples into model inputs.

    Input (from ``pseudo_collate`` of ``Pack3DDetInputs``)::

        {'inputs': {'points': [Tensor (P_i, C)], 'img': [Tensor (3, H, W) uint8]?},
         'data_samples': [Det3DDataSample]}

    Output::

        {'inputs': {'points': [Tensor (P_i, C)] on device,
                    'imgs': Tensor (B, 3, H_max, W_max) float, normalised, zero-padded}?,
         'data_samples': [...] on device}

    Points stay a per-sample list: voxelization inside the model is dynamic
    and takes the batch index from the list position.

    Args:
        mean, std: per-channel RGB normalisation of images (0-255 scale).
        pad_size_divisor: images are padded to a multiple of this.
    """

    def __init__(self, *, mean: Sequence[float] = (123.675, 116.28, 103.53),
                 std: Sequence[float] = (58.395, 57.12, 57.375), pad_size_divisor: int = 32,
                 non_blocking: bool = False):
        super().__init__(non_blocking=non_blocking)
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(3, 1, 1), persistent=False)
        self.pad_size_divisor = pad_size_divisor

    def forward(self, data: dict, training: bool = False) -> dict:
        data = self.cast_data(data)
        inputs = data["inputs"]
        out: dict = {}
        if "points" in inputs:
            out["points"] = [p.float() for p in inputs["points"]]
        if "img" in inputs:
            out["imgs"] = self._batch_images(inputs["img"], data.get("data_samples"))
        return {"inputs": out, "data_samples": data.get("data_samples")}

    def _batch_images(self, imgs: Sequence[torch.Tensor], data_samples: Optional[list]) -> torch.Tensor:
        h = max(img.shape[1] for img in imgs)
        w = max(img.shape[2] for img in imgs)
        d = self.pad_size_divisor
        h, w = (h + d - 1) // d * d, (w + d - 1) // d * d
        batch = imgs[0].new_zeros((len(imgs), 3, h, w), dtype=torch.float32)
        for i, img in enumerate(imgs):
            batch[i, :, : img.shape[1], : img.shape[2]] = (img.float() - self.mean) / self.std
        if data_samples is not None:
            for sample in data_samples:
                sample.set_metainfo({"batch_input_shape": (h, w)})
        return batch
