"""Does a controller mode keep up at 500 Hz in the real-time ROS graph (twin, one process)?

    .venv/bin/python bench/controller_realtime.py MODE [PROFILE] [SECONDS]

Prints the driver's counters: steps, commands that reached it (share of steps), missed
deadlines and wake-up jitter p99, and what the controller answered and its status.
"""
import sys

from sim2real.graph import build_graph
from sim2real.ros.compose import Composition

mode = sys.argv[1]
prof = sys.argv[2] if len(sys.argv) > 2 else "config/reality/heavy-sticky.yaml"
dur = float(sys.argv[3]) if len(sys.argv) > 3 else 15.0
decls = build_graph("jaco", "twin", prof, camera=False, targets=3, duration_s=dur, controller=mode)
with Composition(decls, domain_id=77) as c:
    c.spin(until_driver_done=True, timeout_s=dur + 30)
    d, k = c.nodes["driver"], c.nodes["controller"]
    print(f"{mode}: driver steps {d.steps}, commands received {d.commands} ({100 * d.commands / max(d.steps, 1):.0f}%), "
          f"missed deadlines {d.missed_deadlines}, jitter p99 {1e3 * d.jitter.percentile(99):.2f} ms; "
          f"controller answered {k.commands} states, status: {k.law.status}")
