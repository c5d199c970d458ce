"""Drawing helpers shared by the demo, the docs and debugging: images in, RGB uint8 numpy images out.

* :func:`draw_boxes3d_on_image` - projected 3D box wireframes (LiDAR- or camera-frame boxes),
* :func:`draw_boxes2d` - image boxes with class names and scores,
* :func:`bev_plot` - bird's-eye view of points (coloured by height) with GT / predicted boxes,
* :func:`panoptic_overlay` - a panoptic segmentation blended over an image,
* :func:`save_image` - atomic PNG writes.

Nothing here imports mmdet/mmengine; matplotlib is used with its Agg canvas only.
"""
from .bev import bev_plot, figure_to_array
from .draw import (CLASS_COLORS, color_for, draw_boxes2d, draw_boxes3d_on_image, panoptic_overlay, project_boxes3d,
                   save_image)
from .fusion import SENSOR_COLORS, draw_fused_on_image, fused_bev_plot

__all__ = ["CLASS_COLORS", "SENSOR_COLORS", "bev_plot", "draw_fused_on_image", "fused_bev_plot", "color_for", "draw_boxes2d", "draw_boxes3d_on_image", "figure_to_array",
           "panoptic_overlay", "project_boxes3d", "save_image"]
