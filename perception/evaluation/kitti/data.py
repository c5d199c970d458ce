"""Evaluation constants of the KITTI object benchmark and the columnar input of the evaluators.

Everything here follows the official devkit (``devkit_object/cpp/evaluate_object.cpp``):

* difficulties (``MIN_HEIGHT``, ``MAX_OCCLUSION``, ``MAX_TRUNCATION``),
* the evaluated classes and their "neighbouring" classes (``Van`` is ignored,
  not penalised, for ``Car``; ``Person_sitting`` for ``Pedestrian``),
* the per-class minimum overlaps: ``strict`` is the official set (0.7 / 0.5 /
  0.5 for 2D, BEV and 3D); ``loose`` keeps the 2D thresholds and uses
  0.5 / 0.25 / 0.25 for BEV and 3D (the second set mmdet3d/OpenPCDet report).

:class:`KittiEvalData` holds all frames of an evaluation as flat numpy arrays
(one row per object, ``frame`` giving the frame index), in the devkit's own
representation: the camera-frame KITTI label fields, float64.
"""
from __future__ import annotations

import dataclasses
from typing import Optional, Sequence

import numpy as np

__all__ = [
    "CLASSES", "NEIGHBOUR_CLASS", "DIFFICULTIES", "MIN_HEIGHT", "MAX_OCCLUSION", "MAX_TRUNCATION", "METRICS",
    "MIN_OVERLAP", "OVERLAP_SETS", "N_SAMPLE_PTS", "ObjectTable", "KittiEvalData", "check_classes",
    "check_overlap_sets", "frame_offsets", "frame_rows",
]

#: Classes the devkit evaluates.
CLASSES = ("Car", "Pedestrian", "Cyclist")
#: GT of these classes is ignored (neither TP nor FN) when evaluating the key class.
NEIGHBOUR_CLASS = {"Car": "Van", "Pedestrian": "Person_sitting"}
DIFFICULTIES = ("easy", "moderate", "hard")
MIN_HEIGHT = (40, 25, 25)           # pixels; GT with height <= this, detections with height < this are ignored
MAX_OCCLUSION = (0, 1, 2)
MAX_TRUNCATION = (0.15, 0.3, 0.5)
#: Metric families: image boxes, bird's-eye-view rotated boxes, 3D rotated boxes.
METRICS = ("2D", "BEV", "3D")
OVERLAP_SETS = ("strict", "loose")
MIN_OVERLAP = {
    "strict": {"2D": {"Car": 0.7, "Pedestrian": 0.5, "Cyclist": 0.5},
               "BEV": {"Car": 0.7, "Pedestrian": 0.5, "Cyclist": 0.5},
               "3D": {"Car": 0.7, "Pedestrian": 0.5, "Cyclist": 0.5}},
    "loose": {"2D": {"Car": 0.7, "Pedestrian": 0.5, "Cyclist": 0.5},
              "BEV": {"Car": 0.5, "Pedestrian": 0.25, "Cyclist": 0.25},
              "3D": {"Car": 0.5, "Pedestrian": 0.25, "Cyclist": 0.25}},
}
#: Score thresholds sampled per curve: recall 0, 1/40, ..., 1 (R11 uses every 4th, R40 all but the first).
N_SAMPLE_PTS = 41


def check_classes(classes: Sequence[str]) -> tuple[str, ...]:
    out = []
    for c in classes:
        match = [k for k in CLASSES if k.lower() == str(c).lower()]
        if not match:
            raise ValueError(f"cannot evaluate class {c!r}: the KITTI benchmark defines {', '.join(CLASSES)}")
        if match[0] not in out:
            out.append(match[0])
    if not out:
        raise ValueError("no class to evaluate")
    return tuple(out)


def check_overlap_sets(sets: Sequence[str]) -> tuple[str, ...]:
    bad = [s for s in sets if s not in OVERLAP_SETS]
    if bad or not sets:
        raise ValueError(f"overlap sets must be among {OVERLAP_SETS}, got {list(sets)}")
    return tuple(dict.fromkeys(sets))


