"""Pointly-supervised panoptic segmentation (Fan, Zhang, Tan, "Pointly-Supervised Panoptic Segmentation",
ECCV 2022) on a Panoptic-DeepLab-style head.  See ``docs/panoptic.md``.

Parts (one concept per module):

* :mod:`.image_cues`      Lab colour and colour-boundary maps (low-level cues);
* :mod:`.traversal`       multi-source shortest paths on the 8-connected pixel grid (SciPy's Dijkstra);
* :mod:`.pseudo_labels`   :class:`PointPseudoLabeler`: points -> panoptic pseudo labels by minimum traversing
                          distance (semantic, boundary and embedding step costs + a class cost);
* :mod:`.targets`         semantic / centre / offset targets from a label map;
* :mod:`.losses`          the head's losses (incl. the colour-affinity prior and the embedding contrast);
* :mod:`.decoder`         :class:`PanopticFPNDecoder`: multi-scale features -> one stride-4 map;
* :mod:`.panoptic_head`   :class:`PanopticHead` (``MODELS``): branches, the three supervision modes, inference;
* :mod:`.postprocess`     :class:`PanopticPostProcessor`: maps -> segment-id map;
* :mod:`.panoptic_result` :class:`PanopticResult` / :class:`PanopticSegment`;
* :mod:`.segmentor`       :class:`PanopticSegmentor` (``MODELS``): backbone + head;
* :mod:`.camera_model`    :class:`CameraModel` (``MODELS``): one backbone pass for a 2D detector and this head;
* :mod:`.visualize`       :func:`draw_panoptic_result`: a prediction over its camera image;
* :mod:`.inference`       :func:`load_panoptic_model` / :func:`predict_image`: plain images in (the demo), CLI;
* :mod:`.pseudo_label_eval` PQ of the pseudo labels against the full ground truth (a diagnostic), CLI.
"""
from .camera_model import CameraModel
from .decoder import PanopticFPNDecoder
from .image_cues import boundary_map, denormalize_images, images_from_preprocessor, rgb_to_lab
from .inference import load_panoptic_model, predict_image
from .panoptic_head import PanopticHead, default_categories
from perception.structures.panoptic_result import PanopticResult, PanopticSegment
from .postprocess import PanopticPostProcessor
from .pseudo_labels import ImagePoints, PointPseudoLabeler, PseudoPanoptic
from .segmentor import PanopticSegmentor
from .targets import PanopticTargets, panoptic_targets
from .traversal import traversal_distances
from .visualize import draw_panoptic_result

__all__ = [
    "CameraModel", "ImagePoints", "PanopticFPNDecoder", "PanopticHead", "PanopticPostProcessor", "PanopticResult",
    "PanopticSegment", "PanopticSegmentor", "PanopticTargets", "PointPseudoLabeler", "PseudoPanoptic",
    "boundary_map", "default_categories", "denormalize_images", "draw_panoptic_result", "images_from_preprocessor",
    "load_panoptic_model", "panoptic_targets", "predict_image", "rgb_to_lab", "traversal_distances",
]
