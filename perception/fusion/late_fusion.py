"""Late fusion of one frame: LiDAR 3D detections + camera 2D detections (+ panoptic segments) -> FusedDetections.

Steps (one screen, in :meth:`LateFusion.__call__`):

1. project the 3D boxes into camera 2 (:func:`project_to_image`);
2. match them to the 2D detections with one global assignment (:func:`associate`);
3. score every LiDAR-backed object with the fuser's scorer (rule-based or learned, CLOCs-style);
4. keep unmatched camera detections as camera-only objects: 2D box and a frustum around the depth implied by
   the class's typical height; their score is the camera score, lowered when the object is close enough that
   the LiDAR should have seen it.  An unmatched camera box that overlaps a LiDAR-backed object of its class
   (``camera_duplicate_iou``) is a second detection of that object, not an object only the camera saw, and is
   not kept;
5. drop the objects whose fused score is below the output's operating point (``min_score``, per class; each
   single-sensor detector drops its own detections below its score threshold in the same way);
6. match the objects' 2D boxes to the panoptic thing segments (global assignment again).
"""
from __future__ import annotations

import dataclasses
from typing import Mapping, Optional, Protocol, Sequence, Union

import torch

from perception.structures import (Detections2D, FusedDetections, KittiCalibration, ObjectAnnotations, PanopticResult,
                                   Sensor)

from .association import (Association, ProjectedBoxes, associate, pair_affinity, project_to_image, same_class,
                          segment_boxes)
from .candidates import Candidates, build_candidates

__all__ = ["FusionInputs", "Scorer", "LateFusion", "KITTI_CLASS_HEIGHTS", "PerClass", "per_class"]

#: Typical object heights (m), KITTI training-set means, for the depth of camera-only objects.
KITTI_CLASS_HEIGHTS = {"Car": 1.53, "Pedestrian": 1.76, "Cyclist": 1.74}


#: A setting for every class (``0.3``) or one per class (``{"Car": 0.5, "Pedestrian": 0.0, "Cyclist": 0.3}``).
PerClass = Union[float, str, Mapping[str, Union[float, str]]]


def per_class(value: PerClass, class_names: Sequence[str], what: str) -> dict:
    """``{class: setting}`` from one setting or a mapping that must name every class (a ``ValueError`` names the
    setting and the missing classes)."""
    if isinstance(value, Mapping):
        missing = sorted(set(class_names) - set(value))
        if missing:
            raise ValueError(f"{what}: no value for classes {missing}")
        return {c: value[c] for c in class_names}
    return {c: value for c in class_names}


@dataclasses.dataclass(frozen=True)
class FusionInputs:
    """What a scorer sees of one frame (all computed by :class:`LateFusion`)."""

    lidar: ObjectAnnotations
    camera: Detections2D
    projected: ProjectedBoxes
    association: Association
    candidates: Candidates


class Scorer(Protocol):
    """Anything with ``score(inputs) -> (N_3d,)``: the fused score in ``[0, 1]`` of every LiDAR detection."""

    def score(self, inputs: FusionInputs) -> torch.Tensor: ...


