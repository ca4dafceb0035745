"""Teleop mux node (twist_mux semantics for desired joint states); config/teleop/<robot>.yaml.

Each input topic's messages are forwarded to the output while that input wins (see
teleop/mux.py). A message that is not a usable desired state for the robot (joint names, sizes,
NaN/inf) is refused and never makes its input fresh; an input flooding past its rate is refused
too. Locks are obeyed from any publisher (volatile or latched) and released only by the
publisher that set them or /teleop/lock_reset. Input topics come from the config and can be
remapped like any ROS topic.
"""
from __future__ import annotations

import threading

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.node import Node
from sensor_msgs.msg import JointState
from std_msgs.msg import Bool, Empty, String

from sim2real import paths
from sim2real.config_io import load_yaml
from sim2real.robots import load_robot
from sim2real.ros import convert
from sim2real.ros.params import declare
from sim2real.ros.qos import LATCHED, LOCK_QOS
from sim2real.ros.sourced import SourcedSubscriptions
from sim2real.teleop.mux import Mux

PARAMS = {
    "robot": ("jaco", "registered robot name (inputs are checked against its joints)"),
    "config": ("config/teleop/jaco.yaml", "teleop config with a `mux` section"),
}


class MuxNode(Node):
    def __init__(self, **kwargs):
        super().__init__("teleop_mux", **kwargs)
        p = declare(self, PARAMS)
        robot = load_robot(p.robot)
        cfg = load_yaml(paths.resolve(p.config)).get("mux", {})
        self.mux = Mux(cfg.get("inputs", {}), cfg.get("locks", {}))
        self.maps = {name: convert.JointMap(robot.joint_names) for name in self.mux.inputs}
        # pinned inputs arrive serialized: validated in place (convert.JointStateReader) and
        # forwarded as the very bytes, no message built
        self.readers = {name: convert.JointStateReader(robot.joint_names) for name in self.mux.inputs}
        self.refused: dict[str, int] = {}
        self.pub = self.create_publisher(JointState, cfg.get("output", "/controller/desired"), 10)
        self.pub_active = self.create_publisher(String, "/teleop/active", LATCHED)
        self.pub_diag = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self.active = None
        self.guard = threading.RLock()   # inputs arrive on the executor and on the sourced hub thread
        self.sourced = SourcedSubscriptions(self)
        for name, src in self.mux.inputs.items():
            if src.source:    # one publisher only (the policy): strangers refused before they count
                self.sourced.add_from(src.source, JointState, src.topic, lambda m, n=name: self._on_input(n, m),
                                      lambda who, n=name: self._refuse(n, f"from {who}, not {self.mux.inputs[n].source}"),
                                      raw=True)
            else:             # any teleop tool may drive: validated, rate-limited
                self.create_subscription(JointState, src.topic, lambda m, n=name: self._on_input(n, m), 10)
        for name, src in self.mux.locks.items():
            for qos in LOCK_QOS:
                self.sourced.add(Bool, src.topic, qos, lambda m, gid, n=name: self._on_lock(n, m, gid))
        self.create_subscription(Empty, "/teleop/lock_reset", self._on_reset, 10)
        self.create_timer(1.0, self._diagnostics)

    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _refuse(self, name: str, why: str) -> None:
        key = f"{name}: {why}"
        self.refused[key] = self.refused.get(key, 0) + 1
        self.get_logger().warning(f"mux: refused {key}", throttle_duration_sec=1.0)

    def _on_input(self, name: str, msg: JointState) -> None:
        with self.guard:
            self._input(name, msg)

    def _input(self, name: str, msg: JointState | bytes) -> None:
        if msg.__class__ is bytes:
            problem = self.readers[name].read(msg)[4]
        else:
            problem = self.maps[name].extract(msg)[2]
        if problem:
            self._refuse(name, problem)
            return
        now = self._now()
        # a pinned input (the policy node) is the graph's own: no rate limit (in lockstep faster
        # than real time its 50 Hz arrive in bursts between /clock ticks)
        flood = self.mux.update_input(name, msg, now, limit=self.mux.inputs[name].source is None)
        if flood:
            self._refuse(name, f"{flood} (over {self.mux.inputs[name].max_rate_hz:.0f} msg/s)")
            if self.active == name:    # it was driving: hand back now, not when its last message goes stale
                winner = self.mux.select(now)
                self._announce(winner.name if winner else None)
                if winner is not None and winner.value is not None:
                    self.pub.publish(winner.value)
            return
        winner = self.mux.select(now)
        self._announce(winner.name if winner else None)
        if winner is not None and winner.name == name:
            self.pub.publish(msg)

    def _on_lock(self, name: str, msg: Bool, gid: bytes) -> None:
        with self.guard:
            self._lock(name, msg, gid)

    def _lock(self, name: str, msg: Bool, gid: bytes) -> None:
        what = self.mux.update_lock(name, msg.data, self._now(), source=gid)
        if what and what.startswith("refused"):
            self._refuse(name, what)
        self._reselect()

    def _on_reset(self, _msg: Empty) -> None:
        if self.mux.reset_locks():
            self.get_logger().warning("mux: locks reset")
        self._reselect()

    def _reselect(self) -> None:
        with self.guard:
            winner = self.mux.select(self._now())
            self._announce(winner.name if winner else None)

    def _announce(self, name) -> None:
        if name != self.active:
            self.active = name
            self.get_logger().info(f"mux: control -> {name or 'nobody (locked or no fresh input)'}")
            self.pub_active.publish(String(data=name or ""))

    def _diagnostics(self) -> None:
        self._reselect()     # a lock's heartbeat can go stale without a message
        st = DiagnosticStatus(name="sim2real/teleop_mux", hardware_id="")
        recent, self.refused = self.refused, {}      # what was refused in the last second
        st.level = DiagnosticStatus.WARN if recent else DiagnosticStatus.OK
        st.message = f"active: {self.active or 'none'}" + "".join(f"; refused {k} ({v}x)" for k, v in recent.items())
        st.values = [KeyValue(key=k, value=str(v)) for k, v in recent.items()]
        arr = DiagnosticArray(status=[st])
        arr.header.stamp = self.get_clock().now().to_msg()      # a recording's log time and this agree
        self.pub_diag.publish(arr)

    def destroy_node(self):
        if hasattr(self, "sourced"):
            self.sourced.close()
        return super().destroy_node()
