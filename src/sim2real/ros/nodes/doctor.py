"""Doctor node: contract checks on /joint_states, then the per-joint experiment through the safety
filter, honouring /teleop/lock: torque pulses on /controller/effort for effort robots
(doctor/excitation.py), position steps on /controller/position for position and PD-target robots
(doctor/steps.py). Results are read by `sim2real doctor`."""
from __future__ import annotations

import time

import numpy as np
from rclpy.node import Node
from sensor_msgs.msg import JointState
from std_msgs.msg import Bool, Float64MultiArray

from sim2real.control.nominal_model import NominalModel
from sim2real.doctor.excitation import Excitation
from sim2real.doctor.steps import StepExperiment
from sim2real.robots import load_robot
from sim2real.ros import convert
from sim2real.ros.params import declare
from sim2real.ros.qos import LOCK_QOS

PARAMS = {"robot": ("jaco", "registered robot name"),
          "pulse_fraction": (0.12, "pulse torque as a fraction of each joint's effort limit")}


class DoctorNode(Node):
    def __init__(self, **kwargs):
        super().__init__("doctor", **kwargs)
        p = declare(self, PARAMS)
        self.robot = load_robot(p.robot)
        self.pulse_fraction = p.pulse_fraction
        self.targets = self.robot.actuation != "effort"
        self.model = None if self.targets else NominalModel(self.robot)
        self.samples = []
        self.order: list[str] | None = None
        self.idx = None
        self.exc: Excitation | None = None
        self.locked = False
        self.finished = False
        self.on_done = None
        self.pub = self.create_publisher(Float64MultiArray, self.robot.controller_topic, 10)
        self.create_subscription(JointState, "/joint_states", self._on_state, 10)
        for qos in LOCK_QOS:   # any lock from anyone ends the experiment (the filter holds the arm)
            self.create_subscription(Bool, "/teleop/lock", self._on_lock, qos)

    def _on_lock(self, msg: Bool) -> None:
        self.locked = self.locked or bool(msg.data)

    def _on_state(self, msg: JointState) -> None:
        if self.finished:
            return
        t = convert.from_time(msg.header.stamp)
        self.samples.append((time.monotonic(), t, list(msg.name), list(msg.position), list(msg.velocity),
                             list(msg.effort)))
        arm = self.robot.joint_names
        if self.order is None:
            if not all(n in msg.name for n in arm):
                return      # contract check reports it
            self.order = [n for n in msg.name if n in arm]
            self.idx = np.array([list(msg.name).index(n) for n in self.order])
            if self.targets:
                self.exc = StepExperiment(len(self.order), {i for i, n in enumerate(self.order) if n in self.robot.mimic})
            else:
                self._make_excitation(np.asarray(msg.position)[self.idx], [arm.index(n) for n in self.order])
        q = np.asarray(msg.position)[self.idx]
        qd = np.asarray(msg.velocity)[self.idx] if len(msg.velocity) else np.zeros(len(self.idx))
        tau = self.exc.command(t, q, qd, self.locked)
        if tau is None:
            self.finished = True
            if self.exc.aborted:
                self.get_logger().error(f"excitation aborted: {self.exc.aborted}")
            if self.on_done:
                self.on_done()
            return
        self.pub.publish(convert.effort_command(tau))

    def _make_excitation(self, q0: np.ndarray, cfg: list[int]) -> None:
        """Effort robots: torque pulses sized from the nominal model at the start pose."""
        q_cfg = np.empty(self.robot.n)
        q_cfg[cfg] = q0
        M, g = self.model.dynamics(q_cfg, np.zeros(self.robot.n))
        self.exc = Excitation(self.robot.effort_limit[cfg], np.diag(M)[cfg], self.model.frictionloss[cfg],
                              g[cfg], self.pulse_fraction)
