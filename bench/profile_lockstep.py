#!/usr/bin/env python3
"""Where a lockstep step goes: the composed graph (camera off) with perf_counter wrappers.

Prints, per step of the measured window: CPU of each thread (from /proc), time inside every
sourced callback (by node and topic), the hub's serving minus its callbacks (takes, GID
gates), publishes by topic, and the named pieces of node work below. Wrappers add ~0.3 us per
call and inflate what they wrap a little; compare figures of one run with each other, and
runs with each other only interleaved. Prints figures, asserts nothing.

    python bench/profile_lockstep.py [--seconds 4] [--robot jaco]
"""
from __future__ import annotations

import argparse
import collections
import os
import time
from time import perf_counter

T: dict[str, float] = collections.defaultdict(float)
N: collections.Counter = collections.Counter()


def _wrap(obj, attr: str, label: str) -> None:
    f = getattr(obj, attr, None)
    if f is None:
        return

    def timed(*a, **k):
        t = perf_counter()
        try:
            return f(*a, **k)
        finally:
            T[label] += perf_counter() - t
            N[label] += 1
    setattr(obj, attr, timed)


def _cpu() -> dict[str, tuple[str, int]]:
    out = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            st = open(f"/proc/self/task/{tid}/stat").read()
        except OSError:
            continue
        f = st[st.rindex(")") + 2:].split()
        out[tid] = (st[st.index("(") + 1:st.rindex(")")], int(f[11]) + int(f[12]))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--robot", default="jaco")
    a = ap.parse_args()
    from sim2real.ros import env
    env.setup()
    from rclpy.publisher import Publisher

    from sim2real.graph import build_graph
    from sim2real.ros import convert, sourced
    from sim2real.ros.compose import Composition

    # the hub: all of serving (takes, gates, callbacks); callbacks are wrapped per entry below
    _wrap(sourced._Hub, "_serve", "hub: serve (takes + GID gates + callbacks)")
    publish = Publisher.publish

    def timed_publish(self, msg):
        t = perf_counter()
        try:
            return publish(self, msg)
        finally:
            label = f"publish {self.topic_name}"
            T[label] += perf_counter() - t
            N[label] += 1
    Publisher.publish = timed_publish
    for fn in ("joint_state", "effort_command", "effort_command_cdr"):
        _wrap(convert, fn, f"convert.{fn}")
    _wrap(convert.JointMap, "extract", "convert.JointMap.extract (messages deserialized)")
    # the control loop's raw inputs, read in place (a steady stream) or deserialized (any other)
    _wrap(convert.JointStateReader, "read", "convert.JointStateReader.read")
    _wrap(convert.Float64ArrayReader, "read", "convert.Float64ArrayReader.read")

    decls = build_graph(a.robot, "mujoco", duration_s=a.seconds + 0.5, camera=False, targets=3)
    with Composition(decls, domain_id=100 + os.getpid() % 100) as c:
        n = c.nodes
        for e in [e for node in n.values() if hasattr(node, "sourced") for e in node.sourced._entries]:
            _wrap(e, "callback", f"callback {e.node.get_name()} <- {e.handle.get_topic_name()}")
        d = n["driver"]
        pieces = [(d.twin, "command", "driver: twin.command"), (d.twin, "step", "driver: twin.step"),
                  (d.sim, "step", "driver:   sim.step"), (d.twin, "measure", "driver: twin.measure"),
                  (d, "_publish_state", "driver: _publish_state (measure, convert, publish)")]
        if "controller" in n:
            ctl = n["controller"]
            pieces += [(ctl.law, "command", "controller: law.command"), (ctl, "_now", "controller: _now"),
                       (ctl.limits, "clamp_desired", "controller: clamp_desired")]
            nominal = getattr(getattr(ctl.law, "law", None), "m", None)
            if nominal is not None:
                pieces += [(nominal, "dynamics", "controller:   NominalModel.dynamics")]
        if "safety_filter" in n:
            saf = n["safety_filter"]
            pieces += [(saf.filter, "filter", "safety: filter.filter"), (saf, "_now", "safety: _now")]
        if "policy" in n:
            pieces += [(n["policy"], "_on_state", "policy: _on_state (deserialize, act, publish)")]
        for obj, attr, label in pieces:
            _wrap(obj, attr, label)
        deadline = time.monotonic() + 30      # measured from 0.5 sim-s on, once commands flow
        while (d.sim.time < 0.5 or d.commands < 100) and not d.done and time.monotonic() < deadline:
            c.executor.spin_once(timeout_sec=0.05)
        T.clear()
        N.clear()
        before, s0, t0 = _cpu(), d.steps, perf_counter()
        c.spin(timeout_s=600)
        wall, steps, after = perf_counter() - t0, d.steps - s0, _cpu()
    us = 1e6 / steps
    tick = os.sysconf("SC_CLK_TCK")
    print(f"{a.robot}: {steps / wall:.0f} steps/s = {wall * us:.0f} us/step wall (profiled: wrappers slow it)")
    print("thread CPU per step:")
    for tid, (name, ticks) in sorted(after.items(), key=lambda kv: -(kv[1][1] - before.get(kv[0], ("", 0))[1])):
        dt = (ticks - before.get(tid, ("", 0))[1]) / tick
        if dt > 0:
            print(f"  {name:24s} {dt * us:8.1f} us")
    cb = sum(v for k, v in T.items() if k.startswith("callback"))
    T["hub: serve minus callbacks (takes, GID gates)"] = T["hub: serve (takes + GID gates + callbacks)"] - cb
    N["hub: serve minus callbacks (takes, GID gates)"] = N["hub: serve (takes + GID gates + callbacks)"]
    print("inclusive wall time per step (calls per step, us per call):")
    for k in sorted(T):
        print(f"  {k:62s} {T[k] * us:8.1f} us  {N[k] / steps:5.2f}/step  {1e6 * T[k] / max(N[k], 1):7.1f} us/call")


if __name__ == "__main__":
    main()
