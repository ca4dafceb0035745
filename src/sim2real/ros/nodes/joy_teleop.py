"""sensor_msgs/Joy (from joy_node) -> /teleop/desired: Cartesian jog with a dead-man button."""
from __future__ import annotations

import numpy as np
from rclpy.node import Node
from sensor_msgs.msg import Joy, JointState

from sim2real.config_io import load_yaml
from sim2real.control.nominal_model import NominalModel
from sim2real.robots import load_robot
from sim2real.ros import convert
from sim2real.ros.params import declare
from sim2real.teleop import config_path as teleop_config
from sim2real.teleop.joy import JoyMapping

PARAMS = {"robot": ("jaco", "registered robot name")}


class JoyTeleopNode(Node):
    def __init__(self, **kwargs):
        super().__init__("joy_teleop", **kwargs)
        p = declare(self, PARAMS)
        self.robot = load_robot(p.robot)
        self.mapping = JoyMapping(load_yaml(teleop_config(self.robot)).get("joy", {}))
        self.model = NominalModel(self.robot)
        self.map = convert.JointMap(self.robot.joint_names)
        self.q_meas = self.q_des = None
        self.t_last = None
        self.pub = self.create_publisher(JointState, "/joy/desired", 10)
        self.create_subscription(JointState, "/joint_states", self._on_state, 10)
        self.create_subscription(Joy, "/joy", self._on_joy, 10)

    def _on_state(self, msg):
        q, _, problem = self.map.extract(msg)
        if not problem:
            # desired states carry the robot's clock (sim or wall time, whichever the graph runs on)
            self.q_meas, self.t_meas = q, convert.from_time(msg.header.stamp)

    def _on_joy(self, msg: Joy):
        v = self.mapping.velocity(list(msg.axes), list(msg.buttons))
        t = convert.from_time(msg.header.stamp) or self.get_clock().now().nanoseconds * 1e-9
        if v is None or self.q_meas is None:
            self.q_des = None     # dead-man released: go quiet, the mux hands control back
            return
        if self.q_des is None:
            self.q_des, self.t_last = self.q_meas.copy(), t
        dt = float(np.clip(t - self.t_last, 0.0, 0.1))
        self.t_last = t
        J = self.model.ee_jacobian(self.q_des)
        qd = J.T @ np.linalg.solve(J @ J.T + 1e-4 * np.eye(3), v)
        self.q_des = self.q_des + qd * dt
        self.pub.publish(convert.joint_state(self.t_meas, self.robot.joint_names, self.q_des, qd))
