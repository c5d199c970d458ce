"""Building blocks that need only torch and :mod:`perception.ops` (no mmdet, mmcv or mmengine), so they also run
where only PyTorch is installed, such as the GPU benchmark machine.

* :mod:`perception.layers.sst`: SST's single-stride sparse transformer encoder (the registered model that wraps
  it for configs is :class:`perception.models.middle_encoders.sst_middle_encoder.SSTMiddleEncoder`).
"""
