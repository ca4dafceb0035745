"""Driver adapter: applies doctor corrections between a vendor driver and the graph.
/driver/joint_states -> /joint_states (the config's names, order and conventions: a driver's own
names, e.g. Kinova's j2s7s300_joint_1, are renamed by the corrections' `names:`);
/effort_controller/commands -> /driver/effort_commands (the driver's order, sense and scale).
Commands are taken from the safety filter only (safety/source.py); the driver takes them from
this node only."""
from __future__ import annotations

from rclpy.node import Node
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray

from sim2real import paths
from sim2real.doctor.adapter import DriverAdapter
from sim2real.robots import load_robot
from sim2real.ros import convert
from sim2real.ros.params import declare
from sim2real.ros.sourced import SourcedSubscriptions

PARAMS = {"robot": ("jaco", "registered robot name"),
          "corrections": ("", "driver corrections YAML (from `sim2real doctor --out`)"),
          "command_source": ("safety_filter", "the only node whose commands are passed on")}


class DriverAdapterNode(Node):
    def __init__(self, **kwargs):
        super().__init__("driver_adapter", **kwargs)
        p = declare(self, PARAMS)
        self.robot = load_robot(p.robot)
        self.adapter = DriverAdapter.load(paths.resolve(p.corrections), self.robot)
        if self.adapter.renames:
            self.get_logger().info("driver names -> robot names: " +
                                   ", ".join(f"{d} -> {r}" for d, r in self.adapter.renames))
        self.pub_js = self.create_publisher(JointState, "/joint_states", 10)
        self.pub_cmd = self.create_publisher(Float64MultiArray, "/driver/effort_commands", 10)
        self.create_subscription(JointState, "/driver/joint_states", self._on_state, 10)
        self.sourced = SourcedSubscriptions(self)
        self.sourced.add_from(p.command_source, Float64MultiArray, "/effort_controller/commands", self._on_command,
                              lambda who: self.get_logger().error(f"refused commands from {who}: only "
                                                                  f"{p.command_source} commands the driver",
                                                                  throttle_duration_sec=1.0))

    def _on_state(self, msg: JointState) -> None:
        try:
            q, qd, e = self.adapter.state_to_robot(msg.name, msg.position, msg.velocity, msg.effort)
        except ValueError as err:
            self.get_logger().error(f"driver state does not match the corrections: {err}", throttle_duration_sec=1.0)
            return
        self.pub_js.publish(convert.joint_state(convert.from_time(msg.header.stamp), self.robot.joint_names, q, qd, e))

    def _on_command(self, msg: Float64MultiArray) -> None:
        if len(msg.data) != self.robot.n:
            return   # the safety filter never sends this; refuse rather than guess
        self.pub_cmd.publish(convert.effort_command(self.adapter.command_to_driver(msg.data)))

    def destroy_node(self):
        if hasattr(self, "sourced"):
            self.sourced.close()
        return super().destroy_node()
