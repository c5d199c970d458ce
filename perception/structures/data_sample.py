"""``Det3DDataSample``: the per-frame data sample that travels between data pipeline, model and metric.

It is mmdet's :class:`~mmdet.structures.DetDataSample` (2D fields ``gt_instances``, ``pred_instances``, ...)
plus two 3D instance fields.  This module needs mmengine/mmdet, so it is not imported by
``perception.structures`` itself (which stays torch-only); import it as
``from perception.structures.data_sample import Det3DDataSample``.
"""
from __future__ import annotations

from mmdet.structures import DetDataSample
from mmengine.structures import InstanceData

__all__ = ["Det3DDataSample"]


class Det3DDataSample(DetDataSample):
    """One frame's 3D detection ground truth and/or predictions.

    Data fields (each an mmengine :class:`~mmengine.structures.InstanceData`):

    * ``gt_instances_3d``: ``bboxes_3d`` (:class:`~perception.structures.Boxes3D`, LiDAR frame, after the
      pipeline's augmentations), ``labels_3d`` ``(N,)`` int64 indices into the dataset's ``classes``.
    * ``pred_instances_3d``: ``bboxes_3d`` (Boxes3D, LiDAR frame), ``scores_3d`` ``(N,)`` float,
      ``labels_3d`` ``(N,)`` int64.
    * inherited from ``DetDataSample``: ``gt_instances`` (``bboxes`` ``(N, 4)`` ``[x1, y1, x2, y2]`` camera-2
      pixels, ``labels`` ``(N,)`` int64), ``pred_instances``, ...

    ``InstanceData`` indexes (bool masks, index tensors, slices), concatenates and moves (``.to(device)``)
    Boxes3D like a tensor, because Boxes3D has ``__len__``, ``__getitem__``, ``cat`` and ``to``.
    mmengine's ``InstanceData.cpu()/.cuda()`` only move ``torch.Tensor`` fields, so this class's
    :meth:`cpu` / :meth:`cuda` go through :meth:`to`, which also moves Boxes3D.

    Metainfo keys written by :class:`~perception.datasets.transforms.Pack3DDetInputs` (present when the
    pipeline produced them):

    * ``sample_idx`` (str): the KITTI frame id, e.g. ``"000042"``.
    * ``lidar_path`` / ``img_path`` (str): absolute paths of the point cloud and camera-2 image.
    * ``calib`` (:class:`~perception.structures.KittiCalibration`): the frame's calibration (describes the
      *unaugmented* sensor data).
    * ``img_shape`` ``(h, w)``: camera-2 image size in pixels (from the info file, or the loaded image).
    * ``eval_ann_info`` (:class:`~perception.structures.ObjectAnnotations`): *all* labelled objects of the
      frame (every class, incl. Van/Misc/..., untouched by augmentation, LiDAR frame) with the ``DontCare``
      regions, which is what the KITTI metric needs.  Absent for unlabelled frames.
    * ``num_pts_feats`` (int): channels of the packed points.
    * augmentation record: ``transformation_3d_flow`` (list of ``'R'``, ``'S'``, ``'T'``, ``'HF'``, ``'VF'``
      in the order applied), ``pcd_rotation_angle`` (rad), ``pcd_scale_factor``, ``pcd_trans`` ``(3,)``,
      ``pcd_horizontal_flip`` (y -> -y), ``pcd_vertical_flip`` (x -> -x).
    """

    @property
    def gt_instances_3d(self) -> InstanceData:
        return self._gt_instances_3d

    @gt_instances_3d.setter
    def gt_instances_3d(self, value: InstanceData) -> None:
        self.set_field(value, "_gt_instances_3d", dtype=InstanceData)

    @gt_instances_3d.deleter
    def gt_instances_3d(self) -> None:
        del self._gt_instances_3d

    @property
    def pred_instances_3d(self) -> InstanceData:
        return self._pred_instances_3d

    @pred_instances_3d.setter
    def pred_instances_3d(self, value: InstanceData) -> None:
        self.set_field(value, "_pred_instances_3d", dtype=InstanceData)

    @pred_instances_3d.deleter
    def pred_instances_3d(self) -> None:
        del self._pred_instances_3d

    def cpu(self) -> "Det3DDataSample":
        """All tensors, Boxes3D included, on the CPU (mmengine's ``cpu()`` would skip Boxes3D)."""
        return self.to("cpu")

    def cuda(self) -> "Det3DDataSample":
        """All tensors, Boxes3D included, on the current CUDA device."""
        return self.to("cuda")
