"""The stack's image handling, with OpenCV (opencv-python-headless): the twin's camera effects
(sim/camera.py), perception's renders, dataset and node. sensor_msgs/Image bytes ->
RGB array (checked: encoding, sizes, data length), resizing, colour conversion, blur, colour
shift, pixel noise and JPEG round trips, and the network's input layout.

Every function here takes and returns (H, W, 3) uint8 RGB unless it says otherwise.
"""
from __future__ import annotations

import numpy as np

# encoding -> (channels, OpenCV conversion to RGB or None)
ENCODINGS = {"rgb8": (3, None), "bgr8": (3, "COLOR_BGR2RGB"), "rgba8": (4, "COLOR_RGBA2RGB"),
             "bgra8": (4, "COLOR_BGRA2RGB"), "mono8": (1, "COLOR_GRAY2RGB")}


def decode(height: int, width: int, encoding: str, step: int, data) -> tuple[np.ndarray | None, str | None]:
    """(rgb (H, W, 3) uint8, None) or (None, what is wrong): the fields of a sensor_msgs/Image.
    Never raises on malformed input."""
    import cv2
    if height <= 0 or width <= 0:
        return None, f"empty image ({width}x{height})"
    enc = (encoding or "").lower()
    if enc not in ENCODINGS:
        return None, f"encoding {encoding!r} not supported (supported: {', '.join(ENCODINGS)})"
    ch, conv = ENCODINGS[enc]
    if step < width * ch:
        return None, f"step {step} is less than width x channels ({width} x {ch})"
    try:
        buf = np.frombuffer(bytes(data) if not isinstance(data, (bytes, bytearray, memoryview, np.ndarray)) else data,
                            dtype=np.uint8)
    except (TypeError, ValueError) as e:
        return None, f"data unreadable ({e})"
    if buf.size == 0:
        return None, "no pixel data"
    if buf.size < step * height:
        return None, f"data has {buf.size} bytes, {width}x{height} {enc} with step {step} needs {step * height}"
    img = buf[:step * height].reshape(height, step)[:, :width * ch].reshape(height, width, ch)
    if conv is not None:
        img = cv2.cvtColor(np.ascontiguousarray(img), getattr(cv2, conv))
    return np.ascontiguousarray(img), None


def decode_msg(msg) -> tuple[np.ndarray | None, str | None]:
    """decode() of a sensor_msgs/Image (rclpy message or the mcap reader's decoded one)."""
    try:
        return decode(int(msg.height), int(msg.width), str(msg.encoding), int(msg.step), msg.data)
    except Exception as e:  # noqa: BLE001 - a message that lacks fields is malformed, not a crash
        return None, f"not an image message ({type(e).__name__}: {e})"


def fit(img: np.ndarray, height: int, width: int) -> tuple[np.ndarray | None, str | None]:
    """The image at the network's size: as is, or resized (INTER_AREA) when only the scale
    differs; another aspect ratio is another camera, refused."""
    import cv2
    h, w = img.shape[:2]
    if (h, w) == (height, width):
        return img, None
    if abs(h * width - w * height) > max(h, w):   # more than a pixel off the aspect ratio
        return None, f"image is {w}x{h}, the network takes {width}x{height} (another aspect ratio)"
    return cv2.resize(img, (width, height), interpolation=cv2.INTER_AREA), None


def blur(img: np.ndarray, sigma_px: float) -> np.ndarray:
    import cv2
    if sigma_px <= 0:
        return img
    k = 2 * int(np.ceil(3 * sigma_px)) + 1
    return cv2.GaussianBlur(img, (k, k), sigmaX=sigma_px, sigmaY=sigma_px, borderType=cv2.BORDER_REFLECT)


def jpeg(img: np.ndarray, quality: int) -> np.ndarray:
    """A JPEG encode/decode round trip (the artefacts); quality >= 100 returns the image."""
    import cv2
    if quality >= 100:
        return img
    ok, enc = cv2.imencode(".jpg", cv2.cvtColor(img, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        return img
    return cv2.cvtColor(cv2.imdecode(enc, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def effects(img: np.ndarray, blur_sigma_px: float = 0.0, color_shift=None, noise_std: float = 0.0,
            jpeg_quality: int = 100, rng: np.random.Generator | None = None) -> np.ndarray:
    """Camera effects in the twin's order (blur, colour shift, then JPEG), with Gaussian pixel
    noise (std in 0-255 units) before the compression."""
    out = blur(img, blur_sigma_px)
    if (color_shift is not None and np.any(color_shift)) or noise_std > 0:
        f = out.astype(np.float32)
        if color_shift is not None:
            f += 255.0 * np.asarray(color_shift, np.float32)
        if noise_std > 0:
            f += (rng or np.random.default_rng()).normal(0.0, noise_std, f.shape).astype(np.float32)
        out = np.clip(f, 0, 255).astype(np.uint8)     # truncated, as the twin's camera does
    return jpeg(out, jpeg_quality)


def to_input(images: np.ndarray) -> np.ndarray:
    """(N, H, W, 3) or (H, W, 3) uint8 RGB -> (N, 3, H, W) float32 in [0, 1]: the network's input."""
    x = np.asarray(images)
    if x.ndim == 3:
        x = x[None]
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2), dtype=np.float32) / np.float32(255.0)
