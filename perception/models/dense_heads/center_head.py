"""Center-based 3D detection head on a BEV map (CenterPoint, Yin et al. CVPR 2021).

Each class has a heatmap whose peaks mark box centres; at every cell the head
also regresses an 8-vector ``[dx, dy, z, log l, log w, log h, sin yaw, cos yaw]``:

* ``dx, dy``  offset of the centre inside its BEV cell, in cells (``[0, 1)``),
* ``z``       centre height (LiDAR frame, metres),
* ``log l/w/h`` log box dimensions (metres),
* ``sin/cos yaw`` the LiDAR-frame heading.

Decoding takes local maxima of the heatmaps (3x3 max pool), the top-k over all
classes, a score threshold, and class-aware rotated BEV NMS.
"""
from __future__ import annotations

from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from mmdet.models.utils import gaussian_radius, gen_gaussian_target
from mmengine.model import BaseModule
from mmengine.structures import InstanceData
from torch import nn

from perception.models.utils.bev_grid import VoxelGrid
from perception.models.utils.rotated_nms import rotated_nms_bev
from perception.registry import MODELS
from perception.structures import Boxes3D, CoordFrame

__all__ = ["CenterHead", "CenterHeadTargets"]

REG_DIMS = 8


class CenterHeadTargets:
    """Training targets of one batch.

    Attributes:
        heatmap: ``(B, K, H, W)`` Gaussian peaks in ``[0, 1]``.
        index: ``(B, M)`` int64 flat cell index ``row * W + col`` of each object's centre.
        reg: ``(B, M, 8)`` regression targets (module docstring).
        mask: ``(B, M)`` bool, which of the ``M`` slots hold an object.
    """

    def __init__(self, *, heatmap: torch.Tensor, index: torch.Tensor, reg: torch.Tensor, mask: torch.Tensor):
        self.heatmap, self.index, self.reg, self.mask = heatmap, index, reg, mask


