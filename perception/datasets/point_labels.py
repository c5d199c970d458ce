"""Point labels for pointly-supervised panoptic segmentation: one labelled pixel per segment.

File format (``point_labels.json``, schema v1, written by the simulator and by ``tools/make_point_labels.py``)::

    {
      "info": {...},                                   # free-form; "seed" when derived with a seed
      "categories": [{"id", "name", "isthing", ...}],  # the COCO panoptic categories
      "images": [
        {"id": 0, "file_name": "000000.png", "width": 1242, "height": 375,
         "points": [{"x": 611, "y": 231,               # pixel column / row, integers, centre at (x+.5, y+.5)
                     "category_id": 1,                  # categories[].id
                     "segment_id": 1003,                # the panoptic segment the pixel lies in (an id,
                                                        # only used to tell instances apart)
                     "isthing": true}, ...]}, ...]
    }

* :func:`load_point_labels` reads and validates a file into a :class:`PointLabelSet`; every problem raises
  :class:`PointLabelError` naming the file, the image and the field.
* :func:`derive_point_labels` picks one point per segment of a COCO panoptic annotation (PNG ids + its
  ``segments_info``) with a seeded random choice among the segment's most interior pixels;
  :func:`derive_point_label_set` does it for a whole COCO panoptic JSON (also Cityscapes / KITTI-STEP converted
  to COCO panoptic) and ``tools/make_point_labels.py`` is its command line.

Crowd segments (``iscrowd: 1``) get no point: they are not instances and the metric ignores them.  Void
pixels (id 0) belong to no segment.
"""
from __future__ import annotations

import dataclasses
import json
import os
import zlib
from typing import Any, Callable, Iterable, Mapping, Optional, Sequence

import numpy as np

from perception.utils import fileio
from perception.utils.fileio import atomic_write_text

__all__ = [
    "POINT_LABELS_FORMAT", "PointLabel", "ImagePointLabels", "PointLabelSet", "PointLabelError",
    "load_point_labels", "save_point_labels", "derive_point_labels", "derive_point_label_set",
    "read_panoptic_png", "image_seed", "read_json",
]

POINT_LABELS_FORMAT = ("perception point labels v1: one labelled pixel per panoptic segment; x = column, "
                       "y = row (pixel centre at x + 0.5, y + 0.5)")


class PointLabelError(ValueError):
    """A point-label file (or the panoptic annotation it is derived from) is missing or malformed."""


@dataclasses.dataclass(frozen=True)
class PointLabel:
    """One labelled pixel.

    Attributes:
        x, y: pixel column and row (integers; the pixel's centre is ``(x + 0.5, y + 0.5)``), image pixels.
        category_id: COCO category id of the segment.
        segment_id: panoptic segment id (tells instances apart; unique within the image).
        isthing: the category is a thing (countable instances) rather than stuff.
    """

    x: int
    y: int
    category_id: int
    segment_id: int
    isthing: bool

    def to_json(self) -> dict:
        return {"x": int(self.x), "y": int(self.y), "category_id": int(self.category_id),
                "segment_id": int(self.segment_id), "isthing": bool(self.isthing)}


@dataclasses.dataclass(frozen=True)
class ImagePointLabels:
    """The point labels of one image (``width`` x ``height`` pixels)."""

    image_id: Any
    file_name: str
    width: int
    height: int
    points: tuple[PointLabel, ...]

    def arrays(self) -> dict[str, np.ndarray]:
        """``coords`` ``(K, 2)`` int64 ``[x, y]`` pixels, ``category_ids`` / ``segment_ids`` ``(K,)`` int64,
        ``isthing`` ``(K,)`` bool, in file order."""
        k = len(self.points)
        return {
            "coords": np.array([[p.x, p.y] for p in self.points], np.int64).reshape(k, 2),
            "category_ids": np.array([p.category_id for p in self.points], np.int64).reshape(k),
            "segment_ids": np.array([p.segment_id for p in self.points], np.int64).reshape(k),
            "isthing": np.array([p.isthing for p in self.points], bool).reshape(k),
        }

    def to_json(self) -> dict:
        return {"id": self.image_id, "file_name": self.file_name, "width": int(self.width),
                "height": int(self.height), "points": [p.to_json() for p in self.points]}


