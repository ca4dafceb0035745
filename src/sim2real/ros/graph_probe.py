"""What a command joining a running graph needs to know of it before it starts its own nodes:
whether the graph runs on sim time (someone publishes /clock: a lockstep or Gazebo graph)."""
from __future__ import annotations

import time

from sim2real.ros import env


def clock_published(wait_s: float = 1.5) -> bool:
    """True when a publisher of /clock shows up within wait_s (discovery takes a moment)."""
    with env.temporary_node("graph_probe") as node:
        end = time.monotonic() + wait_s
        while not node.get_publishers_info_by_topic("/clock"):
            if time.monotonic() >= end:
                return False
            time.sleep(0.05)
        return True
