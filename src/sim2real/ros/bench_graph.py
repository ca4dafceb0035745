"""`sim2real bench graph`: figures for the foundation, printed, never asserted.

1. MuJoCo steps/s raw (mj_step alone) and through the driver core (Simulator + twin effects).
2. A bare 3-node rclpy chain in lockstep (driver -> controller -> safety -> driver, same message
   types, no work in the callbacks), measured in the same run as the reference rate.
3. The full graph in lockstep (camera off and on): control rate, % of the bare chain, and the
   round trip state -> command (median, p99).
4. The twin in real time with a reality profile, camera on, its driver in its own process as
   hardware would be: achieved rate, missed deadlines, wake-up jitter (p50, p99, max).
"""
from __future__ import annotations

import itertools
import os
import time

import numpy as np

from sim2real import paths


def _pct(x, q):
    return float(np.percentile(np.asarray(x), q)) if len(x) else float("nan")


def bench_mujoco(robot, seconds=1.0):
    import mujoco

    from sim2real.sim.reality import NOMINAL
    from sim2real.sim.simulator import Simulator
    from sim2real.sim.twin_effects import TwinEffects
    sim = Simulator(robot)
    m, d = sim.model, sim.data
    n = 0
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        for _ in range(100):
            mujoco.mj_step(m, d)
        n += 100
    raw = n / (time.perf_counter() - t0)
    sim.reset()
    fx = TwinEffects(NOMINAL.resolve(robot), robot.dt, robot.n)
    n = 0
    tau = np.zeros(robot.n)
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        fx.command_received(sim.time, tau)
        sim.step(fx.motor_torque(sim.time))
        q, qd, e = sim.joint_state()
        fx.state_measured(sim.time, q, qd, e)
        fx.states_due(sim.time)
        n += 1
    return raw, n / (time.perf_counter() - t0)


def bench_bare_chain(steps=5000):
    """Three rclpy nodes, one executor, lockstep: the ceiling any rclpy graph can reach here."""
    import rclpy
    from rclpy.experimental import EventsExecutor
    from rclpy.node import Node
    from sensor_msgs.msg import JointState
    from std_msgs.msg import Float64MultiArray

    from sim2real.ros import convert
    ctx = rclpy.Context()
    rclpy.init(context=ctx, domain_id=_fresh_domain())
    names = [f"joint_{i}" for i in range(1, 8)]
    drv, ctl, saf = (Node(n, context=ctx) for n in ("bare_driver", "bare_controller", "bare_safety"))
    state = {"k": 0, "t0": None, "done": False}
    pub_js = drv.create_publisher(JointState, "/bare/joint_states", 10)
    pub_ctl = ctl.create_publisher(Float64MultiArray, "/bare/effort", 10)
    pub_saf = saf.create_publisher(Float64MultiArray, "/bare/commands", 10)
    ctl.create_subscription(JointState, "/bare/joint_states",
                            lambda m: pub_ctl.publish(convert.effort_command(np.asarray(m.position))), 10)
    saf.create_subscription(Float64MultiArray, "/bare/effort",
                            lambda m: pub_saf.publish(convert.effort_command(np.asarray(m.data))), 10)
    q = np.zeros(7)

    def on_cmd(m):
        state["k"] += 1
        if state["k"] == 100:
            state["t0"] = time.perf_counter()
        if state["k"] >= steps + 100:
            state["done"] = True
            return
        pub_js.publish(convert.joint_state(state["k"] * 0.002, names, q, q, q))
    drv.create_subscription(Float64MultiArray, "/bare/commands", on_cmd, 10)
    ex = EventsExecutor(context=ctx)
    for nd in (drv, ctl, saf):
        ex.add_node(nd)
    deadline = time.monotonic() + 5
    while pub_js.get_subscription_count() == 0 and time.monotonic() < deadline:
        ex.spin_once(timeout_sec=0.05)
    time.sleep(0.3)
    pub_js.publish(convert.joint_state(0.0, names, q, q, q))
    deadline = time.monotonic() + 120
    while not state["done"] and time.monotonic() < deadline:
        ex.spin_once(timeout_sec=0.1)
    rate = (state["k"] - 100) / (time.perf_counter() - state["t0"]) if state["t0"] else float("nan")
    for nd in (drv, ctl, saf):
        nd.destroy_node()
    ex.shutdown()
    rclpy.shutdown(context=ctx)
    return rate


_DOMAINS = itertools.count(int(os.environ.get("ROS_DOMAIN_ID", "0")) + 120)


def _fresh_domain() -> int:
    """A DDS domain per measured graph: participants of a graph closed a moment ago linger for
    their 20 s lease and would tax the next one."""
    return next(_DOMAINS) % 232