@dataclasses.dataclass(frozen=True)
class PointLabelSet:
    """A whole point-label file: categories, images (file order) and ``info``."""

    categories: tuple[dict, ...]
    images: tuple[ImagePointLabels, ...]
    info: dict = dataclasses.field(default_factory=dict)
    path: Optional[str] = None

    def __post_init__(self):
        object.__setattr__(self, "_by_name", {im.file_name: im for im in self.images})

    def __len__(self) -> int:
        return len(self.images)

    def get(self, file_name: str) -> ImagePointLabels:
        """The image whose ``file_name`` is ``file_name`` (a bare name like ``000042.png``)."""
        try:
            return self._by_name[file_name]
        except KeyError:
            raise PointLabelError(f"{self.path or 'point labels'}: no image with file_name {file_name!r} "
                                  f"({len(self.images)} images listed)") from None

    def to_json(self) -> dict:
        return {"info": dict(self.info), "categories": [dict(c) for c in self.categories],
                "images": [im.to_json() for im in self.images]}


# ----------------------------------------------------------------------------------- reading
def _field(obj: Mapping, key: str, types, where: str):
    if not isinstance(obj, Mapping):
        raise PointLabelError(f"{where}: expected a JSON object, got {type(obj).__name__}")
    if key not in obj:
        raise PointLabelError(f"{where}: missing field {key!r}")
    value = obj[key]
    if isinstance(value, bool) and bool not in (types if isinstance(types, tuple) else (types,)):
        raise PointLabelError(f"{where}: field {key!r} must be {_type_names(types)}, got {value!r}")
    if not isinstance(value, types):
        raise PointLabelError(f"{where}: field {key!r} must be {_type_names(types)}, got {value!r}")
    return value


def _type_names(types) -> str:
    types = types if isinstance(types, tuple) else (types,)
    return " or ".join({int: "an integer", str: "a string", bool: "true/false", list: "a list",
                        dict: "an object"}.get(t, t.__name__) for t in types)


def _parse_categories(raw: Any, path: str) -> tuple[dict, ...]:
    if not isinstance(raw, list) or not raw:
        raise PointLabelError(f"{path}: field 'categories' must be a non-empty list of categories")
    cats, seen = [], set()
    for i, c in enumerate(raw):
        where = f"{path}: categories[{i}]"
        cid = _field(c, "id", int, where)
        _field(c, "name", str, where)
        isthing = _field(c, "isthing", (int, bool), where)
        if cid in seen:
            raise PointLabelError(f"{where}: duplicate category id {cid}")
        if int(isthing) not in (0, 1):
            raise PointLabelError(f"{where}: field 'isthing' must be 0/1 or true/false, got {isthing!r}")
        seen.add(cid)
        cats.append(dict(c))
    return tuple(cats)


def _parse_point(raw: Any, where: str, width: int, height: int, isthing_of: Mapping[int, bool]) -> PointLabel:
    x = _field(raw, "x", int, where)
    y = _field(raw, "y", int, where)
    cid = _field(raw, "category_id", int, where)
    sid = _field(raw, "segment_id", int, where)
    isthing = _field(raw, "isthing", bool, where)
    if not (0 <= x < width and 0 <= y < height):
        raise PointLabelError(f"{where}: pixel (x={x}, y={y}) is outside the {width}x{height} image "
                              f"(expected 0 <= x < width, 0 <= y < height)")
    if cid not in isthing_of:
        raise PointLabelError(f"{where}: category_id {cid} is not in 'categories' (ids {sorted(isthing_of)})")
    if isthing != isthing_of[cid]:
        raise PointLabelError(f"{where}: isthing={isthing} contradicts category {cid} (isthing="
                              f"{isthing_of[cid]})")
    return PointLabel(x=x, y=y, category_id=cid, segment_id=sid, isthing=isthing)


