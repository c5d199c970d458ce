"""Small simulated datasets shared by the simulator tests (tiny preset, 3 frames)."""
from __future__ import annotations

import pytest

from perception.datasets.sim import SimConfig, generate_dataset

NUM_FRAMES = 3


@pytest.fixture(scope="session")
def tiny_config() -> SimConfig:
    return SimConfig.tiny(seed=0)


@pytest.fixture(scope="session")
def sim_root(tmp_path_factory, tiny_config):
    """3 tiny frames, seed 0, one worker."""
    root = tmp_path_factory.mktemp("sim_w1")
    generate_dataset(root, num_frames=NUM_FRAMES, config=tiny_config, workers=1, progress=False)
    return root


@pytest.fixture(scope="session")
def sim_root_w2(tmp_path_factory, tiny_config):
    """The same 3 frames made by a second run with two worker processes."""
    root = tmp_path_factory.mktemp("sim_w2")
    generate_dataset(root, num_frames=NUM_FRAMES, config=tiny_config, workers=2, progress=False)
    return root
