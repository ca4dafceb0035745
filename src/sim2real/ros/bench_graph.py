"""`sim2real bench graph`: figures for the foundation, printed, never asserted.

1. MuJoCo steps/s raw (mj_step alone) and through the driver core (Simulator + twin effects).
2. Three references, measured alternately in the same run: a bare 3-node rclpy chain in lockstep
   (driver -> controller -> safety -> driver, same message types, no work in the callbacks) on
   the EventsExecutor, every hop over DDS; the same chain with sourced subscriptions (ros/sourced.py:
   the hub thread, every input pinned to its upstream node by publisher GID): their difference is
   what GID pinning costs by itself; and that chain with in-process delivery, as the composed graph
   runs: the ceiling of the graph's own transport.
3. The full graph in lockstep (camera off and on), composed in one process with in-process
   delivery between its nodes (ros/sourced.attach; DDS still carries everything to any other
   listener): control rate, % of the bare chain, % of the driver core alone (the ceiling the
   robot's physics sets), and the round trip state -> command (median, p99).
4. The twin in real time with a reality profile, camera on, its driver in its own process as
   hardware would be: achieved rate, missed deadlines, wake-up jitter (p50, p99, max).

--json prints the same figures as one JSON object instead.
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
    """(raw mj_step steps/s, the driver core's steps/s: sim/twin.py's measure, command, step)."""
    import mujoco

    from sim2real.sim.twin import Twin
    twin = Twin(robot)
    m, d = twin.sim.model, twin.sim.data
    n = 0
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        for _ in range(100):
            mujoco.mj_step(m, d)
        n += 100
    raw = n / (time.perf_counter() - t0)
    twin = Twin(robot)
    hold = robot.home if robot.actuation != "effort" else np.zeros(robot.n)   # a command it takes
    n = 0
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        twin.measure()
        twin.command(hold)
        twin.step()
        n += 1
    return raw, n / (time.perf_counter() - t0)


class Chain:
    """Three rclpy nodes in lockstep (driver -> controller -> safety -> driver), no work in the
    callbacks: the ceiling any rclpy graph can reach here.

    sourced=False: plain subscriptions on one EventsExecutor. sourced=True: the same chain with
    every input a sourced subscription (ros/sourced.py: served by the hub thread, pinned to its
    upstream node by publisher GID, newest only), as the graph's control loop is: the difference
    is what GID pinning costs by itself. Set up once, `rate()` as often as wanted (alternate the
    two kinds in one run: the machine's load drifts), then `close()`."""

    def __init__(self, sourced=False, n_joints=7, in_process=False):
        import rclpy
        from rclpy.experimental import EventsExecutor
        from rclpy.node import Node
        from sensor_msgs.msg import JointState
        from std_msgs.msg import Float64MultiArray

        from sim2real.ros import convert
        from sim2real.ros import sourced as src
        self.rclpy, self.src, self.convert = rclpy, src, convert
        self.ctx = rclpy.Context()
        rclpy.init(context=self.ctx, domain_id=_fresh_domain())
        self.names = [f"joint_{i}" for i in range(1, n_joints + 1)]
        self.q = np.zeros(n_joints)
        prefix = "local" if in_process else "hub" if sourced else "bare"
        drv, ctl, saf = self.nodes = [Node(f"{prefix}_{n}", context=self.ctx) for n in ("driver", "controller", "safety")]
        self.pub_js = drv.create_publisher(JointState, "/bench/joint_states", 10)
        pub_ctl = ctl.create_publisher(Float64MultiArray, "/bench/effort", 10)
        pub_saf = saf.create_publisher(Float64MultiArray, "/bench/commands", 10)
        links = ((ctl, JointState, "/bench/joint_states", drv,
                  lambda m: pub_ctl.publish(convert.effort_command(np.asarray(m.position)))),
                 (saf, Float64MultiArray, "/bench/effort", ctl,
                  lambda m: pub_saf.publish(convert.effort_command(np.asarray(m.data)))),
                 (drv, Float64MultiArray, "/bench/commands", saf, self._on_command))
        self.subs = []
        for node, mtype, topic, upstream, cb in links:
            if sourced:
                s = src.SourcedSubscriptions(node)
                s.add_from(upstream.get_name(), mtype, topic, cb)
                self.subs.append(s)
            else:
                node.create_subscription(mtype, topic, cb, 10)
        if in_process:
            for nd in self.nodes:
                src.attach(nd)
        self.ex = EventsExecutor(context=self.ctx)
        for nd in self.nodes:
            self.ex.add_node(nd)
        self.k, self.stop_at, self.t0 = 0, 0, None
        deadline = time.monotonic() + 5
        while self.pub_js.get_subscription_count() == 0 and time.monotonic() < deadline:
            self.ex.spin_once(timeout_sec=0.05)
        time.sleep(0.3)

    def _publish(self) -> None:
        self.pub_js.publish(self.convert.joint_state(self.k * 0.002, self.names, self.q, self.q, self.q))

    def _on_command(self, _msg) -> None:
        self.k += 1
        if self.k == self.start_at:
            self.t0 = time.perf_counter()
        if self.k >= self.stop_at:
            self.t1 = time.perf_counter()
            return         # the chain rests until the next rate()
        self._publish()

    def rate(self, steps=2000, warmup=100) -> float:
        """Steps per second over `steps` round trips, after `warmup` of them."""
        self.start_at, self.stop_at, self.t0 = self.k + warmup, self.k + warmup + steps, None
        self._publish()
        deadline, last, moved = time.monotonic() + 120, self.k, time.monotonic()
        while self.k < self.stop_at and time.monotonic() < deadline:
            if self.k != last:
                last, moved = self.k, time.monotonic()
            elif time.monotonic() - moved > 1.0:   # a state lost to discovery: start again
                self._publish()
                moved = time.monotonic()
            self.ex.spin_once(timeout_sec=0.1)
        return steps / (self.t1 - self.t0) if self.t0 is not None and self.k >= self.stop_at else float("nan")

    def close(self) -> None:
        for s in self.subs:
            s.close()
        for nd in self.nodes:
            nd.destroy_node()
        self.src.stop(self.ctx)
        self.ex.shutdown()
        self.rclpy.shutdown(context=self.ctx)


def bench_chains(rounds=3, steps=2000, n_joints=7) -> tuple[list[float], list[float], list[float]]:
    """(bare rates, sourced rates, in-process rates): the three chains measured alternately,
    `rounds` times each."""
    chains = Chain(False, n_joints), Chain(True, n_joints), Chain(True, n_joints, in_process=True)
    try:
        out = ([], [], [])
        for _ in range(rounds):
            for rates, chain in zip(out, chains):
                rates.append(chain.rate(steps))
        return out
    finally:
        for chain in chains:
            chain.close()


# from a base that differs between processes: two benchmarks run at once must not share a domain
_DOMAINS = itertools.count(int(os.environ.get("ROS_DOMAIN_ID", "0")) + 100 + 3 * (os.getpid() % 40))


def _fresh_domain() -> int:
    """A DDS domain per measured graph: participants of a graph closed a moment ago linger for
    their 20 s lease and would tax the next one."""
    return next(_DOMAINS) % 232


def bench_graph_lockstep(seconds, camera, robot="jaco"):
    from sim2real.graph import build_graph
    from sim2real.ros.compose import Composition
    decls = build_graph(robot, "mujoco", duration_s=seconds + 0.5, camera=camera, targets=3)
    with Composition(decls, domain_id=_fresh_domain()) as c:
        d = c.nodes["driver"]
        # measured from 0.5 sim-s on, once commands flow (discovery done): `seconds` of sim time
        # (a fixed wall second of warm-up ran most of a short run before the window opened)
        deadline = time.monotonic() + 30
        while (d.sim.time < 0.5 or d.commands < 100) and not d.done and time.monotonic() < deadline:
            c.executor.spin_once(timeout_sec=0.05)
        s0, t0 = d.steps, time.perf_counter()
        d.rtt.clear()
        c.spin(timeout_s=600)
        rate = (d.steps - s0) / (time.perf_counter() - t0)
        rtt = list(d.rtt)
    return rate, rtt


def bench_twin_process(seconds, reality, camera=True, robot="jaco"):
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
    decls = build_graph(robot, "twin", reality, camera=camera, targets=200)
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
            "p50": float(last["jitter_p50_ms"]), "p99": float(last["jitter_p99_ms"]), "max": float(last["jitter_max_ms"]),
            "commands": int(last["commands"]) - int(first["commands"]),
            "steps": int(last["steps"]) - int(first["steps"])}


