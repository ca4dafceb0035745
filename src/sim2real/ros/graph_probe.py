"""What a command joining a running graph needs to know of it before it starts its own nodes:
whether the graph runs on sim time (someone publishes /clock: a lockstep or Gazebo graph)."""
from __future__ import annotations

import time

from sim2real.ros import env


def clock_published(wait_s: float = 1.5) -> bool:
    """True when a publisher of /clock shows up within wait_s (discovery takes a moment)."""
    env.setup()
    import rclpy
    ctx = rclpy.Context()
    rclpy.init(context=ctx, domain_id=env.domain_id())
    try:
        node = rclpy.create_node("graph_probe", context=ctx)
        end = time.monotonic() + wait_s
        found = False
        while not found and time.monotonic() < end:
            found = bool(node.get_publishers_info_by_topic("/clock"))
            if not found:
                time.sleep(0.05)
        node.destroy_node()
        return found
    finally:
        rclpy.shutdown(context=ctx)