def bench_graph_lockstep(seconds, camera):
    from sim2real.graph import build_graph
    from sim2real.ros.compose import Composition
    decls = build_graph("jaco", "mujoco", duration_s=seconds + 0.5, camera=camera, targets=3)
    with Composition(decls, domain_id=_fresh_domain()) as c:
        d = c.nodes["driver"]
        c.spin_for(1.0)                     # discovery, first steps
        while d.sim.time < 0.5 and not d.done:
            c.executor.spin_once(timeout_sec=0.05)
        s0, t0 = d.steps, time.perf_counter()
        d.rtt.clear()
        c.spin(timeout_s=600)
        rate = (d.steps - s0) / (time.perf_counter() - t0)
        rtt = list(d.rtt)
    return rate, rtt


def bench_twin_process(seconds, reality, camera=True):
    """The twin driver in its own process (it stands for hardware), the rest composed here.

    Its timing comes back on /diagnostics, as a real robot's would: figures over the whole
    measured window from the driver's own histogram.
    """
    import signal
    import subprocess
    import sys

    from diagnostic_msgs.msg import DiagnosticArray
    from rclpy.node import Node

    from sim2real.graph import build_graph
    from sim2real.ros.compose import Composition, _die_with_parent, ros_args
    decls = build_graph("jaco", "twin", reality, camera=camera, targets=200)
    drv = next(d for d in decls if d.name == "driver")
    domain = _fresh_domain()
    proc = subprocess.Popen([sys.executable, "-m", "sim2real.ros.run_node", "driver", *ros_args(drv, True)],
                            env={**os.environ, "ROS_DOMAIN_ID": str(domain)}, stderr=subprocess.DEVNULL,
                            preexec_fn=_die_with_parent)
    status: dict = {}

    def on_diag(m):
        for st in m.status:
            if st.name == "sim2real/driver":
                status.update({kv.key: kv.value for kv in st.values})
    try:
        with Composition([d for d in decls if d.name != "driver"], domain_id=domain) as c:
            probe = Node("bench_probe", context=c.context)
            probe.create_subscription(DiagnosticArray, "/diagnostics", on_diag, 10)
            c.executor.add_node(probe)
            c.nodes["bench_probe"] = probe
            deadline = time.monotonic() + 60
            while "steps" not in status and time.monotonic() < deadline:   # process start-up
                c.spin_for(0.5)
            c.spin_for(2.0)
            first = dict(status)
            c.spin_for(seconds)
            last = dict(status)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
    if "steps" not in first:
        return None
    wall = float(last["wall_time"]) - float(first["wall_time"])
    return {"wall": wall, "rate": (int(last["steps"]) - int(first["steps"])) / wall,
            "missed": int(last["missed_deadlines"]) - int(first["missed_deadlines"]),
            "p50": last["jitter_p50_ms"], "p99": last["jitter_p99_ms"], "max": last["jitter_max_ms"],
            "commands": int(last["commands"]) - int(first["commands"]),
            "steps": int(last["steps"]) - int(first["steps"])}


def main(a) -> int:
    from sim2real.robots import load_robot
    from sim2real.ros import env
    env.setup()
    robot = load_robot("jaco")
    print(f"sim2real bench graph — robot jaco, {robot.control_rate_hz:.0f} Hz control")
    raw, core = bench_mujoco(robot)
    print(f"mujoco raw mj_step:                {raw:10.0f} steps/s")
    print(f"driver core (sim + twin effects):  {core:10.0f} steps/s")
    bare = bench_bare_chain()
    print(f"bare 3-node rclpy chain, lockstep: {bare:10.0f} steps/s (EventsExecutor, one process)")
    for cam in (False, True):
        rate, rtt = bench_graph_lockstep(a.seconds, cam)
        print(f"full graph lockstep, camera {'on ' if cam else 'off'}: {rate:8.0f} steps/s = {100 * rate / bare:5.1f}% of "
              f"the bare chain ({rate * robot.dt:.2f}x real time); state->command round trip "
              f"median {1e3 * _pct(rtt, 50):.3f} ms, p99 {1e3 * _pct(rtt, 99):.3f} ms")
    prof = str(paths.resolve("config/reality/laggy-noisy.yaml"))
    r = bench_twin_process(a.realtime_seconds, prof)
    if r is None:
        print("twin real time: no diagnostics from the driver process")
        return 1
    print(f"twin real time (driver in its own process as hardware would be; laggy-noisy; camera on; "
          f"{r['wall']:.0f} s): {r['rate']:.1f} steps/s of {robot.control_rate_hz:.0f}; missed deadlines "
          f"{r['missed']}; wake-up jitter since driver start p50 {r['p50']} ms, p99 {r['p99']} ms, max {r['max']} ms; "
          f"commands received for {100 * r['commands'] / max(r['steps'], 1):.1f}% of steps "
          f"(the profile drops 3% of states and 2% of commands)")
    return 0
