"""Point labels: deriving them from panoptic annotations (seeded, inside their segments), loading them with
clear errors, ``tools/make_point_labels.py``, and the camera transforms that carry them through resizing and
flipping."""
from __future__ import annotations

import json
import pathlib
import runpy

import numpy as np
import pytest
from PIL import Image

from perception.datasets.point_labels import (PointLabelError, derive_point_label_set, derive_point_labels,
                                              image_seed, load_point_labels, read_panoptic_png, save_point_labels)
from perception.datasets.sim.categories import coco_categories, ids_to_rgb

REPO = pathlib.Path(__file__).resolve().parents[2]
CATS = [{"id": 1, "name": "car", "isthing": 1}, {"id": 4, "name": "road", "isthing": 0}]


def panoptic_map():
    """20x30: road (4000) everywhere, car 1001 (rows 2-9, cols 2-11), car 1002 (rows 12-17, cols 15-26),
    a crowd of cars 1003 (rows 2-5, cols 20-27), a void strip in column 29."""
    ids = np.full((20, 30), 4000, np.int64)
    ids[2:10, 2:12] = 1001
    ids[12:18, 15:27] = 1002
    ids[2:6, 20:28] = 1003
    ids[:, 29] = 0
    segs = [{"id": 4000, "category_id": 4}, {"id": 1001, "category_id": 1}, {"id": 1002, "category_id": 1},
            {"id": 1003, "category_id": 1, "iscrowd": 1}]
    return ids, segs


def test_derived_points_are_seeded_interior_and_skip_crowd_and_void():
    ids, segs = panoptic_map()
    pts = derive_point_labels(ids, segs, CATS, np.random.default_rng(3))
    assert [p.segment_id for p in pts] == [1001, 1002, 4000]  # no point for the crowd, none for void
    for p in pts:
        assert ids[p.y, p.x] == p.segment_id
        assert p.isthing == (p.category_id == 1)
    car = next(p for p in pts if p.segment_id == 1001)
    # 8x10 box: distance to the border is largest (4) in rows 5-6, so interior candidates have distance >= 2
    assert 3 <= car.y <= 8 and 3 <= car.x <= 10
    again = derive_point_labels(ids, segs, CATS, np.random.default_rng(3))
    assert again == pts
    others = [derive_point_labels(ids, segs, CATS, np.random.default_rng(s)) for s in range(4, 10)]
    assert any(o != pts for o in others)


def test_interior_fraction_one_picks_only_the_deepest_pixels():
    ids = np.full((9, 9), 4000, np.int64)
    ids[1:8, 1:8] = 1001  # 7x7 square: a single deepest pixel at its centre
    for seed in range(5):
        pts = derive_point_labels(ids, [{"id": 4000, "category_id": 4}, {"id": 1001, "category_id": 1}], CATS,
                                  np.random.default_rng(seed), interior_fraction=1.0)
        assert (pts[0].x, pts[0].y) == (4, 4)


def test_derive_rejects_inconsistent_annotations():
    ids, segs = panoptic_map()
    with pytest.raises(PointLabelError, match=r"x.png: segment id\(s\) \[1002\] are in the PNG but not in segments_info"):
        derive_point_labels(ids, [s for s in segs if s["id"] != 1002], CATS, np.random.default_rng(0), where="x.png")
    with pytest.raises(PointLabelError, match=r"\[7\] of segments_info have no pixel"):
        derive_point_labels(ids, segs + [{"id": 7, "category_id": 4}], CATS, np.random.default_rng(0))
    with pytest.raises(PointLabelError, match="category_id 9 is not a known category"):
        derive_point_labels(ids, segs + [{"id": 8, "category_id": 9}], CATS, np.random.default_rng(0))


def write_coco_panoptic(root: pathlib.Path, maps: dict[str, tuple[np.ndarray, list]]) -> pathlib.Path:
    (root / "panoptic").mkdir(parents=True)
    images, anns = [], []
    for i, (name, (ids, segs)) in enumerate(maps.items()):
        Image.fromarray(ids_to_rgb(ids)).save(root / "panoptic" / name)
        images.append({"id": i, "file_name": name, "width": ids.shape[1], "height": ids.shape[0]})
        anns.append({"image_id": i, "file_name": name, "segments_info": segs})
    path = root / "panoptic.json"
    path.write_text(json.dumps({"images": images, "annotations": anns, "categories": CATS}))
    return path


def test_derive_set_is_per_image_deterministic_and_round_trips(tmp_path):
    ids, segs = panoptic_map()
    js = write_coco_panoptic(tmp_path, {"a.png": (ids, segs), "b.png": (ids[:, ::-1].copy(), segs)})
    labels = derive_point_label_set(js, seed=5, progress=False)
    assert [im.file_name for im in labels.images] == ["a.png", "b.png"]
    assert labels.info["seed"] == 5
    # an image's points depend on (seed, its file name) only
    assert labels.images[0].points == tuple(derive_point_labels(ids, segs, CATS,
                                                                np.random.default_rng(image_seed(5, "a.png"))))
    save_point_labels(tmp_path / "pts.json", labels)
    loaded = load_point_labels(tmp_path / "pts.json")
    assert loaded.images == labels.images and loaded.get("b.png").width == 30
    with pytest.raises(PointLabelError, match="no image with file_name 'c.png'"):
        loaded.get("c.png")