@dataclasses.dataclass
class ObjectTable:
    """Objects of many frames, one row each, in KITTI label fields (float64).

    Attributes:
        frame: ``(N,)`` int64 frame index, non-decreasing.
        name: ``(N,)`` lower-case class names (``'car'``, ``'van'``, ...).
        truncated, occluded, alpha: label fields (``occluded`` int64).
        bbox: ``(N, 4)`` ``x1 y1 x2 y2`` pixels.
        dims: ``(N, 3)`` ``h w l`` metres.
        loc: ``(N, 3)`` bottom centre ``x y z`` in the rectified camera frame.
        ry: ``(N,)`` rotation_y.
        score: ``(N,)`` detection score, or ``None`` for ground truth.
    """

    frame: np.ndarray
    name: np.ndarray
    truncated: np.ndarray
    occluded: np.ndarray
    alpha: np.ndarray
    bbox: np.ndarray
    dims: np.ndarray
    loc: np.ndarray
    ry: np.ndarray
    score: Optional[np.ndarray] = None

    def __post_init__(self):
        n = len(self.frame)
        self.frame = np.asarray(self.frame, dtype=np.int64).reshape(n)
        self.name = np.char.lower(np.asarray(self.name, dtype=str)).reshape(n) if n else np.zeros(0, dtype="<U1")
        for field in ("truncated", "alpha", "ry"):
            setattr(self, field, np.asarray(getattr(self, field), dtype=np.float64).reshape(n))
        self.occluded = np.asarray(self.occluded, dtype=np.int64).reshape(n)
        for field, width in (("bbox", 4), ("dims", 3), ("loc", 3)):
            setattr(self, field, np.asarray(getattr(self, field), dtype=np.float64).reshape(n, width))
        if self.score is not None:
            self.score = np.asarray(self.score, dtype=np.float64).reshape(n)
        if n and np.any(np.diff(self.frame) < 0):
            raise ValueError("ObjectTable rows must be ordered by frame")

    def __len__(self) -> int:
        return len(self.frame)

    @classmethod
    def empty(cls, with_score: bool = False) -> "ObjectTable":
        z = np.zeros(0)
        return cls(frame=z, name=[], truncated=z, occluded=z, alpha=z, bbox=np.zeros((0, 4)), dims=np.zeros((0, 3)),
                   loc=np.zeros((0, 3)), ry=z, score=z.copy() if with_score else None)

    def frame_slices(self, num_frames: int) -> np.ndarray:
        """``(num_frames + 1,)`` row offsets: frame ``f`` is rows ``[o[f], o[f+1])``."""
        return frame_offsets(self.frame, num_frames)

    def select(self, rows: np.ndarray) -> "ObjectTable":
        """The rows where the ``(N,)`` bool mask ``rows`` is set, in their order."""
        rows = np.asarray(rows, dtype=bool).reshape(-1)
        if len(rows) != len(self):
            raise ValueError(f"select: mask of {len(rows)} rows for a table of {len(self)}")
        return self._rows(rows)

    def take_frames(self, frames: np.ndarray, num_frames: int) -> "ObjectTable":
        """The rows of ``frames`` (``(M,)`` indices into ``[0, num_frames)``, repeats allowed), frame ``k`` of the
        result being frame ``frames[k]`` of this table, rows in their order within each frame."""
        rows, new_frame = frame_rows(self.frame_slices(num_frames), frames)
        return self._rows(rows, frame=new_frame)

    def _rows(self, rows: np.ndarray, **replace) -> "ObjectTable":
        """A table of ``rows`` (indices or a bool mask) of every field, then the fields in ``replace``."""
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return ObjectTable(**{k: v if v is None else v[rows] for k, v in fields.items()} | replace)


