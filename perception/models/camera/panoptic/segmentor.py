"""``PanopticSegmentor``: camera image -> backbone -> :class:`~.panoptic_head.PanopticHead` -> panoptic map."""
from __future__ import annotations

from typing import Optional, Sequence, Union

from mmengine.model import BaseModel
from torch import Tensor

from perception.registry import MODELS

from .image_cues import images_from_preprocessor

__all__ = ["PanopticSegmentor", "attach_panoptic_predictions"]


def attach_panoptic_predictions(samples: Sequence, results: Sequence) -> Sequence:
    """Store each :class:`~.panoptic_result.PanopticResult` as ``sample.pred_panoptic``."""
    for sample, result in zip(samples, results):
        sample.pred_panoptic = result
    return samples


@MODELS.register_module()
class PanopticSegmentor(BaseModel):
    """A backbone (any mmdet/perception backbone returning the head's ``in_strides`` levels) and a panoptic head.

    Args:
        backbone: backbone config, e.g. ``dict(type="mmdet.ResNet", depth=18, base_channels=32, ...)``.
        panoptic_head: :class:`~.panoptic_head.PanopticHead` config.
        data_preprocessor: e.g. ``mmdet.DetDataPreprocessor`` with ``mean``/``std`` (RGB, 0-255 units) and
            ``pad_size_divisor=32``; its mean/std also give the head the un-normalised image (colour cues).

    ``forward(inputs, data_samples, mode)``: ``"loss"`` -> loss dict; ``"predict"`` -> the samples with
    ``pred_panoptic`` (:class:`~.panoptic_result.PanopticResult`, original image pixels); ``"tensor"`` -> the
    head's raw maps.
    """

    def __init__(self, backbone: dict, panoptic_head: dict, data_preprocessor: Optional[dict] = None,
                 init_cfg=None):
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.backbone = MODELS.build(backbone)
        self.panoptic_head = MODELS.build(panoptic_head)

    def extract_feat(self, inputs: Tensor) -> tuple[Tensor, ...]:
        return tuple(self.backbone(inputs))

    def panoptic_feats(self, inputs: Tensor) -> tuple[Tensor, ...]:
        """The panoptic head's input levels."""
        return self.extract_feat(inputs)

    def images_01(self, inputs: Tensor) -> Tensor:
        """The normalised batch back to RGB in ``[0, 1]`` (for the head's colour cues)."""
        return images_from_preprocessor(inputs, self.data_preprocessor)

    def forward(self, inputs: Tensor, data_samples: Optional[list] = None, mode: str = "tensor"
                ) -> Union[dict, list, dict[str, Tensor]]:
        if mode == "loss":
            return self.loss(inputs, data_samples)
        if mode == "predict":
            return self.predict(inputs, data_samples)
        if mode == "tensor":
            return self.panoptic_head(self.extract_feat(inputs))
        raise ValueError(f"PanopticSegmentor: unknown mode {mode!r} (loss, predict, tensor)")

    def loss(self, inputs: Tensor, data_samples: list) -> dict:
        return self.panoptic_head.loss(self.extract_feat(inputs), data_samples, self.images_01(inputs))

    def predict(self, inputs: Tensor, data_samples: list, rescale: bool = True) -> list:
        results = self.panoptic_head.predict(self.extract_feat(inputs), data_samples, tuple(inputs.shape[-2:]),
                                             rescale=rescale)
        return attach_panoptic_predictions(data_samples, results)
