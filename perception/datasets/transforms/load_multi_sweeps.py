"""``LoadPointsFromMultiSweeps``: accumulate earlier LiDAR sweeps into the key frame (nuScenes)."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from mmcv.transforms import BaseTransform

from perception.datasets import kitti_io
from perception.registry import TRANSFORMS

from ._common import get_points

__all__ = ["LoadPointsFromMultiSweeps"]


@TRANSFORMS.register_module()
class LoadPointsFromMultiSweeps(BaseTransform):
    """Add the previous LiDAR sweeps, moved into the key frame's LiDAR frame, and a time-lag channel.

    As in CenterPoint / mmdet3d and the devkit's ``LidarPointCloud.from_file_multisweep``: each sweep's points
    are read (float32 records of ``num_features`` values, the columns ``use_dims`` kept), the returns with
    ``|x| < remove_close`` and ``|y| < remove_close`` (hits on the ego car) dropped, and the rest mapped with the
    sweep's ``sensor2lidar`` ``(4, 4)`` (the ego motion between the sweep and the key frame, through the
    global frame); a last channel holds the time lag ``(key timestamp - sweep timestamp) / 1e6`` seconds, 0
    for the key frame.

    Reads ``points`` (``(P, C)`` key frame, LiDAR frame, e.g. from ``LoadPointsFromFile(num_features=5,
    use_dims=[0, 1, 2, 3])``), ``sweeps`` (list, newest first, of ``{'data_path', 'timestamp' (us),
    'sensor2lidar' (4, 4)}``, from :class:`~perception.datasets.NuScenesDataset`) and ``timestamp`` (us);
    writes ``points`` (``torch.Tensor (P', C + 1)`` float32 ``[x, y, z, <features>, time_lag]``, key frame
    first, then the sweeps newest first) and ``num_pts_feats``.

    Args:
        sweeps_num: sweeps to add (besides the key frame).  Samples with fewer sweeps use all they have.
        num_features: float32 values per record in the sweep files (5 for nuScenes ``.pcd.bin``).
        use_dims: record columns kept, in order; must match the key frame's columns (``C == len(use_dims)``)
            and start with 0, 1, 2 (x, y, z).
        remove_close: half side (m) of the square around the sensor whose sweep returns are dropped (0: keep
            all); the key frame is kept whole.
        pad_empty_sweeps: a sample without sweeps gets ``sweeps_num`` copies of its key frame (time lag 0),
            so every sample has the same point budget, as in mmdet3d.
        random_choose: pick ``sweeps_num`` of the available sweeps at random (without replacement) instead of
            the newest ones (a training augmentation; leave off for evaluation).
    """

    def __init__(self, sweeps_num: int = 10, num_features: int = 5, use_dims: Sequence[int] = (0, 1, 2, 3),
                 remove_close: float = 1.0, pad_empty_sweeps: bool = False, random_choose: bool = False):
        if sweeps_num < 0:
            raise ValueError(f"sweeps_num must be >= 0, got {sweeps_num}")
        self.sweeps_num = int(sweeps_num)
        self.num_features = int(num_features)
        self.use_dims = [int(d) for d in use_dims]
        if self.use_dims[:3] != [0, 1, 2] or max(self.use_dims) >= self.num_features or min(self.use_dims) < 0:
            raise ValueError(f"use_dims must start with 0, 1, 2 and index < num_features={num_features}, "
                             f"got {self.use_dims}")
        self.remove_close = float(remove_close)
        self.pad_empty_sweeps = bool(pad_empty_sweeps)
        self.random_choose = bool(random_choose)

    def _chosen(self, sweeps: list) -> list:
        if len(sweeps) <= self.sweeps_num:
            return list(sweeps)
        if self.random_choose:
            idx = np.sort(np.random.choice(len(sweeps), self.sweeps_num, replace=False))
            return [sweeps[i] for i in idx]
        return list(sweeps[:self.sweeps_num])

    def _sweep_points(self, sweep: dict, key_timestamp: int) -> torch.Tensor:
        records = kitti_io.read_points(sweep["data_path"], self.num_features)[:, self.use_dims].astype(np.float64)
        if self.remove_close > 0:
            close = (np.abs(records[:, 0]) < self.remove_close) & (np.abs(records[:, 1]) < self.remove_close)
            records = records[~close]
        transform = np.asarray(sweep["sensor2lidar"], np.float64)
        if transform.shape != (4, 4):
            raise ValueError(f"{sweep['data_path']}: sensor2lidar must be a (4, 4) matrix, got {transform.shape}")
        records[:, :3] = records[:, :3] @ transform[:3, :3].T + transform[:3, 3]
        lag = (int(key_timestamp) - int(sweep["timestamp"])) * 1e-6
        out = np.column_stack([records, np.full(len(records), lag)]).astype(np.float32)
        return torch.from_numpy(out)

    def transform(self, results: dict) -> dict:
        points = get_points(results, self)
        if points.shape[1] != len(self.use_dims):
            raise ValueError(f"LoadPointsFromMultiSweeps: the key frame has {points.shape[1]} channels, use_dims "
                             f"{self.use_dims} give the sweeps {len(self.use_dims)}; make them match")
        if "sweeps" not in results or "timestamp" not in results:
            raise KeyError(f"LoadPointsFromMultiSweeps needs results['sweeps'] and results['timestamp'] "
                           f"(from NuScenesDataset); sample {results.get('sample_idx')} lacks them")
        key = torch.cat([points.float(), torch.zeros(len(points), 1)], dim=1)
        parts = [key]
        sweeps = self._chosen(results["sweeps"])
        if not sweeps and self.pad_empty_sweeps:
            parts += [key.clone() for _ in range(self.sweeps_num)]
        parts += [self._sweep_points(s, results["timestamp"]) for s in sweeps]
        results["points"] = torch.cat(parts, dim=0)
        results["num_pts_feats"] = key.shape[1]
        return results

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(sweeps_num={self.sweeps_num}, num_features={self.num_features}, "
                f"use_dims={self.use_dims}, remove_close={self.remove_close}, "
                f"pad_empty_sweeps={self.pad_empty_sweeps}, random_choose={self.random_choose})")
