"""The models that ship with trained weights for the simulated benchmark.

The weights in ``checkpoints/`` were trained here, on the simulated benchmark
(``tools/make_sim.py --frames 500 --seed 0``), with the commands recorded in
``docs/results.md``; they are small and meant for the demo and for tests of
the inference path, not for real-world data.
"""
from __future__ import annotations

import dataclasses
import os

__all__ = ["ModelEntry", "MODEL_ZOO", "repo_path"]

_REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def repo_path(*parts: str) -> str:
    """Absolute path of a file of this repository (configs, checkpoints)."""
    return os.path.join(_REPO, *parts)


@dataclasses.dataclass(frozen=True)
class ModelEntry:
    """One shipped model.

    Attributes:
        name: short name used on the command line.
        task: ``lidar3d``, ``camera2d``, ``panoptic`` or ``fusion``.
        config: config path relative to the repository root.
        checkpoint: checkpoint path relative to the repository root.
        summary: one line for listings.
    """

    name: str
    task: str
    config: str
    checkpoint: str
    summary: str

    @property
    def config_path(self) -> str:
        return repo_path(self.config)

    @property
    def checkpoint_path(self) -> str:
        return repo_path(self.checkpoint)

    @property
    def available(self) -> bool:
        return os.path.isfile(self.checkpoint_path)


MODEL_ZOO: tuple[ModelEntry, ...] = (
    ModelEntry(name="sst", task="lidar3d", config="configs/sst/sst_sim.py", checkpoint="checkpoints/sst_sim.pth",
               summary="SST single-stride sparse transformer (DynamicVFE + 4 SST blocks + CenterHead)"),
    ModelEntry(name="second", task="lidar3d", config="configs/second/second_sim.py",
               checkpoint="checkpoints/second_sim.pth",
               summary="spconv SECOND-style sparse-conv baseline (DynamicVFE + SparseEncoder + CenterHead)"),
    ModelEntry(name="centerpoint_pillar", task="lidar3d",
               config="configs/centerpoint_pillar/centerpoint_pillar_sim.py",
               checkpoint="checkpoints/centerpoint_pillar_sim.pth",
               summary="pillar BEV baseline (DynamicVFE + conv BEV + CenterHead)"),
    ModelEntry(name="tridentnet_fast", task="camera2d", config="configs/tridentnet/tridentnet_fast_sim.py",
               checkpoint="checkpoints/tridentnet_sim.pth",
               summary="TridentNet (scale-aware training) run as TridentNet-Fast: middle branch only"),
    ModelEntry(name="panoptic_points", task="panoptic", config="configs/panoptic/panoptic_points_sim.py",
               checkpoint="checkpoints/panoptic_points_sim.pth",
               summary="pointly-supervised panoptic segmentation (trained from one point per segment)"),
    ModelEntry(name="fusion_clocs", task="fusion", config="configs/fusion/fusion_clocs_sim.py",
               checkpoint="checkpoints/fusion_clocs_sim.pth",
               summary="late fusion of sst + tridentnet_fast + panoptic_points, learned CLOCs-style scorer"),
)
