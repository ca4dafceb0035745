#!/usr/bin/env python3
"""The serialized joint state and effort command (ros/convert.py: joint_state_cdr,
effort_command_cdr) against the messages they stand for: decoded by rclpy, each random message
must equal the one joint_state / effort_command builds (exit 1 naming the first that differs);
then what building and publishing each way costs here. Prints figures, asserts no timing.

    python bench/cdr_messages.py [--messages 2000]
"""
from __future__ import annotations

import argparse
import sys
import time
import timeit

import numpy as np


def check(n_messages: int, seed: int = 1) -> str | None:
    from rclpy.serialization import deserialize_message
    from sensor_msgs.msg import JointState
    from std_msgs.msg import Float64MultiArray

    from sim2real.ros import convert
    rng = np.random.default_rng(seed)
    same = lambda a, b: np.array_equal(np.asarray(a), np.asarray(b), equal_nan=True)   # noqa: E731
    for k in range(n_messages):
        n = int(rng.integers(0, 14))
        names = ["j" * int(rng.integers(0, 12)) + str(i) for i in range(n)]
        frame, stamp = "f" * int(rng.integers(0, 9)), float(rng.uniform(-5, 1e6))
        q = rng.normal(size=n)
        qd = rng.normal(size=n) if rng.random() < 0.7 else None
        eff = rng.normal(size=n) if rng.random() < 0.7 else None
        if n and rng.random() < 0.1:
            q[0] = np.nan
        ref = convert.joint_state(stamp, names, q, qd, eff, frame_id=frame)
        got = deserialize_message(convert.joint_state_cdr(stamp, names, q, qd, eff, frame_id=frame), JointState)
        if got.header != ref.header or got.name != ref.name or not all(
                same(getattr(got, f), getattr(ref, f)) for f in ("position", "velocity", "effort")):
            return f"joint state #{k}: {n} joints, frame {frame!r}, qd {qd is not None}, effort {eff is not None}"
        tau = rng.normal(size=int(rng.integers(0, 14)))
        if tau.size and rng.random() < 0.1:
            tau[-1] = np.inf
        got_c, ref_c = deserialize_message(convert.effort_command_cdr(tau), Float64MultiArray), convert.effort_command(tau)
        if got_c.layout != ref_c.layout or not same(got_c.data, ref_c.data):
            return f"effort command #{k}: {tau.size} values"
    return None


def figures() -> None:
    import rclpy
    from rclpy.node import Node
    from sensor_msgs.msg import JointState
    from std_msgs.msg import Float64MultiArray

    from sim2real.ros import convert
    names = [f"joint_{i}" for i in range(1, 8)] + ["finger_1", "finger_2"]
    x, tau = np.arange(9.0), np.arange(7.0)
    ctx = rclpy.Context()
    rclpy.init(context=ctx, domain_id=231)
    try:
        node = Node("cdr_bench", context=ctx)
        pub_js = node.create_publisher(JointState, "/cdr_bench/joint_states", 10)
        pub_e = node.create_publisher(Float64MultiArray, "/cdr_bench/effort", 10)
        node.create_subscription(JointState, "/cdr_bench/joint_states", lambda m: None, 10)  # one reader each
        node.create_subscription(Float64MultiArray, "/cdr_bench/effort", lambda m: None, 10)
        time.sleep(0.3)
        cases = (("joint_state (9 joints)", lambda: convert.joint_state(1.0, names, x, x, x)),
                 ("joint_state_cdr", lambda: convert.joint_state_cdr(1.0, names, x, x, x)),
                 ("publish(joint_state)", lambda: pub_js.publish(convert.joint_state(1.0, names, x, x, x))),
                 ("publish(joint_state_cdr)", lambda: pub_js.publish(convert.joint_state_cdr(1.0, names, x, x, x))),
                 ("effort_command (7)", lambda: convert.effort_command(tau)),
                 ("effort_command_cdr", lambda: convert.effort_command_cdr(tau)),
                 ("publish(effort_command)", lambda: pub_e.publish(convert.effort_command(tau))),
                 ("publish(effort_command_cdr)", lambda: pub_e.publish(convert.effort_command_cdr(tau))))
        runs: dict[str, list[float]] = {name: [] for name, _ in cases}
        for _ in range(7):          # interleaved rounds, medians: the machine's load drifts
            for name, f in cases:
                runs[name].append(1e6 * timeit.timeit(f, number=1000) / 1000)
        for name, v in runs.items():
            print(f"  {name:30s} {np.median(v):6.2f} us (median of {len(v)} rounds of 1000)")
        node.destroy_node()
    finally:
        rclpy.shutdown(context=ctx)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=2000)
    a = ap.parse_args()
    problem = check(a.messages)
    if problem:
        print(f"cdr_messages: decoded message differs from the built one: {problem}")
        return 1
    print(f"cdr_messages: {a.messages} random joint states and effort commands: decoded == built")
    figures()
    return 0


if __name__ == "__main__":
    sys.exit(main())