class LateFusion:
    """Associates and fuses one frame's single-sensor results.

    Args:
        scorer: scores the LiDAR-backed objects (:class:`~perception.fusion.RuleScorer` or
            :class:`~perception.fusion.ClocsFuser`).
        class_names: the classes of both detectors (same names).
        min_iou, max_centre_distance: gates of the 3D-2D association (see :func:`associate`).
        camera_only_factor: (per class, see :data:`PerClass`) multiplies the score of a camera-only object whose estimated depth lies within
            ``lidar_max_depth`` (the LiDAR should have seen it); objects beyond keep their camera score.
        lidar_max_depth: how far ahead (m) the LiDAR detector looks (its point-cloud range).
        camera_duplicate_iou: (per class) an unmatched camera detection whose 2D IoU with the 2D box of a
            LiDAR-backed object of the same class is at least this is a duplicate of that object (the 2D
            detector's second box on it, or a box the association gates turned away) and is dropped; ``None``
            keeps every unmatched camera detection.
        frustum_ratio: a camera-only frustum spans ``[z / ratio, z * ratio]`` around the estimated depth ``z``.
        class_heights: typical heights (m) per class for that depth (``z = f_y * height / box height``).
        panoptic_categories: ``{category_id: class name}`` of the panoptic model's thing categories.
        panoptic_min_iou: IoU of an object's 2D box and a segment's extent needed to match them.
        min_score: (per class) the fused output's operating point: an object whose fused score is below it is not
            output, whichever sensors saw it (as SST drops its boxes below 0.1 and TridentNet below 0.05).  It is
            what keeps a class's camera-only objects in LiDAR range out of the output when, scored honestly
            (``camera_only_factor``), they are almost never real: ``0`` keeps every object.
        box2d: (per class) the 2D box of an object both detectors saw: ``"camera"`` (the 2D detector's), ``"lidar"`` (the
            projected 3D box, clipped) or ``"mean"`` (the two averaged, weighted by their scores).  Which is
            more accurate depends on the detectors and on how the 2D labels were drawn: KITTI's annotated boxes
            are tighter than projected 3D boxes, the simulator's are the projected boxes' visible extent.
    """

    def __init__(self, *, scorer: Scorer, class_names: Sequence[str], min_iou: float = 0.3,
                 max_centre_distance: float = 0.5, camera_only_factor: PerClass = 0.5, lidar_max_depth: float = 51.2,
                 frustum_ratio: float = 1.25, class_heights: Mapping[str, float] = KITTI_CLASS_HEIGHTS,
                 panoptic_categories: Optional[Mapping[int, str]] = None, panoptic_min_iou: float = 0.5,
                 box2d: PerClass = "camera", camera_duplicate_iou: Optional[PerClass] = None,
                 min_score: PerClass = 0.0):
        self.box2d = per_class(box2d, class_names, "LateFusion.box2d")
        bad = sorted({v for v in self.box2d.values() if v not in ("camera", "lidar", "mean")})
        if bad:
            raise ValueError(f"LateFusion.box2d must be 'camera', 'lidar' or 'mean', got {bad}")
        self.camera_only_factor = {c: float(v) for c, v in
                                   per_class(camera_only_factor, class_names, "LateFusion.camera_only_factor").items()}
        self.camera_duplicate_iou = {c: None if v is None else float(v) for c, v in per_class(
            camera_duplicate_iou, class_names, "LateFusion.camera_duplicate_iou").items()}
        bad = {c: v for c, v in self.camera_duplicate_iou.items() if v is not None and not 0.0 < v <= 1.0}
        if bad:
            raise ValueError(f"LateFusion.camera_duplicate_iou must be None or in (0, 1], got {bad}")
        self.min_score = {c: float(v) for c, v in per_class(min_score, class_names, "LateFusion.min_score").items()}
        bad = {c: v for c, v in self.min_score.items() if not 0.0 <= v <= 1.0}
        if bad:
            raise ValueError(f"LateFusion.min_score must be in [0, 1], got {bad}")
        missing = sorted(set(class_names) - set(class_heights))
        if missing:
            raise ValueError(f"LateFusion: class_heights lacks {missing}")
        self.scorer = scorer
        self.class_names = tuple(class_names)
        self.min_iou, self.max_centre_distance = float(min_iou), float(max_centre_distance)
        self.lidar_max_depth = float(lidar_max_depth)
        self.frustum_ratio = float(frustum_ratio)
        self.class_heights = dict(class_heights)
        self.panoptic_categories = dict(panoptic_categories or {})
        self.panoptic_min_iou = float(panoptic_min_iou)

    def inputs(self, lidar: ObjectAnnotations, camera: Detections2D, calib: KittiCalibration,
               image_size: Sequence[int]) -> FusionInputs:
        """Steps 1-2 and the candidate pairs: what the scorers (and CLOCs training) consume."""
        projected = project_to_image(lidar.boxes3d, calib, image_size)
        assoc = associate(projected.boxes, camera.boxes.tensor, names_a=lidar.names, names_b=camera.names,
                          valid_a=projected.in_image, min_iou=self.min_iou,
                          max_centre_distance=self.max_centre_distance)
        return FusionInputs(lidar=lidar, camera=camera, projected=projected, association=assoc,
                            candidates=build_candidates(lidar, projected, camera, self.class_names))

    def __call__(self, *, frame_id: str, calib: KittiCalibration, image_size: Sequence[int],
                 lidar: ObjectAnnotations, camera: Detections2D,
                 panoptic: Optional[PanopticResult] = None) -> FusedDetections:
        inputs = self.inputs(lidar, camera, calib, image_size)
        fused_scores = self.scorer.score(inputs).float()
        n = len(lidar)
        partner = inputs.association.partner_of_a(n)
        matched = partner >= 0
        boxes2d = torch.where(inputs.projected.in_image[:, None], inputs.projected.boxes,
                              torch.full((n, 4), float("nan")))
        camera_scores = torch.full((n,), float("nan"))
        if matched.any():
            camera_scores[matched] = camera.scores[partner[matched]].float()
            boxes2d[matched] = self._matched_boxes([n for n, m in zip(lidar.names, matched.tolist()) if m],
                                                   boxes2d[matched], camera.boxes.tensor[partner[matched]].float(),
                                                   lidar.scores[matched].float(), camera_scores[matched])
        sensors = torch.full((n,), int(Sensor.LIDAR), dtype=torch.int64) | (matched.long() * int(Sensor.CAMERA))
        lidar_part = FusedDetections.build(
            frame_id=frame_id, calib=calib, image_size=image_size, names=lidar.names, scores=fused_scores,
            sensors=sensors, boxes3d=lidar.boxes3d.tensor.float(), boxes2d=boxes2d,
            lidar_scores=lidar.scores.float(), camera_scores=camera_scores, panoptic=panoptic)
        unmatched = self._not_duplicates(camera, inputs.association.unmatched_b, boxes2d, lidar.names)
        camera_part = self._camera_only(camera.select(unmatched), frame_id, calib, image_size, panoptic)
        fused = FusedDetections.cat([lidar_part, camera_part])
        fused = fused.select(fused.scores >= torch.tensor([self.min_score[n] for n in fused.names]))
        return self._match_panoptic(fused) if panoptic is not None else fused

    def _matched_boxes(self, names: Sequence[str], projected: torch.Tensor, camera: torch.Tensor,
                       s_lidar: torch.Tensor, s_camera: torch.Tensor) -> torch.Tensor:
        """``(K, 4)`` 2D boxes of the objects both detectors saw (see ``box2d``)."""
        w = (s_camera / (s_camera + s_lidar).clamp_min(1e-6))[:, None]
        mean = w * camera + (1 - w) * projected
        mode = [self.box2d[n] for n in names]
        pick = {"camera": camera, "lidar": projected, "mean": mean}
        return torch.stack([pick[m][k] for k, m in enumerate(mode)]) if mode else camera

    def _not_duplicates(self, camera: Detections2D, unmatched: torch.Tensor, boxes2d: torch.Tensor,
                        lidar_names: Sequence[str]) -> torch.Tensor:
        """The entries of ``unmatched`` (indices into ``camera``) that are not duplicates of a LiDAR-backed object:
        ``boxes2d`` ``(N, 4)`` are those objects' 2D boxes (NaN rows: not in the image)."""
        if not len(unmatched) or all(v is None for v in self.camera_duplicate_iou.values()):
            return unmatched
        in_image = ~torch.isnan(boxes2d).any(dim=1)
        if not in_image.any():
            return unmatched
        objects = boxes2d[in_image]
        object_names = [n for n, ok in zip(lidar_names, in_image.tolist()) if ok]
        iou, _ = pair_affinity(camera.boxes.tensor[unmatched].float(), objects)
        same = same_class([camera.names[i] for i in unmatched.tolist()], object_names)
        best = torch.where(same, iou, torch.zeros_like(iou)).max(dim=1).values
        limit = torch.tensor([float("inf") if self.camera_duplicate_iou[camera.names[i]] is None
                              else self.camera_duplicate_iou[camera.names[i]] for i in unmatched.tolist()])
        return unmatched[best < limit]

    def estimated_depth(self, camera: Detections2D, calib: KittiCalibration) -> torch.Tensor:
        """``(M,)`` depth (m) at which each 2D box's class would have the box's pixel height."""
        fy = float(calib.P2[1, 1])
        heights = torch.tensor([self.class_heights.get(name, 1.6) for name in camera.names])
        return fy * heights / camera.boxes.height.float().clamp_min(1.0)

    def _camera_only(self, camera: Detections2D, frame_id: str, calib: KittiCalibration, image_size: Sequence[int],
                     panoptic: Optional[PanopticResult]) -> FusedDetections:
        depth = self.estimated_depth(camera, calib)
        beyond = depth > self.lidar_max_depth
        factor = torch.tensor([self.camera_only_factor[n] for n in camera.names])
        scores = camera.scores.float() * torch.where(beyond, torch.ones_like(depth), factor)
        return FusedDetections.build(
            frame_id=frame_id, calib=calib, image_size=image_size, names=camera.names, scores=scores,
            sensors=torch.full((len(camera),), int(Sensor.CAMERA)), boxes2d=camera.boxes.tensor.float(),
            camera_scores=camera.scores.float(),
            depth_range=torch.stack([depth / self.frustum_ratio, depth * self.frustum_ratio], dim=1),
            panoptic=panoptic)

    def _match_panoptic(self, fused: FusedDetections) -> FusedDetections:
        things = [s for s in fused.panoptic.segments if s.isthing and s.category_id in self.panoptic_categories]
        if not things or not len(fused):
            return fused
        has2d = fused.has_box2d
        boxes = torch.nan_to_num(fused.boxes2d.tensor, nan=0.0)
        assoc = associate(boxes, segment_boxes(fused.panoptic.ids, [s.id for s in things]), names_a=fused.names,
                          names_b=[self.panoptic_categories[s.category_id] for s in things], valid_a=has2d,
                          min_iou=self.panoptic_min_iou, max_centre_distance=1.0)
        ids = fused.panoptic_ids.clone()
        sensors = fused.sensors.clone()
        rows, cols = assoc.pairs[:, 0], assoc.pairs[:, 1]
        ids[rows] = torch.tensor([things[k].id for k in cols.tolist()], dtype=torch.int64)
        sensors[rows] |= int(Sensor.PANOPTIC)
        return dataclasses.replace(fused, panoptic_ids=ids, sensors=sensors)
