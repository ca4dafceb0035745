"""Teleop mux node (twist_mux semantics for desired joint states); config/teleop/<robot>.yaml.

Each input topic's messages are forwarded to the output while that input wins (see
teleop/mux.py). Input topics come from the config and can be remapped like any ROS topic.
"""
from __future__ import annotations

from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile
from sensor_msgs.msg import JointState
from std_msgs.msg import Bool, String

from sim2real import paths
from sim2real.config_io import load_yaml
from sim2real.ros.params import declare
from sim2real.teleop.mux import Mux

PARAMS = {
    "config": ("config/teleop/jaco.yaml", "teleop config with a `mux` section"),
}


class MuxNode(Node):
    def __init__(self, **kwargs):
        super().__init__("teleop_mux", **kwargs)
        p = declare(self, PARAMS)
        cfg = load_yaml(paths.resolve(p.config)).get("mux", {})
        self.mux = Mux(cfg.get("inputs", {}), cfg.get("locks", {}))
        self.pub = self.create_publisher(JointState, cfg.get("output", "/controller/desired"), 10)
        self.pub_active = self.create_publisher(
            String, "/teleop/active", QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL))
        self.active = None
        latched = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL)
        for name, src in self.mux.inputs.items():
            self.create_subscription(JointState, src.topic, lambda m, n=name: self._on_input(n, m), 10)
        for name, src in self.mux.locks.items():
            self.create_subscription(Bool, src.topic, lambda m, n=name: self._on_lock(n, m), latched)

    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _on_input(self, name: str, msg: JointState) -> None:
        now = self._now()
        self.mux.update_input(name, msg, now)
        winner = self.mux.select(now)
        self._announce(winner.name if winner else None)
        if winner is not None and winner.name == name:
            self.pub.publish(msg)

    def _on_lock(self, name: str, msg: Bool) -> None:
        self.mux.update_lock(name, msg.data, self._now())
        winner = self.mux.select(self._now())
        self._announce(winner.name if winner else None)

    def _announce(self, name) -> None:
        if name != self.active:
            self.active = name
            self.get_logger().info(f"mux: control -> {name or 'nobody (locked or no fresh input)'}")
            self.pub_active.publish(String(data=name or ""))