def parse_point_labels(data: Any, path: str = "point labels") -> PointLabelSet:
    """Validate a decoded point-label JSON document (see the module docstring) into a :class:`PointLabelSet`."""
    if not isinstance(data, Mapping):
        raise PointLabelError(f"{path}: top level must be a JSON object with 'categories' and 'images'")
    categories = _parse_categories(data.get("categories"), path)
    isthing_of = {int(c["id"]): bool(int(c["isthing"])) for c in categories}
    raw_images = data.get("images")
    if not isinstance(raw_images, list):
        raise PointLabelError(f"{path}: field 'images' must be a list of images")
    images, names = [], set()
    for i, im in enumerate(raw_images):
        where = f"{path}: images[{i}]"
        if not isinstance(im, Mapping):
            raise PointLabelError(f"{where}: expected a JSON object, got {type(im).__name__}")
        name = _field(im, "file_name", str, where)
        where = f"{path}: image {name!r} (images[{i}])"
        if "id" not in im:
            raise PointLabelError(f"{where}: missing field 'id'")
        width = _field(im, "width", int, where)
        height = _field(im, "height", int, where)
        if width <= 0 or height <= 0:
            raise PointLabelError(f"{where}: width and height must be positive, got {width}x{height}")
        if name in names:
            raise PointLabelError(f"{where}: duplicate file_name")
        names.add(name)
        raw_points = _field(im, "points", list, where)
        points = tuple(_parse_point(p, f"{where}: points[{j}]", width, height, isthing_of)
                       for j, p in enumerate(raw_points))
        sids = [p.segment_id for p in points]
        if len(set(sids)) != len(sids):
            dup = sorted({s for s in sids if sids.count(s) > 1})
            raise PointLabelError(f"{where}: segment_id(s) {dup} have more than one point (one point per segment)")
        images.append(ImagePointLabels(image_id=im["id"], file_name=name, width=width, height=height,
                                       points=points))
    info = data.get("info", {})
    if not isinstance(info, Mapping):
        raise PointLabelError(f"{path}: field 'info' must be an object")
    return PointLabelSet(categories=categories, images=tuple(images), info=dict(info), path=path)


def read_json(path: str | os.PathLike, what: str, error: type[Exception] = PointLabelError) -> Any:
    """:func:`perception.utils.fileio.read_json`, raising :class:`PointLabelError` by default."""
    return fileio.read_json(path, what, error)


def load_point_labels(path: str | os.PathLike) -> PointLabelSet:
    """Read and validate a point-label JSON file.

    Raises:
        PointLabelError: the file is missing, not JSON, or a field is missing / of the wrong type / out of
            range; the message names the file, the image (``file_name``) and the field.
    """
    path = os.fspath(path)
    return parse_point_labels(read_json(path, "point-label file"), path)


def save_point_labels(path: str | os.PathLike, labels: PointLabelSet) -> None:
    """Write a :class:`PointLabelSet` as JSON (atomically: readers never see half a file)."""
    atomic_write_text(path, json.dumps(labels.to_json(), separators=(",", ":")) + "\n")


# ----------------------------------------------------------------------------------- deriving
def read_panoptic_png(path: str | os.PathLike) -> np.ndarray:
    """``(H, W)`` int64 segment ids of a COCO panoptic PNG (``id = R + 256 G + 256^2 B``)."""
    from PIL import Image, UnidentifiedImageError

    from perception.datasets.sim.categories import rgb_to_ids

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise PointLabelError(f"{path}: panoptic PNG not found")
    try:
        with Image.open(path) as img:
            if img.mode != "RGB":
                raise PointLabelError(f"{path}: a COCO panoptic PNG must be RGB, got mode {img.mode}")
            rgb = np.asarray(img)
    except (UnidentifiedImageError, OSError) as exc:
        raise PointLabelError(f"{path}: not a readable PNG ({exc})") from None
    return rgb_to_ids(rgb)


