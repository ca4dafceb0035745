"""What every policy node shares: joint states from the driver only, decimated by their stamps to
the robot's policy rate (so a policy runs the same in lockstep and real time), judged against the
node's clock, and /policy/desired (sensor_msgs/JointState: q rad, qd rad/s) out. A policy
subclasses PolicyNode and implements act(t, q, qd) -> (q_d, qd_d)."""
from __future__ import annotations

import struct

import numpy as np
from rclpy.clock import Clock, ClockType
from rclpy.node import Node
from sensor_msgs.msg import JointState

from sim2real.robots import load_robot
from sim2real.ros import convert
from sim2real.ros.params import declare
from sim2real.ros.sourced import SourcedSubscriptions
from sim2real.safety.stamps import StampGate

PARAMS = {"robot": ("jaco", "registered robot name"),
          "state_source": ("driver", "the only node whose /joint_states are taken"),
          "target_source": ("driver", "reach: the only node whose targets are taken (driver for /sim/target, "
                                      "perception for /perception/target)")}


class PolicyNode(Node):
    def __init__(self, extra_params: dict | None = None, **kwargs):
        super().__init__("policy", **kwargs)
        p = self.p = declare(self, {**PARAMS, **(extra_params or {})})
        self.robot = load_robot(p.robot)
        self.reader = convert.JointStateReader(self.robot.joint_names)   # read in place, a steady stream
        self.map = self.reader.map
        self.period = 1.0 / self.robot.policy_rate_hz
        self.next_t = None
        self.gate = StampGate()    # a spoofed future stamp must not stall the decimation
        self.pub = self.create_publisher(JointState, "/policy/desired", 10)
        # states count once the node is built: the hub may serve one while a subclass's __init__
        # still runs (its planner or checkpoint not there yet); the executor's first turn opens them
        self._ready = False
        self._opener = self.create_timer(0.0, self._open, clock=Clock(clock_type=ClockType.STEADY_TIME))
        # raw: at the control rate in, the policy rate out, only the states it uses are deserialized
        self.sourced = SourcedSubscriptions(self)
        self.sourced.add_from(p.state_source, JointState, "/joint_states", self._on_raw_state,
                              lambda who: self.get_logger().warning(f"refused /joint_states from {who}",
                                                                    throttle_duration_sec=1.0), raw=True)

    def add_target_input(self, callback) -> None:
        """Reach policies: targets (PointStamped on /perception/target, remapped to /sim/target until
        perception runs), latched, pinned to `target_source` like every control input: a stranger's
        target is refused and named."""
        from geometry_msgs.msg import PointStamped
        from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
        qos = QoSProfile(depth=10, durability=DurabilityPolicy.TRANSIENT_LOCAL, reliability=ReliabilityPolicy.RELIABLE)
        self.sourced.add_from(self.p.target_source, PointStamped, "/perception/target", callback,
                              lambda who: self.get_logger().warning(f"refused target from {who}",
                                                                    throttle_duration_sec=1.0), qos=qos)

    def act(self, t: float, q: np.ndarray, qd: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(desired q (n,) rad, desired qd (n,) rad/s) at state time t s; (None, None) publishes nothing."""
        raise NotImplementedError

    def _open(self) -> None:
        self._ready = True
        self.destroy_timer(self._opener)

    def _on_raw_state(self, data: bytes) -> None:
        if not self._ready:
            return
        # CDR: 4-byte encapsulation header, then header.stamp (int32 sec, uint32 nanosec)
        sec, nsec = struct.unpack_from("<iI" if data[1] & 1 else ">iI", data, 4)   # byte 1: CDR_LE = 1
        if self.next_t is not None and self.next_t - 2 * self.period < sec + 1e-9 * nsec < self.next_t:
            return    # decimated (a stamp further behind means next_t is implausible: take it)
        t, q, qd, _, problem = self.reader.read(data)
        self._on_state(t, q, qd, problem)

    def _on_state(self, t: float, q: np.ndarray, qd: np.ndarray, problem: str | None = None) -> None:
        problem = problem or self.gate.check(t, self.get_clock().now().nanoseconds * 1e-9)
        if problem:
            self.get_logger().warning(f"ignored joint state: {problem}", throttle_duration_sec=1.0)
            return
        self.next_t = (self.next_t or t) + self.period
        if self.next_t < t or self.next_t > t + 2 * self.period:   # a pause, or the clock went back
            self.next_t = t + self.period
        q_d, qd_d = self.act(t, q, qd)
        if q_d is None:      # nothing safe to ask for yet
            return
        self.pub.publish(convert.joint_state_cdr(t, self.robot.joint_names, q_d, qd_d))

    def destroy_node(self):
        if hasattr(self, "sourced"):
            self.sourced.close()
        return super().destroy_node()
