"""Kinova Jaco 2 driver node for the hardware backend: kinova_driver's topics <-> the contract
(translation: hardware/kinova.py; topics, names and conventions: config/hardware/jaco.yaml).
Torque mode is asked for (in/set_torque_control_mode) with the first command that moves the arm;
a hold with params.hold = position_mode leaves torque mode and streams zero joint velocities."""
from __future__ import annotations

from sensor_msgs.msg import JointState

from sim2real.hardware.kinova import KinovaJaco2
from sim2real.hardware.base import Refused
from sim2real.ros.nodes.hw_base import HardwareDriverNode, vendor_type


class KinovaDriverNode(HardwareDriverNode):
    def vendor_setup(self) -> None:
        r = self.robot.name
        self.JointTorque = vendor_type("kinova_msgs.msg", "JointTorque", "kinova_msgs", r)
        self.JointVelocity = vendor_type("kinova_msgs.msg", "JointVelocity", "kinova_msgs", r)
        self.TorqueMode = vendor_type("kinova_msgs.srv", "SetTorqueControlMode", "kinova_msgs", r)
        from sim2real.control.nominal_model import NominalModel
        model = NominalModel(self.robot)
        self.core = KinovaJaco2(self.robot, self.hw, gravity=lambda q: model.dynamics(q, 0.0 * q)[1])
        self.pub_torque = self.create_publisher(self.JointTorque, self.hw.topic("joint_torque"), 1)
        self.pub_velocity = self.create_publisher(self.JointVelocity, self.hw.topic("joint_velocity"), 1)
        self.torque_mode_client = self.create_client(self.TorqueMode, self.hw.services["torque_mode"])
        self.torque_mode = False
        self.create_subscription(JointState, self.hw.topic("joint_state"), self._on_vendor_state, self.vendor_qos())

    def _on_vendor_state(self, msg: JointState) -> None:
        try:
            self.on_state(self.core.state(msg))
        except Refused as e:
            self.refuse_state(str(e))

    def _set_torque_mode(self, on: bool) -> None:
        if on == self.torque_mode:
            return
        if not self.torque_mode_client.service_is_ready():
            self.problem("kinova_driver's set_torque_control_mode service is not there")
            return
        req = self.TorqueMode.Request()
        req.state = 1 if on else 0
        self.torque_mode_client.call_async(req)
        self.torque_mode = on
        self.get_logger().info(f"kinova: {'torque' if on else 'position'} control mode")

    def send(self, cmd, hold) -> None:
        if hold and self.core.hold_mode == "position_mode":
            self._set_torque_mode(False)
            self.pub_velocity.publish(self.core.velocity(0.0 * cmd, self.JointVelocity()))
            return
        self._set_torque_mode(True)
        if self.torque_mode:
            self.pub_torque.publish(self.core.torque(cmd, self.state.q, self.JointTorque()))

    def destroy_node(self):
        try:
            self._set_torque_mode(False)    # the arm's own position hold when the graph goes
        except Exception:  # noqa: BLE001 - the context may be down already
            pass
        return super().destroy_node()
