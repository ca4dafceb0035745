"""Offscreen camera rendering and the reality profile's image effects (blur, colour shift, JPEG),
with the stack's one image library (sim2real/image.py, OpenCV), as perception's renders use."""
from __future__ import annotations

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
    """A reality profile's `visuals` image effects: blur, colour shift, then JPEG."""
    from sim2real.image import effects
    sigma = float(visuals.get("blur_sigma_px", 0.0))
    shift = visuals.get("color_shift")
    quality = int(visuals.get("jpeg_quality", 100))
    if not sigma and not (shift is not None and any(shift)) and quality >= 100:
        return img
    return effects(img, blur_sigma_px=sigma, color_shift=shift, jpeg_quality=quality)
