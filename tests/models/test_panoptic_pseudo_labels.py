"""Minimum traversing distance and the pseudo-label parser on small synthetic images with known answers."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from perception.models.camera.panoptic import (ImagePoints, PointPseudoLabeler, boundary_map, rgb_to_lab,
                                               traversal_distances)
from perception.models.camera.panoptic.traversal import GRID_OFFSETS, grid_edges


def bellman_ford(costs: np.ndarray, source: int) -> np.ndarray:
    """Reference shortest paths by repeated relaxation over the explicit edge list."""
    _, h, w = costs.shape
    src, dst, idx = grid_edges(h, w)
    wgt = costs.reshape(-1)[idx]
    dist = np.full(h * w, np.inf)
    dist[source] = 0.0
    for _ in range(h * w):
        before = dist.copy()
        np.minimum.at(dist, dst, dist[src] + wgt)
        np.minimum.at(dist, src, dist[dst] + wgt)
        if np.array_equal(before, dist):
            break
    return dist.reshape(h, w)


def test_uniform_costs_give_the_octile_distance():
    h, w = 6, 9
    lengths = np.array([math.hypot(dy, dx) for dy, dx in GRID_OFFSETS]).reshape(4, 1, 1)
    d = traversal_distances(np.broadcast_to(lengths, (4, h, w)).copy(), np.array([2 * w + 3]))[0]
    ys, xs = np.mgrid[0:h, 0:w]
    dy, dx = np.abs(ys - 2), np.abs(xs - 3)
    octile = np.maximum(dy, dx) + (math.sqrt(2) - 1) * np.minimum(dy, dx)
    np.testing.assert_allclose(d, octile, atol=1e-9)


def test_random_costs_match_bellman_ford_from_several_sources():
    rng = np.random.default_rng(0)
    costs = rng.uniform(0, 2, (4, 7, 8))
    costs[:, 3, :] *= 0  # zero-cost edges are edges too
    sources = np.array([0, 27, 55])
    d = traversal_distances(torch.as_tensor(costs), torch.as_tensor(sources))
    assert d.shape == (3, 7, 8)
    for k, s in enumerate(sources):
        np.testing.assert_allclose(d[k], bellman_ford(costs, s), atol=1e-9)


def test_traversal_rejects_bad_inputs():
    with pytest.raises(ValueError, match="non-negative"):
        traversal_distances(-np.ones((4, 3, 3)), [0])
    with pytest.raises(ValueError, match=r"must be \(4, h, w\)"):
        traversal_distances(np.ones((3, 3, 3)), [0])
    with pytest.raises(ValueError, match="source indices"):
        traversal_distances(np.ones((4, 3, 3)), [9])


def two_region_image(h=24, w=40, split=17):
    """Left part red, right part blue (RGB in [0, 1])."""
    img = torch.zeros(1, 3, h, w)
    img[:, 0, :, :split] = 1.0
    img[:, 2, :, split:] = 1.0
    return img


def test_two_flat_regions_of_one_class_go_to_their_own_points():
    img = two_region_image()
    bnd = boundary_map(rgb_to_lab(img))[0]
    probs = torch.zeros(3, 24, 40)
    probs[0] = 1.0  # one class everywhere: only the colour boundary separates the two instances
    pts = ImagePoints(coords=torch.tensor([[2, 20], [38, 1]]), labels=torch.tensor([0, 0]),
                      isthing=torch.tensor([True, True]))
    out = PointPseudoLabeler(boundary=1.0, semantic=1.0)(probs, bnd, pts, stride=1, out_shape=(24, 40))
    assert (out.instance[:, :17] == 0).all() and (out.instance[:, 17:] == 1).all()
    assert (out.semantic == 0).all()
    # without the boundary cue the split follows the geodesic (here Euclidean-like) distance instead
    plain = PointPseudoLabeler(boundary=0.0)(probs, bnd, pts, stride=1, out_shape=(24, 40))
    assert (plain.instance[:, :17] == 0).float().mean() < 1.0


def test_regions_of_two_classes_follow_the_class_probabilities_and_the_grid_stride():
    # a 4x coarser grid: class 1 on grid columns 0-4, class 2 on columns 5-9; input is 40x16
    probs = torch.zeros(3, 4, 10)
    probs[1, :, :5] = 1.0
    probs[2, :, 5:] = 1.0
    pts = ImagePoints(coords=torch.tensor([[3, 3], [37, 12]]), labels=torch.tensor([1, 2]),
                      isthing=torch.tensor([True, False]))
    out = PointPseudoLabeler(boundary=0.0)(probs, torch.zeros(4, 10), pts, stride=4, out_shape=(16, 40))
    assert (out.semantic[:, :18] == 1).all() and (out.semantic[:, 22:] == 2).all()
    assert (out.instance[:, :18] == 0).all() and (out.instance[:, 22:] == -1).all()  # stuff has no instance
    # around the class change the upsampled probabilities are mixed: nothing wrong is labelled there
    mixed = out.semantic[:, 18:22]
    assert ((mixed == 1) | (mixed == 2) | (mixed == 255)).all()


def test_uncertain_pixels_are_ignored_but_each_point_keeps_its_pixel():
    probs = torch.full((2, 6, 6), 0.5)
    probs[0, :, :3] = 0.45  # left: neither class reaches 0.55
    probs[1, :, :3] = 0.55
    probs[0, :, 3:] = 0.9
    probs[1, :, 3:] = 0.1
    pts = ImagePoints(coords=torch.tensor([[0, 0], [5, 5]]), labels=torch.tensor([0, 1]),
                      isthing=torch.tensor([False, False]))
    out = PointPseudoLabeler(boundary=0.0, min_class_prob=0.6, stuff_distance=0.0)(
        probs, torch.zeros(6, 6), pts, stride=1, out_shape=(6, 6))
    assert out.semantic[0, 0] == 0  # the point overrides its own (uncertain) pixel
    assert (out.semantic[1:, :3] == 255).all()
    confident = probs[0] > 0.6
    confident[5, 5] = False
    assert (out.semantic[confident] == 0).all()  # stuff class 0 claims by probability, even near point 1 ...
    assert out.semantic[5, 5] == 1               # ... but not point 1's own pixel


def test_instance_embeddings_split_touching_instances_of_one_class():
    h, w = 10, 20
    probs = torch.zeros(2, h, w)
    probs[0] = 1.0
    emb = torch.zeros(2, h, w)
    emb[0, :, :12] = 1.0   # instance A: columns 0-11
    emb[1, :, 12:] = 1.0   # instance B: columns 12-19
    pts = ImagePoints(coords=torch.tensor([[1, 5], [18, 5]]), labels=torch.tensor([0, 0]),
                      isthing=torch.tensor([True, True]))
    lab = PointPseudoLabeler(boundary=0.0, embedding=2.0)
    out = lab(probs, torch.zeros(h, w), pts, stride=1, out_shape=(h, w), embedding=emb)
    assert (out.instance[:, :12] == 0).all() and (out.instance[:, 12:] == 1).all()
    no_emb = lab(probs, torch.zeros(h, w), pts, stride=1, out_shape=(h, w))
    assert (no_emb.instance[:, 10:12] == 1).any()  # by distance alone the split is in the middle (column 10)


def test_point_class_probs_drop_absent_classes():
    logits = torch.randn(4, 3, 3)
    pts = ImagePoints(coords=torch.tensor([[0, 0]]), labels=torch.tensor([2]), isthing=torch.tensor([False]))
    p = PointPseudoLabeler.point_class_probs(logits, pts)
    assert torch.allclose(p[2], torch.ones(3, 3)) and (p[[0, 1, 3]] == 0).all()


def test_boundary_map_marks_colour_edges():
    img = two_region_image()
    b = boundary_map(rgb_to_lab(img))[0]
    assert b[:, 16:18].min() > 0.9 and b[:, :14].max() < 1e-6 and b[:, 20:].max() < 1e-6
    lab = rgb_to_lab(torch.tensor([1.0, 1.0, 1.0]).view(1, 3, 1, 1))
    assert lab[0, :, 0, 0].tolist() == pytest.approx([100.0, 0.0, 0.0], abs=0.05)  # white
