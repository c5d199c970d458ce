"""SST (Fan et al., CVPR 2022): the single-stride sparse transformer encoder, torch and perception.ops only.

* :mod:`.positional_encoding` sine positional encodings of in-window coordinates;
* :mod:`.input_layer`        regular and shifted window partitions and region batching (SST's input layer);
* :mod:`.window_attention`   multi-head attention inside each window's padded token batch;
* :mod:`.block`              one SST block: attention in regular windows, then in shifted windows;
* :mod:`.encoder`            the stack of blocks at one stride (no downsampling).
"""
from .encoder import SSTEncoder

__all__ = ["SSTEncoder"]
