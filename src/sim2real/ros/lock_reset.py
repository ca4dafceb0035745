"""`sim2real teleop reset-lock`: release every hold of the teleop lock (std_msgs/Empty on
/teleop/lock_reset), for a lock whose publisher is gone; waits for the safety filter and the mux
to be listening, so the reset is not lost."""
from __future__ import annotations

import time

from sim2real.ros import env


def reset_lock(wait_s: float = 3.0) -> int:
    """Number of subscribers that got the reset (0: nothing listening)."""
    from std_msgs.msg import Empty
    with env.temporary_node("lock_reset") as node:
        pub = node.create_publisher(Empty, "/teleop/lock_reset", 10)
        end = time.monotonic() + wait_s
        while pub.get_subscription_count() < 2 and time.monotonic() < end:   # filter and mux
            time.sleep(0.05)
        n = pub.get_subscription_count()
        if n:
            pub.publish(Empty())
            time.sleep(0.2)          # let reliable delivery finish before the participant goes
        return n
