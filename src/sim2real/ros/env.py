"""Process-wide settings every ROS entry point applies before rclpy.init."""
from __future__ import annotations

import os
import sys


def setup() -> None:
    # Discovery stays on this host unless the user widens it (a documented choice).
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    os.environ.setdefault("MUJOCO_GL", "egl")
    os.environ.setdefault("RCUTILS_COLORIZED_OUTPUT", "0")
    # Threads (the real-time stepper, the executor) trade the GIL every 0.5 ms, not 5 ms.
    sys.setswitchinterval(0.0005)
    try:
        import torch
        torch.set_num_threads(1)   # more threads on 2 cores pushed control-loop p99 to tens of ms
    except ImportError:
        pass