def _profile_for(robot) -> str | None:
    """The reality profile the real-time run uses: laggy-noisy for the Jaco, else the first
    example profile written for the robot."""
    from sim2real.config_io import load_yaml
    if robot.name == "jaco":
        return str(paths.resolve("config/reality/laggy-noisy.yaml"))
    for f in sorted(paths.resolve("config/reality").glob("*.yaml")):
        if load_yaml(f).get("robot") == robot.name:
            return str(f)
    return None


def main(a) -> int:
    import json

    from sim2real.robots import load_robot
    from sim2real.ros import env
    env.setup()
    robot = load_robot(getattr(a, "robot", None) or "jaco")
    as_json = bool(getattr(a, "json", False))
    out: dict = {"robot": robot.name, "control_rate_hz": robot.control_rate_hz, "cores": os.cpu_count()}

    def say(line: str) -> None:
        if not as_json:
            print(line, flush=True)
    say(f"sim2real bench graph — robot {robot.name}, {robot.control_rate_hz:.0f} Hz control")
    raw, core = bench_mujoco(robot)
    out["mujoco_steps_per_s"], out["driver_core_steps_per_s"] = raw, core
    say(f"mujoco raw mj_step:                {raw:10.0f} steps/s")
    say(f"driver core (sim + twin effects):  {core:10.0f} steps/s")
    # the references are measured alternately, before and after the graph (medians of 3 + 2 rounds
    # each): on a shared machine the load drifts between measurements
    bares, hubs, locs = bench_chains(3, n_joints=robot.n)
    graphs = {}
    for cam in (False, True):
        if not (cam and robot.camera is None):
            graphs[cam] = bench_graph_lockstep(a.seconds, cam, robot.name)
    more = bench_chains(2, n_joints=robot.n)
    bares, hubs, locs = bares + more[0], hubs + more[1], locs + more[2]
    bare, hub, loc = float(np.median(bares)), float(np.median(hubs)), float(np.median(locs))
    out["bare_chain_steps_per_s"], out["sourced_chain_steps_per_s"] = bare, hub
    out["in_process_chain_steps_per_s"] = loc
    out["bare_chain_rounds"], out["sourced_chain_rounds"], out["in_process_chain_rounds"] = bares, hubs, locs
    say(f"bare 3-node rclpy chain, lockstep: {bare:10.0f} steps/s (EventsExecutor, one process; median of "
        f"{len(bares)}: {', '.join(f'{x:.0f}' for x in bares)})")
    say(f"same chain, sourced (hub thread, GID-pinned): {hub:.0f} steps/s = {100 * hub / bare:5.1f}% of the bare chain "
        f"(median of {len(hubs)}: {', '.join(f'{x:.0f}' for x in hubs)})")
    say(f"same chain, sourced + in-process delivery (as the composed graph): {loc:.0f} steps/s = {100 * loc / bare:5.1f}% of "
        f"the bare chain (median of {len(locs)}: {', '.join(f'{x:.0f}' for x in locs)})")
    out["lockstep"] = {}
    for cam in (False, True):
        if cam not in graphs:
            say("full graph lockstep, camera on : the robot has no camera")
            continue
        rate, rtt = graphs[cam]
        key = "camera_on" if cam else "camera_off"
        out["lockstep"][key] = {"steps_per_s": rate, "pct_of_bare_chain": 100 * rate / bare,
                                "pct_of_sourced_chain": 100 * rate / hub, "pct_of_in_process_chain": 100 * rate / loc,
                                "pct_of_driver_core": 100 * rate / core,
                                "x_real_time": rate * robot.dt,
                                "rtt_median_ms": 1e3 * _pct(rtt, 50), "rtt_p99_ms": 1e3 * _pct(rtt, 99)}
        say(f"full graph lockstep, camera {'on ' if cam else 'off'}: {rate:8.0f} steps/s = {100 * rate / bare:5.1f}% of "
            f"the bare chain, {100 * rate / loc:5.1f}% of the in-process chain, {100 * rate / core:5.1f}% of the driver "
            f"core alone ({rate * robot.dt:.2f}x real time); "
            f"state->command round trip median {1e3 * _pct(rtt, 50):.3f} ms, p99 {1e3 * _pct(rtt, 99):.3f} ms")
    prof = _profile_for(robot)
    r = bench_twin_process(a.realtime_seconds, prof, camera=robot.camera is not None, robot=robot.name) if prof else None
    out["twin_realtime"] = None if r is None else {"profile": os.path.basename(prof), **r}
    if as_json:
        print(json.dumps(out, indent=1))
    if prof is None:
        say(f"twin real time: no example reality profile for {robot.name} in config/reality")
        return 1
    if r is None:
        say("twin real time: no diagnostics from the driver process")
        return 1
    say(f"twin real time (driver in its own process as hardware would be; {os.path.basename(prof)}; "
        f"camera {'on' if robot.camera is not None else 'none'}; {r['wall']:.0f} s): {r['rate']:.1f} steps/s of "
        f"{robot.control_rate_hz:.0f}; missed deadlines {r['missed']}; wake-up jitter since driver start p50 {r['p50']:.3f} ms, "
        f"p99 {r['p99']:.3f} ms, max {r['max']:.3f} ms; commands received for {100 * r['commands'] / max(r['steps'], 1):.1f}% of "
        f"steps (the profile's drop_rate loses some states and commands)")
    return 0