def test_derived_labels_match_the_simulators_segments(tiny_sim_dataset):
    train = tiny_sim_dataset / "training"
    derived = derive_point_label_set(train / "panoptic.json", seed=0, progress=False)
    sim = load_point_labels(train / "point_labels.json")
    assert len(derived) == len(sim) == 4
    for d, s in zip(derived.images, sim.images):
        assert d.file_name == s.file_name
        assert sorted(p.segment_id for p in d.points) == sorted(p.segment_id for p in s.points)
        ids = read_panoptic_png(train / "panoptic" / d.file_name)
        assert all(ids[p.y, p.x] == p.segment_id for p in d.points)


def good_doc():
    return {"info": {}, "categories": coco_categories(),
            "images": [{"id": 0, "file_name": "000000.png", "width": 40, "height": 20,
                        "points": [{"x": 3, "y": 4, "category_id": 1, "segment_id": 1001, "isthing": True},
                                   {"x": 30, "y": 15, "category_id": 4, "segment_id": 4000, "isthing": False}]}]}


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d["images"][0]["points"][0].pop("x"), r"image '000000.png' \(images\[0\]\): points\[0\]: missing field 'x'"),
    (lambda d: d["images"][0]["points"][1].update(y=20), r"points\[1\]: pixel \(x=30, y=20\) is outside the 40x20 image"),
    (lambda d: d["images"][0]["points"][0].update(category_id=42), "category_id 42 is not in 'categories'"),
    (lambda d: d["images"][0]["points"][0].update(isthing=False), "isthing=False contradicts category 1"),
    (lambda d: d["images"][0]["points"][0].update(x="3"), "field 'x' must be an integer"),
    (lambda d: d["images"][0]["points"][0].update(x=True), "field 'x' must be an integer"),
    (lambda d: d["images"][0]["points"][1].update(segment_id=1001), r"segment_id\(s\) \[1001\] have more than one point"),
    (lambda d: d["images"].append(dict(d["images"][0])), "duplicate file_name"),
    (lambda d: d.pop("categories"), "field 'categories' must be a non-empty list"),
    (lambda d: d["images"][0].pop("width"), "missing field 'width'"),
])
def test_loader_names_file_image_and_field(tmp_path, mutate, message):
    doc = good_doc()
    mutate(doc)
    path = tmp_path / "pl.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(PointLabelError, match=message) as info:
        load_point_labels(path)
    assert str(path) in str(info.value)


def test_loader_reports_broken_json_and_missing_files(tmp_path):
    path = tmp_path / "pl.json"
    path.write_text('{"categories": [,]}')
    with pytest.raises(PointLabelError, match=r"pl.json: not valid JSON \(line 1, column 17"):
        load_point_labels(path)
    with pytest.raises(PointLabelError, match="point-label file not found"):
        load_point_labels(tmp_path / "missing.json")
    path.write_text(json.dumps(good_doc()))
    assert len(load_point_labels(path).images[0].points) == 2


def test_cli_writes_labels_and_refuses_bad_annotations(tmp_path, capsys):
    ids, segs = panoptic_map()
    js = write_coco_panoptic(tmp_path, {"a.png": (ids, segs), "b.png": (ids, segs[:2])})  # b lacks segment 1002
    main = runpy.run_path(str(REPO / "tools" / "make_point_labels.py"))["main"]
    out = tmp_path / "points.json"
    assert main(["--panoptic-json", str(js), "--out", str(out), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "skipped b.png" in err and "[1002, 1003] are in the PNG but not in segments_info" in err
    assert not out.exists()  # nothing half-written
    assert main(["--panoptic-json", str(js), "--out", str(out), "--quiet", "--skip-bad", "--seed", "2"]) == 0
    labels = load_point_labels(out)
    assert [im.file_name for im in labels.images] == ["a.png"] and labels.info["seed"] == 2


def test_camera_transforms_keep_points_on_their_segments(tiny_sim_dataset):
    from mmengine.registry import init_default_scope

    import perception.datasets.transforms.panoptic_align  # noqa: F401  (registers the transforms)
    import perception.datasets.transforms.panoptic_load_annotations  # noqa: F401
    import perception.datasets.transforms.panoptic_load_points  # noqa: F401
    import perception.datasets.transforms.panoptic_pack  # noqa: F401
    from perception.datasets import KittiDataset

    init_default_scope("perception")
    for flip in (0.0, 1.0):
        pipeline = [dict(type="LoadImageFromFileRGB"), dict(type="LoadPointLabels"),
                    dict(type="LoadPanopticAnnotations", with_map=True),
                    dict(type="mmdet.Resize", scale=(207, 63), keep_ratio=True),
                    dict(type="mmdet.RandomFlip", prob=flip), dict(type="AlignPanopticToImage"),
                    dict(type="PackPanopticInputs")]
        ds = KittiDataset(str(tiny_sim_dataset), "kitti_infos_train.pkl", pipeline=pipeline, filter_empty_gt=False,
                          modality=dict(use_lidar=False, use_camera=True), test_mode=True)
        out = ds[0]
        sample = out["data_samples"]
        assert tuple(out["inputs"].shape) == (3, 63, 207) and sample.metainfo["img_shape"] == (63, 207)
        ids = sample.gt_panoptic.ids[0]
        pts = sample.gt_points
        assert ids.shape == (63, 207) and len(pts.coords) > 5
        on_segment = ids[pts.coords[:, 1], pts.coords[:, 0]] == pts.segment_ids
        assert on_segment.float().mean() >= 0.9  # a point may fall off a segment only where it is 1-2 pixels wide
        assert (pts.labels == pts.category_ids - 1).all()  # simulator category ids are 1-based, labels 0-based
        assert {s["label"] for s in sample.metainfo["gt_segments_info"]} <= set(range(8))