@dataclasses.dataclass
class KittiEvalData:
    """Everything one evaluation needs: ground truth, detections and DontCare regions of ``num_frames`` frames.

    ``gt`` keeps every labelled object except ``DontCare`` (whose 2D boxes are
    ``dontcare_bbox``), in file order per frame: the devkit's greedy matching
    visits ground truth in that order.
    """

    num_frames: int
    gt: ObjectTable
    dt: ObjectTable
    dontcare_frame: np.ndarray
    dontcare_bbox: np.ndarray
    frame_ids: Optional[list[str]] = None

    def __post_init__(self):
        self.dontcare_frame = np.asarray(self.dontcare_frame, dtype=np.int64).reshape(-1)
        self.dontcare_bbox = np.asarray(self.dontcare_bbox, dtype=np.float64).reshape(-1, 4)
        if self.dt.score is None:
            raise ValueError("detections need scores")
        for what, frames in (("gt", self.gt.frame), ("dt", self.dt.frame), ("dontcare", self.dontcare_frame)):
            if len(frames) and (frames.min() < 0 or frames.max() >= self.num_frames):
                raise ValueError(f"{what} frame index outside [0, {self.num_frames})")
        if self.frame_ids is not None and len(self.frame_ids) != self.num_frames:
            raise ValueError(f"{len(self.frame_ids)} frame ids for {self.num_frames} frames")

    def take_frames(self, frames: Sequence[int]) -> "KittiEvalData":
        """The evaluation of the frames ``frames`` (indices, repeats allowed: a bootstrap resample), in that
        order: frame ``k`` of the result is frame ``frames[k]`` of this one, with its ground truth, detections
        and DontCare regions."""
        frames = np.asarray(frames, dtype=np.int64).reshape(-1)
        if len(frames) and (frames.min() < 0 or frames.max() >= self.num_frames):
            raise ValueError(f"take_frames: frame indices must be in [0, {self.num_frames})")
        order = np.argsort(self.dontcare_frame, kind="stable")
        dc_offsets = frame_offsets(self.dontcare_frame[order], self.num_frames)
        dc_rows, dc_frame = frame_rows(dc_offsets, frames)
        return KittiEvalData(num_frames=len(frames), gt=self.gt.take_frames(frames, self.num_frames),
                             dt=self.dt.take_frames(frames, self.num_frames), dontcare_frame=dc_frame,
                             dontcare_bbox=self.dontcare_bbox[order][dc_rows],
                             frame_ids=None if self.frame_ids is None else [self.frame_ids[f] for f in frames])

    def only_detections_of(self, cls: str) -> "KittiEvalData":
        """This evaluation with the detections of class ``cls`` alone (ground truth and DontCare unchanged).

        The devkit ignores a detection shorter than a difficulty's minimum height whatever its class, and such
        an ignored detection can absorb ground truth of the evaluated class (which then counts neither as a
        true positive nor as missed), so one class's AP moves with the other classes' short boxes.  Evaluated
        on this, class ``cls``'s AP depends on its own detections only: a diagnostic, not the devkit's number.
        """
        return dataclasses.replace(self, dt=self.dt.select(self.dt.name == cls.lower()))

    @classmethod
    def from_objects(cls, gt_frames: Sequence[Sequence], dt_frames: Sequence[Sequence],
                     frame_ids: Optional[Sequence[str]] = None) -> "KittiEvalData":
        """Build from per-frame lists of :class:`perception.datasets.kitti_io.KittiObject`
        (ground truth as read from ``label_2``, detections with scores)."""
        if len(gt_frames) != len(dt_frames):
            raise ValueError(f"{len(gt_frames)} ground-truth frames but {len(dt_frames)} detection frames")
        gt_rows, dc_frame, dc_bbox = [], [], []
        for f, objects in enumerate(gt_frames):
            for o in objects:
                if o.type.lower() == "dontcare":
                    dc_frame.append(f)
                    dc_bbox.append(o.bbox)
                else:
                    gt_rows.append((f, o))
        dt_rows = [(f, o) for f, objects in enumerate(dt_frames) for o in objects]
        for f, o in dt_rows:
            if o.score is None:
                raise ValueError(f"detection {o.type} in frame {f} has no score")
        return cls(num_frames=len(gt_frames), gt=_table(gt_rows, with_score=False), dt=_table(dt_rows, with_score=True),
                   dontcare_frame=np.asarray(dc_frame, dtype=np.int64), dontcare_bbox=np.asarray(dc_bbox).reshape(-1, 4),
                   frame_ids=None if frame_ids is None else list(frame_ids))


def frame_offsets(frame: np.ndarray, num_frames: int) -> np.ndarray:
    """``(num_frames + 1,)`` offsets of rows grouped by frame (``frame`` non-decreasing): frame ``f`` is rows
    ``[o[f], o[f+1])``."""
    return np.searchsorted(frame, np.arange(num_frames + 1), side="left")


def frame_rows(offsets: np.ndarray, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(rows, new_frame)``: the row indices of the frames ``frames`` (repeats allowed) of rows grouped by frame
    with offsets ``offsets`` (frame ``f`` is rows ``[offsets[f], offsets[f+1])``), and the index into
    ``frames`` of each."""
    starts, ends = offsets[frames], offsets[frames + 1]
    counts = ends - starts
    first = np.cumsum(counts) - counts                      # where each taken frame starts in the result
    rows = np.arange(int(counts.sum())) - np.repeat(first - starts, counts)
    return rows, np.repeat(np.arange(len(frames)), counts)


def _table(rows, with_score: bool) -> ObjectTable:
    if not rows:
        return ObjectTable.empty(with_score)
    # one flat float array: truncated occluded alpha x1 y1 x2 y2 h w l x y z ry [score]
    values = np.array([(o.truncated, o.occluded, o.alpha, *o.bbox, *o.dimensions, *o.location, o.rotation_y,
                        o.score if with_score else 0.0) for _, o in rows], dtype=np.float64)
    return ObjectTable(frame=[f for f, _ in rows], name=[o.type for _, o in rows], truncated=values[:, 0],
                       occluded=values[:, 1], alpha=values[:, 2], bbox=values[:, 3:7], dims=values[:, 7:10],
                       loc=values[:, 10:13], ry=values[:, 13], score=values[:, 14] if with_score else None)
