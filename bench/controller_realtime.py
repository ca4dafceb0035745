"""Does a controller mode keep up at 500 Hz in the real-time ROS graph (twin, one process)?

    .venv/bin/python bench/controller_realtime.py MODE [PROFILE] [SECONDS] [--no-camera]
        [--controller-process] [--perception]

The camera renders (in a process of its own, as in `sim2real up`; ros/camera_process.py) unless
--no-camera: the issue's condition. Its frames are counted as a subscriber receives them.
--perception composes the perception node (the CNN on every frame) beside the controller, as
`sim2real up --perception learned` does.

Prints the driver's counters: steps, commands that reached it (share of all steps, start-up
included), the share of steps from the first command on whose command answered the previous state
in time (a fresh command waiting at the step: the issue's ">= 99% within the period"), missed
deadlines and wake-up jitter p99, and what the controller answered and its status.
"""
import sys

import numpy as np

from sim2real.graph import build_graph
from sim2real.ros.compose import Composition

camera = "--no-camera" not in sys.argv
own = [k for k, flag in (("controller", "--controller-process"), ("perception", "--perception-process"))
       if flag in sys.argv]        # nodes run in a process of their own instead of composed here
args = [a for a in sys.argv[1:] if not a.startswith("--")]
mode = args[0]
prof = args[1] if len(args) > 1 else "config/reality/heavy-sticky.yaml"
prof = None if prof == "nominal" else prof      # nominal: no reality profile (no drops, no latency)
dur = float(args[2]) if len(args) > 2 else 15.0
perception = "learned" if {"--perception", "--perception-process"} & set(sys.argv) else "sim"   # the CNN on the frames
decls = build_graph("jaco", "twin", prof, camera=camera, targets=3, duration_s=dur, controller=mode,
                    perception=perception)
procs = []
if own:
    import os
    import subprocess
    from sim2real.ros.compose import ros_args
    for kind in own:
        decl = next(x for x in decls if x.kind == kind)
        decls = [x for x in decls if x is not decl]
        procs.append(subprocess.Popen([sys.executable, "-m", "sim2real.ros.run_node", kind, *ros_args(decl, True)],
                                      env={**os.environ, "ROS_DOMAIN_ID": "77"}))
with Composition(decls, domain_id=77) as c:
    d = c.nodes["driver"]
    k = c.nodes.get("controller")
    # per step: did a command answering the last state reach the motors for it (a fresh one
    # waiting at the step)? Counted from the first command on: before it the graph is still being
    # discovered (the pinned inputs learn their publishers), which is start-up, not control
    fresh = []
    twin, step = d.twin, d.twin.step

    def counted_step():
        fx = twin.fx
        if d.commands:
            fresh.append(bool(fx._cmd_q) and fx._cmd_q[0][0] <= twin.sim.time + 1e-9)
        step()
    twin.step = counted_step
    # the mode's own cost per state (wall time of law.command, GIL waits included)
    import time as _time
    law_cost = []
    if k is not None:
        law_command = k.law.command

        def timed_command(*a, **kw):
            t0 = _time.perf_counter()
            try:
                return law_command(*a, **kw)
            finally:
                law_cost.append(_time.perf_counter() - t0)
        k.law.command = timed_command
    images = []      # the camera's frames as a subscriber gets them: does it still keep its rate?
    if camera:
        from rclpy.node import Node
        from sensor_msgs.msg import Image
        probe = Node("camera_probe", context=c.context)
        probe.create_subscription(Image, "/camera/image_raw", lambda m: images.append(_time.monotonic()), 2)
        c.executor.add_node(probe)
        targets = []          # what perception made of them (when it runs)
        if perception == "learned":
            from geometry_msgs.msg import PointStamped
            probe.create_subscription(PointStamped, "/perception/target", lambda m: targets.append(1), 10)
    c.spin(until_driver_done=True, timeout_s=dur + 30)
    n, ok = len(fresh), sum(fresh)
    print(f"{mode} (camera {'on' if camera else 'off'}): driver steps {d.steps}, commands received {d.commands} "
          f"({100 * d.commands / max(d.steps, 1):.1f}% of all steps, start-up included); from the first command on "
          f"{ok} of {n} steps had a fresh command = {100 * ok / max(n, 1):.2f}% answered within the period; "
          f"missed deadlines {d.missed_deadlines}, jitter p99 {1e3 * d.jitter.percentile(99):.2f} ms; "
          + (f"controller answered {k.commands} states, status: {k.law.status}" if k is not None
             else "controller in its own process"))
    if len(images) > 1:
        span = images[-1] - images[0]
        print(f"camera: {len(images)} frames received, {(len(images) - 1) / span:.1f} Hz from the first to the last "
              f"(rated {d.robot.camera.rate_hz:g} Hz), longest gap {1e3 * max(np.diff(images)):.0f} ms")
    elif camera:
        print(f"camera: {len(images)} frames received")
    if camera and perception == "learned":
        print(f"perception ({'its own process' if 'perception' in own else 'composed here'}): "
              f"{len(targets)} targets published")
    if law_cost:
        us = 1e6 * np.asarray(law_cost)
        print(f"{mode}: cost per state (law.command wall time) median {np.median(us):.0f} us, "
              f"p90 {np.percentile(us, 90):.0f} us, p99 {np.percentile(us, 99):.0f} us, max {us.max():.0f} us")
for proc in procs:
    import signal
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=5)
    except Exception:  # noqa: BLE001
        proc.kill()
