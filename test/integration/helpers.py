"""Bring up the real graph in-process and poke it from a test node."""
from __future__ import annotations

import itertools
import os
import time

import numpy as np
from sensor_msgs.msg import JointState
from std_msgs.msg import Bool, Float64MultiArray, String

from sim2real.graph import build_graph
from sim2real.ros.compose import Composition


class Probe:
    """A test node in the composition: records commands reaching the driver, publishes teleop."""

    def __init__(self, comp: Composition):
        from rclpy.node import Node
        from rclpy.qos import DurabilityPolicy, QoSProfile
        self.node = Node("probe", context=comp.context)
        comp.executor.add_node(self.node)
        self.commands: list[np.ndarray] = []
        self.active: list[str] = []
        latched = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL)
        self.node.create_subscription(Float64MultiArray, "/effort_controller/commands",
                                      lambda m: self.commands.append(np.asarray(m.data)), 100)
        self.node.create_subscription(String, "/teleop/active", lambda m: self.active.append(m.data), latched)
        self.teleop = self.node.create_publisher(JointState, "/teleop/desired", 10)
        self.lock = self.node.create_publisher(Bool, "/teleop/lock", latched)
        self.effort = self.node.create_publisher(Float64MultiArray, "/controller/effort", 10)


_domains = itertools.count(int(os.environ.get("ROS_DOMAIN_ID", "0")) + 101)


def graph(**kw) -> Composition:
    """Each test's graph on a domain of its own (see Composition: closed participants linger)."""
    kw.setdefault("camera", False)
    return Composition(build_graph("jaco", kw.pop("backend", "mujoco"), kw.pop("reality", None), **kw),
                       domain_id=next(_domains) % 232)


def spin_sim(comp: Composition, sim_seconds: float, wall_limit: float = 120.0, *, until: float | None = None) -> None:
    """Spin until the driver's sim clock advanced by sim_seconds (or reached `until`, s)."""
    d = comp.nodes["driver"]
    end = d.sim.time + sim_seconds if until is None else until
    t0 = time.monotonic()
    while d.sim.time < end and time.monotonic() - t0 < wall_limit:
        comp.executor.spin_once(timeout_sec=0.05)
