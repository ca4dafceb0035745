"""Doctor node: contract checks on /joint_states (and on /clock, when the driver publishes one),
then the per-joint experiment through the safety filter, honouring /teleop/lock: the hold, probes,
pulses and second pose of doctor/excitation.py on /controller/effort for effort robots, position
steps on /controller/position for position and PD-target robots (doctor/steps.py). Results are
read by `sim2real doctor`."""
from __future__ import annotations

import time

import numpy as np
from rclpy.node import Node
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import JointState
from std_msgs.msg import Bool, Float64MultiArray

from sim2real.control.nominal_model import NominalModel
from sim2real.doctor.excitation import Excitation, make_excitation
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
        self.clock = {"messages": 0, "offsets": []}    # what the driver publishes on /clock
        self._clock_t: float | None = None
        self.pub = self.create_publisher(Float64MultiArray, self.robot.controller_topic, 10)
        self.create_subscription(JointState, "/joint_states", self._on_state, 10)
        self.create_subscription(Clock, "/clock", self._on_clock, 10)
        if not self.targets:    # what the safety filter really sends the driver
            self.create_subscription(Float64MultiArray, self.robot.command_topic, self._on_forwarded, 50)
        for qos in LOCK_QOS:   # any lock from anyone ends the experiment (the filter holds the arm)
            self.create_subscription(Bool, "/teleop/lock", self._on_lock, qos)

    def _on_lock(self, msg: Bool) -> None:
        self.locked = self.locked or bool(msg.data)

    def _on_forwarded(self, msg: Float64MultiArray) -> None:
        if self.exc is not None and not self.finished and len(msg.data) == len(self.order or ()):
            self.exc.forwarded(time.time(), np.asarray(msg.data))

    def _on_clock(self, msg: Clock) -> None:
        self.clock["messages"] += 1
        self._clock_t = convert.from_time(msg.clock)

    def _on_state(self, msg: JointState) -> None:
        if self.finished:
            return
        t = convert.from_time(msg.header.stamp)
        recv = time.time()     # wall clock: what a stamp on wall time is compared with
        self.samples.append((recv, t, list(msg.name), list(msg.position), list(msg.velocity), list(msg.effort)))
        if self._clock_t is not None and len(self.clock["offsets"]) < 5000:
            self.clock["offsets"].append(t - self._clock_t)
        arm = self.robot.joint_names
        if self.order is None:
            if not all(n in msg.name for n in arm):
                return      # contract check reports it
            self.order = [n for n in msg.name if n in arm]
            self.idx = np.array([list(msg.name).index(n) for n in self.order])
            if self.targets:
                self.exc = StepExperiment(len(self.order), {i for i, n in enumerate(self.order) if n in self.robot.mimic})
            else:
                self._make_excitation(np.asarray(msg.position)[self.idx])
        if self.pub.get_subscription_count() == 0:
            return      # nobody takes our commands yet (the filter not discovered): nothing starts
        q = np.asarray(msg.position)[self.idx]
        qd = np.asarray(msg.velocity)[self.idx] if len(msg.velocity) else np.zeros(len(self.idx))
        if self.targets:
            tau = self.exc.command(t, q, qd, self.locked)
        else:
            effort = np.asarray(msg.effort)[self.idx] if len(msg.effort) else None
            tau = self.exc.command(t, q, qd, self.locked, effort, recv)
        if tau is None and not (self.exc.finished or self.exc.aborted):
            return      # listening: the driver's own hold acts
        if tau is None:
            self.finished = True
            if self.exc.aborted:
                self.get_logger().error(f"excitation aborted: {self.exc.aborted}")
            if self.on_done:
                self.on_done()
            return
        self.pub.publish(convert.effort_command(tau))

    def _make_excitation(self, q0: np.ndarray) -> None:
        """Effort robots: sized from the nominal model at the start pose, by the reported names."""
        sim_time = bool(self.get_parameter("use_sim_time").value)
        self.exc = make_excitation(self.robot, self.model, self.order, q0, self.pulse_fraction, sim_time)
