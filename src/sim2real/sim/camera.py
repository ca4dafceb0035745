"""Offscreen camera rendering and the reality profile's image effects (blur, colour shift, JPEG)."""
from __future__ import annotations

import io

import mujoco
import numpy as np

from sim2real.robots.spec import CameraSpec


class Camera:
    def __init__(self, model: mujoco.MjModel, cam: CameraSpec, visuals: dict | None = None, seed: int = 0):
        self.spec = cam
        self.renderer = mujoco.Renderer(model, height=cam.height, width=cam.width)
        self.visuals = visuals or {}
        self.rng = np.random.default_rng(seed)

    def render(self, data: mujoco.MjData) -> np.ndarray:
        """(height, width, 3) uint8 RGB with the profile's image effects applied."""
        self.renderer.update_scene(data, camera=self.spec.name)
        return apply_image_effects(self.renderer.render(), self.visuals)

    def close(self) -> None:
        self.renderer.close()


def apply_image_effects(img: np.ndarray, visuals: dict) -> np.ndarray:
    sigma = visuals.get("blur_sigma_px", 0.0)
    shift = visuals.get("color_shift")
    quality = visuals.get("jpeg_quality", 100)
    if not sigma and not shift and quality >= 100:
        return img
    out = img.astype(np.float32)
    if sigma:
        from scipy.ndimage import gaussian_filter
        out = gaussian_filter(out, sigma=(sigma, sigma, 0))
    if shift:
        out += 255.0 * np.asarray(shift, np.float32)
    out = np.clip(out, 0, 255).astype(np.uint8)
    if quality < 100:
        from PIL import Image
        buf = io.BytesIO()
        Image.fromarray(out).save(buf, format="JPEG", quality=int(quality))
        out = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))
    return out