def image_seed(seed: int, file_name: str) -> np.random.SeedSequence:
    """The random stream of one image: ``SeedSequence([seed, crc32(file_name)])``, so an image's points do not
    depend on which other images are processed or in which order."""
    return np.random.SeedSequence([int(seed), zlib.crc32(file_name.encode("utf-8"))])


def _interior_distance(ids: np.ndarray) -> np.ndarray:
    """Distance (pixels) of every pixel to the nearest pixel of another segment (void included) or to the image
    border; 0 on a segment's boundary pixels."""
    from scipy import ndimage

    pad = np.pad(ids, 1, mode="constant", constant_values=-1)
    core = pad[1:-1, 1:-1]
    inner = (core == pad[:-2, 1:-1]) & (core == pad[2:, 1:-1]) & (core == pad[1:-1, :-2]) & (core == pad[1:-1, 2:])
    return ndimage.distance_transform_edt(inner)


def derive_point_labels(panoptic_ids: np.ndarray, segments_info: Sequence[Mapping], categories: Sequence[Mapping],
                        rng: np.random.Generator, *, interior_fraction: float = 0.5,
                        where: str = "panoptic annotation") -> list[PointLabel]:
    """One point per (non-crowd) segment, drawn uniformly among the segment's most interior pixels.

    A pixel is a candidate when its distance to the nearest other segment / void pixel / image border is at least
    ``interior_fraction`` times the segment's largest such distance (the simulator's rule with 0.5).

    Args:
        panoptic_ids: ``(H, W)`` integer segment ids (0 = void).
        segments_info: COCO ``segments_info`` (``id``, ``category_id``, optional ``iscrowd``).
        categories: COCO categories (``id``, ``isthing``).
        rng: the image's random generator (see :func:`image_seed`).
        where: names the annotation in error messages.
    Returns:
        the points, ordered by segment id.
    Raises:
        PointLabelError: a PNG id without a segment, a segment without pixels, or an unknown category.
    """
    if not 0.0 <= interior_fraction <= 1.0:
        raise ValueError(f"interior_fraction must be in [0, 1], got {interior_fraction}")
    ids = np.asarray(panoptic_ids)
    if ids.ndim != 2:
        raise PointLabelError(f"{where}: panoptic ids must be (H, W), got shape {ids.shape}")
    isthing_of = {int(c["id"]): bool(int(c["isthing"])) for c in categories}
    segs = {}
    for j, s in enumerate(segments_info):
        sid = int(_field(s, "id", int, f"{where}: segments_info[{j}]"))
        cid = int(_field(s, "category_id", int, f"{where}: segments_info[{j}]"))
        if cid not in isthing_of:
            raise PointLabelError(f"{where}: segments_info[{j}] (id {sid}): category_id {cid} is not a known "
                                  f"category (ids {sorted(isthing_of)})")
        segs[sid] = (cid, bool(s.get("iscrowd", 0)))
    flat = ids.ravel()
    uniq, inverse, counts = np.unique(flat, return_inverse=True, return_counts=True)
    unknown = [int(u) for u in uniq if u != 0 and int(u) not in segs]
    if unknown:
        raise PointLabelError(f"{where}: segment id(s) {unknown[:10]} are in the PNG but not in segments_info")
    missing = sorted(set(segs) - {int(u) for u in uniq})
    if missing:
        raise PointLabelError(f"{where}: segment id(s) {missing[:10]} of segments_info have no pixel in the PNG")
    dist = _interior_distance(ids).ravel()
    order = np.argsort(inverse, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(counts)])
    w = ids.shape[1]
    points = []
    for j, sid in enumerate(uniq.tolist()):
        if sid == 0 or segs[sid][1]:  # void and crowd regions get no point
            continue
        pix = order[bounds[j]:bounds[j + 1]]
        d = dist[pix]
        cand = pix[d >= interior_fraction * d.max()]
        p = int(cand[int(rng.integers(len(cand)))])
        cid = segs[sid][0]
        points.append(PointLabel(x=p % w, y=p // w, category_id=cid, segment_id=int(sid), isthing=isthing_of[cid]))
    return points


def derive_point_label_set(panoptic_json: str | os.PathLike, panoptic_dir: Optional[str | os.PathLike] = None, *,
                           seed: int = 0, interior_fraction: float = 0.5, progress: bool = True,
                           on_error: Optional[Callable[[str, Exception], None]] = None) -> PointLabelSet:
    """Point labels for every annotation of a COCO panoptic JSON.

    Args:
        panoptic_json: COCO panoptic annotations (``images``, ``annotations``, ``categories``).
        panoptic_dir: folder of the annotation PNGs (default: beside the JSON, named like it without
            ``.json``, the COCO convention: ``panoptic_val2017.json`` + ``panoptic_val2017/``).
        seed: base seed; image ``f`` uses :func:`image_seed` ``(seed, f)``.
        on_error: when given, a bad image is reported as ``on_error(file_name, exception)`` and left out (the
            loop goes on); when ``None`` the first bad image raises.
    Returns:
        a :class:`PointLabelSet` whose images are named by the ``images[].file_name`` of the JSON (the camera
        images), in the JSON's annotation order.
    """
    panoptic_json = os.fspath(panoptic_json)
    data = read_json(panoptic_json, "panoptic JSON")
    for key in ("images", "annotations", "categories"):
        if not isinstance(data.get(key) if isinstance(data, Mapping) else None, list):
            raise PointLabelError(f"{panoptic_json}: field {key!r} must be a list (COCO panoptic format)")
    categories = _parse_categories(data["categories"], panoptic_json)
    if panoptic_dir is None:
        panoptic_dir = os.path.splitext(panoptic_json)[0]
    panoptic_dir = os.fspath(panoptic_dir)
    images_by_id = {}
    for i, im in enumerate(data["images"]):
        where = f"{panoptic_json}: images[{i}]"
        _field(im, "file_name", str, where)
        if "id" not in im:
            raise PointLabelError(f"{where}: missing field 'id'")
        images_by_id[im["id"]] = im
    annotations: Iterable = data["annotations"]
    if progress:
        from tqdm import tqdm

        annotations = tqdm(annotations, desc="point labels", unit="img")
    out = []
    for i, ann in enumerate(annotations):
        where = f"{panoptic_json}: annotations[{i}]"
        try:
            image_id = _field(ann, "image_id", (int, str), where)
            if image_id not in images_by_id:
                raise PointLabelError(f"{where}: image_id {image_id!r} is not in 'images'")
            image = images_by_id[image_id]
            png_name = _field(ann, "file_name", str, where)
            segments = _field(ann, "segments_info", list, where)
            png = os.path.join(panoptic_dir, png_name)
            ids = read_panoptic_png(png)
            h, w = ids.shape
            if (image.get("height", h), image.get("width", w)) != (h, w):
                raise PointLabelError(f"{png}: PNG is {w}x{h}, images[] says {image.get('width')}x"
                                      f"{image.get('height')}")
            rng = np.random.default_rng(image_seed(seed, image["file_name"]))
            points = derive_point_labels(ids, segments, categories, rng, interior_fraction=interior_fraction,
                                         where=png)
        except PointLabelError as exc:
            if on_error is None:
                raise
            on_error(str(ann.get("file_name", f"annotations[{i}]")) if isinstance(ann, Mapping) else where, exc)
            continue
        out.append(ImagePointLabels(image_id=image_id, file_name=image["file_name"], width=w, height=h,
                                    points=tuple(points)))
    info = {"description": f"point labels derived from {os.path.basename(panoptic_json)}",
            "format": POINT_LABELS_FORMAT, "seed": int(seed), "interior_fraction": float(interior_fraction)}
    return PointLabelSet(categories=categories, images=tuple(out), info=info)
