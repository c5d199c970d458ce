"""``TridentStageResNet``: a ResNet whose stage ``trident_stage`` is a weight-shared trident stage."""
from __future__ import annotations

from typing import Optional, Sequence

from mmdet.models.backbones import ResNet
from torch import Tensor, nn

from perception.registry import MODELS

from .trident_conv import TridentConv2d

__all__ = ["TridentStageResNet"]


@MODELS.register_module()
class TridentStageResNet(ResNet):
    """mmdet's ResNet (any depth: BasicBlock 18/34 or Bottleneck 50/101/152) with one trident stage.

    Every ``k x k`` (``k > 1``) convolution of stage ``trident_stage`` becomes a :class:`TridentConv2d`:
    the branches share all weights (convolutions *and* norm layers; the parameter set is exactly the
    plain ResNet's) and differ only in the dilation of those convolutions, ``trident_dilations[b]``.
    In a Bottleneck that is the 3x3 conv (as in the paper); in a BasicBlock both 3x3 convs.

    Layout: stages before the trident stage run once per image; the trident stage's input is repeated
    for the requested branches and everything from there on is **branch-major** along the batch axis:
    ``(n_branches * B, C, H, W)``, rows ``[i * B, (i + 1) * B)`` = branch ``branches[i]``.  Branch norm
    statistics are therefore computed over all branches together.

    Args:
        depth: ResNet depth (18, 34, 50, 101, 152).
        trident_dilations: one dilation per branch, e.g. ``(1, 2, 3)``.
        trident_stage: index (into the built stages) of the trident stage; ``-1`` = the last one
            (the C4 design: ``num_stages=3``, the trident stage at stride 16).
        Other arguments are mmdet ``ResNet``'s; the trident stage's entry of ``dilations`` must be 1 and
        it must not use DCN.

    ``forward(x, branches=None)``: ``x (B, 3, H, W)`` -> tuple of the ``out_indices`` feature maps;
    ``branches`` (default: all) selects which branches run, e.g. ``(1,)`` for TridentNet-Fast.
    """

    def __init__(self, depth: int, trident_dilations: Sequence[int] = (1, 2, 3), trident_stage: int = -1,
                 **kwargs):
        super().__init__(depth=depth, **kwargs)
        n_stages = len(self.res_layers)
        stage = trident_stage + n_stages if trident_stage < 0 else trident_stage
        if not 0 <= stage < n_stages:
            raise ValueError(f"trident_stage={trident_stage} is outside the {n_stages} built stages")
        if self.dilations[stage] != 1:
            raise ValueError(f"the trident stage sets its own dilations; dilations[{stage}] must be 1, "
                             f"got {self.dilations[stage]}")
        if self.dcn is not None and self.stage_with_dcn[stage]:
            raise ValueError("the trident stage cannot use DCN (stage_with_dcn)")
        if not trident_dilations:
            raise ValueError("trident_dilations needs at least one dilation")
        self.trident_stage = stage
        self.trident_dilations = tuple(int(d) for d in trident_dilations)
        self.num_branch = len(self.trident_dilations)
        self._trident_convs = _tridentify(getattr(self, self.res_layers[stage]), self.trident_dilations)
        self._freeze_stages()

    def forward(self, x: Tensor, branches: Optional[Sequence[int]] = None) -> tuple[Tensor, ...]:
        branches = tuple(range(self.num_branch)) if branches is None else tuple(int(b) for b in branches)
        if not branches or any(not 0 <= b < self.num_branch for b in branches):
            raise ValueError(f"branches must be indices in [0, {self.num_branch}), got {branches}")
        for conv in self._trident_convs:
            conv.active_branches = branches
        if self.deep_stem:
            x = self.stem(x)
        else:
            x = self.relu(self.norm1(self.conv1(x)))
        x = self.maxpool(x)
        outs = []
        for i, layer_name in enumerate(self.res_layers):
            if i == self.trident_stage and len(branches) > 1:
                x = x.repeat(len(branches), 1, 1, 1)
            x = getattr(self, layer_name)(x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)


def _tridentify(stage: nn.Module, dilations: tuple[int, ...]) -> list[TridentConv2d]:
    """Replace every ``k x k`` (``k > 1``) ``nn.Conv2d`` inside ``stage`` by a :class:`TridentConv2d`."""
    convs = []
    for parent in list(stage.modules()):
        for name, child in list(parent.named_children()):
            if type(child) is nn.Conv2d and max(child.kernel_size) > 1:
                trident = TridentConv2d.from_conv(child, dilations)
                setattr(parent, name, trident)
                convs.append(trident)
            elif isinstance(child, nn.Conv2d) and max(child.kernel_size) > 1 and not isinstance(child, TridentConv2d):
                raise TypeError(f"cannot make {type(child).__name__} ({name}) a trident convolution; the trident "
                                f"stage supports plain nn.Conv2d layers only")
    if not convs:
        raise ValueError("the trident stage has no k x k convolution to share across branches")
    return convs
