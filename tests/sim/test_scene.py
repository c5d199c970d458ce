"""Scene sampling, meshes and the sensor models (in memory, no files)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from perception.datasets.sim import SimConfig
from perception.datasets.sim import categories as C
from perception.datasets.sim.labels import points_in_box
from perception.datasets.sim.lidar import beam_elevations, hdl64_elevations, lidar_directions
from perception.datasets.sim.scene import sample_scene


@pytest.fixture(scope="module")
def scenes():
    config = SimConfig(seed=0)
    return config, [sample_scene(np.random.default_rng([0, i]), config) for i in range(12)]


def _local_extent(verts: np.ndarray, box: np.ndarray) -> np.ndarray:
    d = verts.astype(np.float64) - box[:3]
    c, s = math.cos(box[6]), math.sin(box[6])
    local = np.stack([d[:, 0] * c + d[:, 1] * s, -d[:, 0] * s + d[:, 1] * c, d[:, 2]], axis=1)
    return np.stack([local.min(0), local.max(0)])


def test_thing_meshes_fill_their_boxes_exactly(scenes):
    _, all_scenes = scenes
    for scene in all_scenes:
        for thing in scene.things:
            verts, _ = scene.thing_mesh(thing)
            assert points_in_box(verts, thing.box, eps=1e-3).all()
            lo, hi = _local_extent(verts, thing.box)
            assert np.allclose(hi - lo, thing.box[3:6], atol=2e-3)  # tight: touches all six faces
            assert (scene.tri_instance[thing.tri_range[0]:thing.tri_range[1]] == thing.instance).all()
            assert (scene.tri_category[thing.tri_range[0]:thing.tri_range[1]] == thing.category_id).all()


def test_things_stand_on_the_ground_within_range(scenes):
    config, all_scenes = scenes
    for scene in all_scenes:
        for thing in scene.things:
            dist = float(np.hypot(*thing.box[:2]))
            assert config.object_range[0] <= dist <= config.object_range[1]
            bottom = thing.box[2] - thing.box[5] / 2 + config.lidar_height  # height above the road
            assert -0.01 <= bottom <= 0.2, (thing.kind, bottom)
            if thing.kind == "sidewalk":
                assert bottom > 0.05


def test_sizes_and_poses_are_kitti_like(scenes):
    _, all_scenes = scenes
    dims = {C.CAR: [], C.PEDESTRIAN: [], C.CYCLIST: []}
    for scene in all_scenes:
        for thing in scene.things:
            dims[thing.category_id].append(thing.box[3:6])
            if thing.kind in ("lane", "parked", "road_edge") and scene.layout == "straight":
                # aligned with the road (the ego heading is jittered by ~1 deg)
                assert abs(math.sin(thing.box[6])) < 0.2, thing.kind
            if thing.kind == "cross_lane":
                assert abs(math.cos(thing.box[6])) < 0.2
    car = np.array(dims[C.CAR])
    ped = np.array(dims[C.PEDESTRIAN])
    cyc = np.array(dims[C.CYCLIST])
    assert len(car) >= 40 and len(ped) >= 10 and len(cyc) >= 5
    assert np.allclose(car.mean(0), [3.9, 1.6, 1.55], atol=[0.25, 0.1, 0.08])
    assert np.allclose(ped.mean(0), [0.75, 0.6, 1.75], atol=[0.2, 0.1, 0.1])
    assert np.allclose(cyc.mean(0), [1.76, 0.6, 1.73], atol=[0.12, 0.12, 0.12])
    layouts = {scene.layout for scene in all_scenes}
    assert layouts == {"straight", "curve", "intersection"}


def test_hdl64_beam_geometry():
    e = hdl64_elevations()
    assert len(e) == 64 and e[0] == pytest.approx(2.0) and e[-1] == pytest.approx(-24.8)
    assert np.all(np.diff(e) < 0)
    upper, lower = -np.diff(e[:32]), -np.diff(e[32:])
    assert np.allclose(upper, 1 / 3, atol=0.01) and np.allclose(lower, 0.515, atol=0.01)
    assert len(beam_elevations(32)) == 32 and set(beam_elevations(32)) <= set(e)
    d = lidar_directions(SimConfig())
    assert d.shape == (64 * 2083, 3)
    assert np.allclose(np.linalg.norm(d, axis=1), 1, atol=1e-5)
