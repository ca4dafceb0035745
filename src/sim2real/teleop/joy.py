"""sensor_msgs/Joy -> Cartesian velocity of the end effector, with a dead-man button.

Pure mapping (lists in, numbers out) so it is tested without ROS; config/teleop/<robot>.yaml
`joy` section: deadman_button, axes {x, y, z}, scale_m_s.
"""
from __future__ import annotations

import numpy as np


class JoyMapping:
    def __init__(self, cfg: dict):
        self.deadman = int(cfg.get("deadman_button", 4))
        axes = cfg.get("axes", {"x": 1, "y": 0, "z": 4})
        self.axes = [int(axes["x"]), int(axes["y"]), int(axes["z"])]
        self.scale = float(cfg.get("scale_m_s", 0.1))
        self.deadzone = float(cfg.get("deadzone", 0.1))

    def velocity(self, axes: list[float], buttons: list[int]) -> np.ndarray | None:
        """End-effector velocity (3,) m/s in base_link, or None while the dead-man is released."""
        if self.deadman >= len(buttons) or not buttons[self.deadman]:
            return None
        v = np.array([axes[i] if i < len(axes) else 0.0 for i in self.axes], float)
        v[np.abs(v) < self.deadzone] = 0.0
        return np.clip(v, -1, 1) * self.scale
