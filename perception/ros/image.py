"""``sensor_msgs/Image`` <-> RGB arrays.

An Image is ``height`` rows of ``step`` bytes (rows may be padded beyond ``width * channels``), pixels in
``encoding``.  The models take ``(H, W, 3) uint8`` RGB; :func:`decode_image` returns that for the 8-bit
encodings ``rgb8``, ``bgr8`` and ``mono8`` (grey replicated to three channels), and :func:`encode_image`
writes any of them.  ``is_bigendian`` does not matter for 8-bit data.
"""
from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from .errors import MessageError

__all__ = ["IMAGE_ENCODINGS", "ImageData", "decode_image", "encode_image"]

#: encoding -> channels, for the encodings the node reads and writes.
IMAGE_ENCODINGS: dict[str, int] = {"rgb8": 3, "bgr8": 3, "mono8": 1}


@dataclasses.dataclass(frozen=True)
class ImageData:
    """The fields of a ``sensor_msgs/Image`` without its header (what :func:`encode_image` makes)."""

    height: int
    width: int
    encoding: str
    is_bigendian: bool
    step: int
    data: bytes

    def to_msg(self, msg_cls: Any, header: Any) -> Any:
        return msg_cls(header=header, height=self.height, width=self.width, encoding=self.encoding,
                       is_bigendian=self.is_bigendian, step=self.step, data=np.frombuffer(self.data, dtype=np.uint8))


def decode_image(msg: Any) -> np.ndarray:
    """``(H, W, 3) uint8`` RGB of ``msg``.

    Raises:
        MessageError: an encoding other than ``rgb8`` / ``bgr8`` / ``mono8``, ``step < width * channels``,
        or ``data`` shorter than ``height * step``.
    """
    encoding = str(msg.encoding)
    if encoding not in IMAGE_ENCODINGS:
        raise MessageError(f"Image.encoding: {encoding!r} is not supported; expected one of "
                           f"{sorted(IMAGE_ENCODINGS)}")
    channels = IMAGE_ENCODINGS[encoding]
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    if height <= 0 or width <= 0:
        raise MessageError(f"Image: expected a non-empty image, got {height} x {width}")
    if step < width * channels:
        raise MessageError(f"Image.step: {step} < width * channels = {width * channels} ({encoding})")
    data = msg.data
    raw = np.frombuffer(bytes(data), dtype=np.uint8) if not isinstance(data, np.ndarray) else data.astype(
        np.uint8, copy=False).reshape(-1)
    if raw.size < height * step:
        raise MessageError(f"Image.data: {raw.size} bytes, expected height * step = {height} * {step} = "
                           f"{height * step} (truncated message?)")
    pixels = raw[: height * step].reshape(height, step)[:, : width * channels].reshape(height, width, channels)
    if encoding == "rgb8":
        return np.ascontiguousarray(pixels)
    if encoding == "bgr8":
        return np.ascontiguousarray(pixels[..., ::-1])
    return np.ascontiguousarray(np.repeat(pixels, 3, axis=2))


def encode_image(rgb: np.ndarray, encoding: str = "rgb8") -> ImageData:
    """An Image of ``rgb (H, W, 3) uint8`` (or ``(H, W)`` grey for ``mono8``) in ``encoding``, rows unpadded."""
    if encoding not in IMAGE_ENCODINGS:
        raise ValueError(f"encode_image: encoding must be one of {sorted(IMAGE_ENCODINGS)}, got {encoding!r}")
    rgb = np.asarray(rgb)
    if rgb.dtype != np.uint8:
        raise ValueError(f"encode_image: expected uint8 pixels, got {rgb.dtype}")
    if encoding == "mono8":
        if rgb.ndim == 3:
            raise ValueError("encode_image: mono8 takes an (H, W) grey image; convert colour images yourself")
        pixels = rgb
    else:
        if rgb.ndim != 3 or rgb.shape[2] != 3:
            raise ValueError(f"encode_image: expected (H, W, 3) RGB, got {rgb.shape}")
        pixels = rgb if encoding == "rgb8" else rgb[..., ::-1]
    height, width = pixels.shape[:2]
    channels = IMAGE_ENCODINGS[encoding]
    return ImageData(height=height, width=width, encoding=encoding, is_bigendian=False, step=width * channels,
                     data=np.ascontiguousarray(pixels).tobytes())