@MODELS.register_module()
class CenterHead(BaseModule):
    """Args:
        in_channels: channels of the BEV input ``(B, C, H, W)``.
        num_classes: heatmap channels (class ``k`` = ``labels_3d == k``).
        point_range, voxel_size: the voxel grid; ``stride`` is the BEV map's
            stride in voxels (1 for single-stride models such as SST).
        head_channels: width of the shared conv and the branch convs.
        loss_heatmap, loss_reg: mmdet loss configs (Gaussian focal, L1).
        code_weights: per-dimension weights of the 8 regression targets.
        gaussian_overlap, min_radius: heatmap Gaussian radius as in CenterPoint.
        max_objects: regression slots per sample (objects beyond are an error).
        test_cfg: ``topk``, ``score_thr``, ``nms_iou_thr``, ``max_per_sample``.
    """

    def __init__(self, *, in_channels: int, num_classes: int, point_range: Sequence[float],
                 voxel_size: Sequence[float], stride: int = 1, head_channels: int = 64,
                 loss_heatmap: dict = dict(type="mmdet.GaussianFocalLoss", loss_weight=1.0),
                 loss_reg: dict = dict(type="mmdet.L1Loss", loss_weight=0.25),
                 code_weights: Sequence[float] = (1.0,) * REG_DIMS, gaussian_overlap: float = 0.1,
                 min_radius: int = 2, max_objects: int = 256, test_cfg: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        self.grid = VoxelGrid(point_range=point_range, voxel_size=voxel_size)
        self.stride = stride
        self.num_classes = num_classes
        self.shared = nn.Sequential(nn.Conv2d(in_channels, head_channels, 3, padding=1, bias=False),
                                    nn.BatchNorm2d(head_channels), nn.ReLU(inplace=True))

        def branch(out: int) -> nn.Sequential:
            return nn.Sequential(nn.Conv2d(head_channels, head_channels, 3, padding=1, bias=False),
                                 nn.BatchNorm2d(head_channels), nn.ReLU(inplace=True),
                                 nn.Conv2d(head_channels, out, 1))

        self.heatmap_branch = branch(num_classes)
        self.reg_branch = branch(REG_DIMS)
        self.loss_heatmap = MODELS.build(loss_heatmap)
        self.loss_reg = MODELS.build(loss_reg)
        if len(code_weights) != REG_DIMS:
            raise ValueError(f"code_weights needs {REG_DIMS} values, got {len(code_weights)}")
        self.register_buffer("code_weights", torch.tensor(code_weights, dtype=torch.float32), persistent=False)
        self.gaussian_overlap = gaussian_overlap
        self.min_radius = min_radius
        self.max_objects = max_objects
        self.test_cfg = dict(topk=100, score_thr=0.1, nms_iou_thr=0.1, max_per_sample=100)
        self.test_cfg.update(test_cfg or {})

    def init_weights(self) -> None:
        super().init_weights()
        nn.init.constant_(self.heatmap_branch[-1].bias, -2.19)  # prior probability 0.1

    @property
    def cell_size(self) -> tuple[float, float]:
        return self.grid.voxel_size[0] * self.stride, self.grid.voxel_size[1] * self.stride

    def forward(self, bev: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``bev (B, C, H, W)`` -> ``(heatmap logits (B, K, H, W), reg (B, 8, H, W))``."""
        x = self.shared(bev)
        return self.heatmap_branch(x), self.reg_branch(x)

    # ------------------------------------------------------------------ targets
    def get_targets(self, gt_boxes: Sequence[Boxes3D], gt_labels: Sequence[torch.Tensor],
                    map_size: tuple[int, int]) -> CenterHeadTargets:
        """Heatmaps and regression targets for LiDAR-frame ground truth.

        Boxes whose centre falls outside the BEV map get no target.
        """
        rows, cols = map_size
        device = gt_labels[0].device if len(gt_labels) else torch.device("cpu")
        b = len(gt_boxes)
        heatmap = torch.zeros(b, self.num_classes, rows, cols, device=device)
        index = torch.zeros(b, self.max_objects, dtype=torch.long, device=device)
        reg = torch.zeros(b, self.max_objects, REG_DIMS, device=device)
        mask = torch.zeros(b, self.max_objects, dtype=torch.bool, device=device)
        cx, cy = self.cell_size
        x0, y0 = self.grid.point_range[0], self.grid.point_range[1]
        for i, (boxes, labels) in enumerate(zip(gt_boxes, gt_labels)):
            if boxes.frame is not CoordFrame.LIDAR:
                raise ValueError("CenterHead targets need LiDAR-frame boxes")
            t = boxes.tensor.to(device).float()
            col_f = (t[:, 0] - x0) / cx
            row_f = (t[:, 1] - y0) / cy
            inside = (col_f >= 0) & (col_f < cols) & (row_f >= 0) & (row_f < rows) & (labels >= 0)
            inside &= labels < self.num_classes
            idx = inside.nonzero(as_tuple=True)[0]
            if len(idx) > self.max_objects:
                raise ValueError(f"{len(idx)} objects in one sample exceed CenterHead.max_objects={self.max_objects}")
            for slot, k in enumerate(idx.tolist()):
                col, row = int(col_f[k]), int(row_f[k])
                length, width = t[k, 3].item() / cx, t[k, 4].item() / cy
                radius = max(self.min_radius, int(gaussian_radius((length, width), self.gaussian_overlap)))
                gen_gaussian_target(heatmap[i, int(labels[k])], [col, row], radius)
                index[i, slot] = row * cols + col
                reg[i, slot] = torch.stack([
                    col_f[k] - col, row_f[k] - row, t[k, 2], t[k, 3].clamp_min(1e-3).log(),
                    t[k, 4].clamp_min(1e-3).log(), t[k, 5].clamp_min(1e-3).log(), torch.sin(t[k, 6]),
                    torch.cos(t[k, 6])])
                mask[i, slot] = True
        return CenterHeadTargets(heatmap=heatmap, index=index, reg=reg, mask=mask)

    def loss(self, bev: torch.Tensor, gt_boxes: Sequence[Boxes3D],
             gt_labels: Sequence[torch.Tensor]) -> dict[str, torch.Tensor]:
        heat_logits, reg_map = self(bev)
        targets = self.get_targets(gt_boxes, gt_labels, heat_logits.shape[-2:])
        num_pos = max(float(targets.mask.sum()), 1.0)
        heat = heat_logits.sigmoid().clamp(1e-4, 1 - 1e-4)
        loss_heatmap = self.loss_heatmap(heat, targets.heatmap, avg_factor=num_pos)
        b, _, h, w = reg_map.shape
        pred = reg_map.flatten(2).transpose(1, 2).gather(1, targets.index[..., None].expand(-1, -1, REG_DIMS))
        weight = targets.mask[..., None].float() * self.code_weights
        loss_reg = self.loss_reg(pred, targets.reg, weight=weight, avg_factor=num_pos)
        return {"loss_heatmap": loss_heatmap, "loss_reg": loss_reg}

    # ------------------------------------------------------------------ decoding
    def predict(self, bev: torch.Tensor) -> list[InstanceData]:
        """Decode ``bev (B, C, H, W)`` to per-sample ``InstanceData`` with
        ``bboxes_3d: Boxes3D`` (LiDAR frame), ``scores_3d (N,)``, ``labels_3d (N,)``."""
        heat_logits, reg_map = self(bev)
        return self.decode(heat_logits, reg_map)

    def decode(self, heat_logits: torch.Tensor, reg_map: torch.Tensor) -> list[InstanceData]:
        cfg = self.test_cfg
        heat = heat_logits.sigmoid()
        peaks = heat * (F.max_pool2d(heat, 3, stride=1, padding=1) == heat)
        b, k, h, w = heat.shape
        topk = min(int(cfg["topk"]), k * h * w)
        scores, flat = peaks.reshape(b, -1).topk(topk)  # conv outputs may be non-contiguous (channels-last)
        labels = flat // (h * w)
        cell = flat % (h * w)
        rows, cols = cell // w, cell % w
        reg = reg_map.flatten(2).transpose(1, 2).gather(1, cell[..., None].expand(-1, -1, REG_DIMS))
        cx, cy = self.cell_size
        x = self.grid.point_range[0] + (cols.float() + reg[..., 0]) * cx
        y = self.grid.point_range[1] + (rows.float() + reg[..., 1]) * cy
        dims = reg[..., 3:6].clamp(max=5.0).exp()
        yaw = torch.atan2(reg[..., 6], reg[..., 7])
        boxes = torch.cat([x[..., None], y[..., None], reg[..., 2:3], dims, yaw[..., None]], dim=-1)
        results = []
        for i in range(b):
            keep = scores[i] > cfg["score_thr"]
            bx = Boxes3D(boxes[i][keep], frame=CoordFrame.LIDAR)
            sc, lb = scores[i][keep], labels[i][keep]
            kept = rotated_nms_bev(bx, sc, lb, cfg["nms_iou_thr"])[: cfg["max_per_sample"]]
            inst = InstanceData()
            inst.bboxes_3d = bx[kept]
            inst.scores_3d = sc[kept]
            inst.labels_3d = lb[kept]
            results.append(inst)
        return results
