"""Panoptic PNGs vs panoptic.json, and the point labels."""
from __future__ import annotations

import json

import numpy as np
from PIL import Image

from perception.datasets import kitti_io
from perception.datasets.sim import CATEGORIES, CATEGORY_BY_ID
from perception.datasets.sim.categories import SKY, ROAD, BUILDING, VEGETATION, rgb_to_ids, segment_category

NUM_FRAMES = 3


def _load(root):
    train = root / "training"
    pan = json.loads((train / "panoptic.json").read_text())
    pts = json.loads((train / "point_labels.json").read_text())
    ids = {i: rgb_to_ids(np.asarray(Image.open(train / "panoptic" / f"{i:06d}.png").convert("RGB")))
           for i in range(NUM_FRAMES)}
    return pan, pts, ids


def test_categories_defined_once_things_first():
    ids = [c.id for c in CATEGORIES]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert [c.name for c in CATEGORIES if c.isthing] == ["Car", "Pedestrian", "Cyclist"]
    assert {c.name for c in CATEGORIES if not c.isthing} == {"road", "sidewalk", "building", "vegetation", "sky"}
    first_stuff = min(c.id for c in CATEGORIES if not c.isthing)
    assert all(c.id < first_stuff for c in CATEGORIES if c.isthing)


def test_png_segments_match_the_json(sim_root, tiny_config):
    pan, _, ids = _load(sim_root)
    assert [c["id"] for c in pan["categories"]] == [c.id for c in CATEGORIES]
    assert [im["id"] for im in pan["images"]] == list(range(NUM_FRAMES))
    for ann in pan["annotations"]:
        img_ids = ids[ann["image_id"]]
        assert img_ids.shape == (tiny_config.image_height, tiny_config.image_width)
        assert ann["file_name"] == f"{ann['image_id']:06d}.png"
        present = set(np.unique(img_ids).tolist())
        listed = {s["id"] for s in ann["segments_info"]}
        assert present == listed and 0 not in present
        assert sum(s["area"] for s in ann["segments_info"]) == img_ids.size
        per_stuff = {}
        for s in ann["segments_info"]:
            mask = img_ids == s["id"]
            assert int(mask.sum()) == s["area"]
            ys, xs = np.nonzero(mask)
            assert s["bbox"] == [int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)]
            assert s["category_id"] == segment_category(s["id"]) and s["iscrowd"] == 0
            if not CATEGORY_BY_ID[s["category_id"]].isthing:
                per_stuff[s["category_id"]] = per_stuff.get(s["category_id"], 0) + 1
        assert all(n == 1 for n in per_stuff.values()), "one segment per stuff class"


def test_every_labelled_thing_has_its_segment(sim_root):
    pan, _, _ = _load(sim_root)
    train = sim_root / "training"
    for ann in pan["annotations"]:
        objects = kitti_io.read_label(train / "label_2" / f"{ann['image_id']:06d}.txt")
        segs = [s for s in ann["segments_info"] if CATEGORY_BY_ID[s["category_id"]].isthing]
        used = set()
        for o in objects:
            if o.type == "DontCare":
                continue
            x1, y1, x2, y2 = o.bbox
            match = [s for s in segs if CATEGORY_BY_ID[s["category_id"]].name == o.type and s["id"] not in used
                     and s["bbox"][0] >= x1 - 1 and s["bbox"][1] >= y1 - 1
                     and s["bbox"][0] + s["bbox"][2] <= x2 + 1 and s["bbox"][1] + s["bbox"][3] <= y2 + 1]
            assert match, f"frame {ann['image_id']}: no segment for {o.to_line()}"
            used.add(max(match, key=lambda s: s["area"])["id"])


def test_one_point_label_per_segment_inside_it(sim_root, tiny_config):
    pan, pts, ids = _load(sim_root)
    assert [c["id"] for c in pts["categories"]] == [c.id for c in CATEGORIES]
    by_image = {a["image_id"]: a for a in pan["annotations"]}
    assert [im["id"] for im in pts["images"]] == list(range(NUM_FRAMES))
    for im in pts["images"]:
        assert (im["width"], im["height"]) == (tiny_config.image_width, tiny_config.image_height)
        assert im["file_name"] == f"{im['id']:06d}.png"
        segs = {s["id"]: s for s in by_image[im["id"]]["segments_info"]}
        seen = [p["segment_id"] for p in im["points"]]
        assert sorted(seen) == sorted(segs), "exactly one point per segment"
        for p in im["points"]:
            assert isinstance(p["x"], int) and isinstance(p["y"], int)
            assert ids[im["id"]][p["y"], p["x"]] == p["segment_id"]
            assert p["category_id"] == segs[p["segment_id"]]["category_id"]
            assert p["isthing"] == CATEGORY_BY_ID[p["category_id"]].isthing


def test_images_look_like_driving_scenes(sim_root, tiny_config):
    _, _, ids = _load(sim_root)
    train = sim_root / "training"
    h, w = tiny_config.image_height, tiny_config.image_width
    road_bottom = []
    for i in range(NUM_FRAMES):
        cat = segment_category(ids[i])
        top = cat[: h // 8]
        assert np.isin(top, [SKY, BUILDING, VEGETATION]).all(), "top rows: sky, buildings or trees only"
        assert (top == SKY).mean() > 0.25
        bottom = cat[-h // 10:, 2 * w // 5: 3 * w // 5]
        road_bottom.append((bottom == ROAD).mean())
        img = kitti_io.read_image(train / "image_2" / f"{i:06d}.png").astype(np.float32)
        sky = img[cat == SKY]
        assert (sky[:, 2] > sky[:, 0]).mean() > 0.9, "the sky is blue-ish"
        assert (cat == ROAD).any()
    assert np.mean(road_bottom) > 0.6, f"bottom centre should be road: {road_bottom}"
