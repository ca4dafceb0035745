"""What the hardware driver nodes share (hw_kinova, hw_naoqi, hw_unitree): each stands in the graph
as "driver", between a vendor's ROS 2 driver and the contract, and keeps the twin driver's rules.

  vendor state  --core.state-->  /joint_states (robot joints, then grippers), /diagnostics
  /effort_controller/commands | /position_controller/commands (from `command_source` only,
  pinned: safety/source.py) --CommandGate--> the vendor's command, at once, and on a timer at the
  vendor's rate: repeated while fresh, the hold after the deadline (hardware/base.py).

The vendor's message types are imported when the node starts, so this file imports anywhere;
where the vendor's package is missing the node refuses to start and names the package to build.
The translation is hardware/<vendor>.py (no rclpy); this file only moves messages.
"""
from __future__ import annotations

import importlib

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray, String

from sim2real.errors import ConfigError
from sim2real.hardware import load_hardware
from sim2real.robots import load_robot
from sim2real.ros import convert
from sim2real.ros.params import declare
from sim2real.ros.qos import LATCHED
from sim2real.ros.sourced import SourcedSubscriptions

PARAMS = {
    "robot": ("jaco", "registered robot name"),
    "hardware_config": ("", "hardware config YAML; empty = config/hardware/<robot>.yaml"),
    "command_source": ("safety_filter", "the only node whose commands are taken (name or /ns/name)"),
    # the graph gives every driver these; a hardware driver has no use for them
    "reality": ("", "ignored on hardware (reality is the robot)"),
    "mode": ("realtime", "ignored on hardware (always real time)"),
    "camera": (True, "ignored: a camera driver of its own publishes /camera/image_raw"),
    "duration_s": (0.0, "ignored on hardware"),
    "targets": (5, "ignored on hardware"),
    "task_seed": (0, "ignored on hardware"),
}


def vendor_type(module: str, name: str, package: str, robot: str):
    """A vendor message or service type, or a ConfigError that says what to install."""
    try:
        return getattr(importlib.import_module(module), name)
    except ImportError:
        raise ConfigError(f"the hardware backend for '{robot}' needs the vendor's ROS 2 package '{package}' "
                          f"({module}.{name}); build it in your workspace and source it "
                          "(config/hardware/<robot>.yaml says which driver)") from None


class HardwareDriverNode(Node):
    """Subclasses set self.core (a hardware VendorAdapter) in vendor_setup() and implement
    send(cmd, hold_reason) (cmd: gated contract command, robot order)."""

    def __init__(self, **kwargs):
        super().__init__("driver", **kwargs)
        p = self.p = declare(self, PARAMS)
        self.robot = load_robot(p.robot)
        self.hw = load_hardware(self.robot, p.hardware_config or None)
        self.core = None
        self.vendor_setup()                 # vendor types, subscriptions, self.core
        self.gate = self.core.gate
        self.state = None                   # newest ContractState
        self.states = self.refused_states = self.commands = self.sent = 0
        self.problems: dict[str, int] = {}   # what went wrong since the last diagnostics -> times
        names = list(self.robot.joint_names) + [g for g in self.robot.gripper_joints if g in self.hw.grippers]
        self._names = names
        self.pub_js = self.create_publisher(JointState, "/joint_states", 10)
        self.pub_diag = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self.pub_description = self.create_publisher(String, "/robot_description", LATCHED)
        self.pub_description.publish(String(data=self.robot.urdf_path.read_text()))
        self.sourced = SourcedSubscriptions(self)
        self.source = self.sourced.add_from(
            p.command_source, Float64MultiArray, self.robot.command_topic, self._on_command,
            lambda who: self.get_logger().error(f"refused commands from {who}: only {p.command_source} "
                                                "commands this driver", throttle_duration_sec=1.0))
        self._refused_seen: dict[str, int] = {}
        self.create_timer(1.0 / self.hw.rate_hz, self._tick)
        self.create_timer(1.0, self._diagnostics)

    # ---- subclass hooks ----
    def vendor_setup(self) -> None:
        raise NotImplementedError

    def send(self, cmd: np.ndarray, hold: str | None) -> None:
        raise NotImplementedError

    def vendor_qos(self):
        return qos_profile_sensor_data     # best effort matches reliable and best-effort publishers

    # ---- state path ----
    def on_state(self, st) -> None:
        """Publish a translated vendor state (hardware.base.ContractState)."""
        self.state = st
        self.states += 1
        g = st.gripper_q[:len(self._names) - self.robot.n]
        self.pub_js.publish(convert.joint_state(
            st.stamp, self._names, np.concatenate((st.q, g)), np.concatenate((st.qd, np.zeros(g.size))),
            None if st.effort is None else np.concatenate((st.effort, np.zeros(g.size)))))

    def problem(self, what: str) -> None:
        self.problems[what] = self.problems.get(what, 0) + 1

    def refuse_state(self, why: str) -> None:
        self.refused_states += 1
        self.problem(f"state refused: {why}")
        self.get_logger().error(f"vendor state refused: {why}", throttle_duration_sec=1.0)

    # ---- command path ----
    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _on_command(self, msg: Float64MultiArray) -> None:
        problem = self.gate.accept(msg.data, self._now())
        if problem:   # the safety filter never sends this; a driver still refuses it
            self.problem(f"command refused: {problem}")
            self.get_logger().error(f"refused command: {problem}", throttle_duration_sec=1.0)
            return
        self.commands += 1
        self._send_due()

    def _tick(self) -> None:
        if self.gate.last is not None and self._now() - self.gate.last_t >= 1.0 / self.hw.rate_hz - 1e-9:
            self._send_due()     # repeat while fresh, hold after the deadline

    def _send_due(self) -> None:
        if self.state is None:
            return                # nothing is sent before the robot's state is known
        cmd, hold = self.gate.due(self._now(), self.state.q, self.state.qd)
        if cmd is None:
            return
        if hold:
            if self.gate.holds != getattr(self, "_holds_logged", 0):
                self._holds_logged = self.gate.holds
                self.get_logger().warning(f"holding: {hold}")
            self.problem(f"holding: {hold}")
        self.send(cmd, hold)
        self.sent += 1

    def _diagnostics(self) -> None:
        fresh = sorted(k for k, v in self.source.refused.items() if v > self._refused_seen.get(k, 0))
        self._refused_seen = dict(self.source.refused)
        for who in fresh:
            self.problem(f"refused commands from {who}")
        problems, self.problems = self.problems, {}
        convert.publish_diagnostics(
            self, self.pub_diag, "sim2real/driver", self.robot.name,
            "running" if self.states else "no vendor state yet", problems,
            [("vendor", self.hw.vendor), ("states", self.states), ("refused_states", self.refused_states),
             ("commands", self.commands), ("sent", self.sent), ("refused_commands", self.gate.refused),
             ("clipped_commands", self.gate.clipped), ("holds", self.gate.holds),
             ("holding", self.gate.holding or "")])

    def destroy_node(self):
        if hasattr(self, "sourced"):
            self.sourced.close()
        return super().destroy_node()
