"""The simulated driving benchmark: a deterministic generator of KITTI-format scenes.

Scenes (roads with lanes, sidewalks, buildings, vegetation; cars, pedestrians,
cyclists) are sampled procedurally and observed by ray casting
(``open3d.t.geometry.RaycastingScene``): a 64-beam HDL-64E LiDAR and KITTI's
front colour camera (camera 2) with the real KITTI calibration.  Each frame
comes with KITTI labels, COCO panoptic ground truth and point labels.
``docs/simulator.md`` describes the models and the measured speed.

Quick use::

    from perception.datasets.sim import SimConfig, generate_dataset
    generate_dataset("data/sim", num_frames=500, config=SimConfig(seed=0), workers=2)

or ``python tools/make_sim.py --out data/sim --frames 500 --seed 0 --workers 2``.

Output layout (see :func:`generate_dataset`)::

    <root>/sim_meta.json
    <root>/ImageSets/{train,val,trainval}.txt
    <root>/training/{velodyne,image_2,calib,label_2,panoptic,sim_frames}/NNNNNN.*
    <root>/training/panoptic.json
    <root>/training/point_labels.json

``panoptic.json`` is standard COCO panoptic: ``images`` (``id`` = frame
index, ``file_name`` = ``NNNNNN.png`` in ``image_2/``), ``annotations``
(``image_id``, ``file_name`` = ``NNNNNN.png`` in ``panoptic/``,
``segments_info``: ``id``, ``category_id``, ``iscrowd`` (always 0), ``bbox``
``[x, y, w, h]`` in pixels, ``area`` in pixels) and ``categories`` (``id``,
``name``, ``supercategory``, ``isthing``, ``color``), from
:mod:`perception.datasets.sim.categories`.  Segment ids are
``category_id * 1000 + instance`` (``instance`` 0 for the one segment of a
stuff class).

``point_labels.json`` (schema v1)::

    {
      "info": {...},
      "categories": [ same list as panoptic.json ],
      "images": [
        {"id": 0, "file_name": "000000.png", "width": 1242, "height": 375,
         "points": [
           {"x": 611, "y": 231,          # pixel column and row (integers; centre at x + 0.5, y + 0.5)
            "category_id": 1,            # categories[].id
            "segment_id": 1003,          # the panoptic segment the pixel lies in
            "isthing": true},
           ...]},
        ...]
    }

There is exactly one point per panoptic segment of the image (every thing
instance visible in the image and every stuff class present), drawn with the
frame's seeded random stream among the segment's most interior pixels (at
least half the segment's largest distance to another segment).
"""
from .categories import CATEGORIES, CATEGORY_BY_ID, CATEGORY_BY_NAME, STUFF_CATEGORIES, THING_CATEGORIES, Category
from .config import SimConfig
from .generator import SimDatasetError, SimFrame, frame_name, generate_dataset, simulate_frame, write_frame
from .version import GENERATOR_VERSION

__all__ = [
    "CATEGORIES", "CATEGORY_BY_ID", "CATEGORY_BY_NAME", "STUFF_CATEGORIES", "THING_CATEGORIES", "Category",
    "SimConfig", "SimDatasetError", "SimFrame", "frame_name", "generate_dataset", "simulate_frame", "write_frame",
    "GENERATOR_VERSION",
]
