"""The baseline reach policy node: target (PointStamped) + joint state -> /policy/desired at the
policy rate, decimated by state stamps so it runs the same in lockstep and real time."""
from __future__ import annotations

import struct

import numpy as np
from geometry_msgs.msg import PointStamped
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile
from rclpy.serialization import deserialize_message
from sensor_msgs.msg import JointState

from sim2real.control.nominal_model import NominalModel
from sim2real.policy.reach_planner import ReachPlanner
from sim2real.robots import load_robot
from sim2real.ros import convert
from sim2real.ros.params import declare
from sim2real.ros.sourced import SourcedSubscriptions
from sim2real.safety.stamps import StampGate

PARAMS = {"robot": ("jaco", "registered robot name"),
          "state_source": ("driver", "the only node whose /joint_states are taken")}


class ReachPlannerNode(Node):
    def __init__(self, **kwargs):
        super().__init__("policy", **kwargs)
        p = declare(self, PARAMS)
        self.robot = load_robot(p.robot)
        self.planner = ReachPlanner(NominalModel(self.robot))
        self.map = convert.JointMap(self.robot.joint_names)
        self.period = 1.0 / self.robot.policy_rate_hz
        self.next_t = None
        self.pending_target = None
        self.gate = StampGate()    # a spoofed future stamp must not stall the decimation
        self.pub = self.create_publisher(JointState, "/policy/desired", 10)
        self.create_subscription(PointStamped, "/perception/target", self._on_target,
                                 QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL))
        # raw: at 500 Hz in, 50 Hz out, only the states it uses are deserialized; from the driver only
        self.sourced = SourcedSubscriptions(self)
        self.sourced.add_from(p.state_source, JointState, "/joint_states", self._on_raw_state,
                              lambda who: self.get_logger().warning(f"refused /joint_states from {who}",
                                                                    throttle_duration_sec=1.0), raw=True)

    def _on_target(self, msg: PointStamped) -> None:
        tgt = convert.from_point(msg)
        if not np.all(np.isfinite(tgt)):
            self.get_logger().error("ignored non-finite target", throttle_duration_sec=1.0)
            return
        self.pending_target = tgt

    def _on_raw_state(self, data: bytes) -> None:
        # CDR: 4-byte encapsulation header, then header.stamp (int32 sec, uint32 nanosec)
        sec, nsec = struct.unpack_from("<iI" if data[1] & 1 else ">iI", data, 4)   # byte 1: CDR_LE = 1
        if self.next_t is not None and self.next_t - 2 * self.period < sec + 1e-9 * nsec < self.next_t:
            return    # decimated (a stamp further behind means next_t is implausible: take it)
        self._on_state(deserialize_message(data, JointState))

    def _on_state(self, msg: JointState) -> None:
        t = convert.from_time(msg.header.stamp)
        q, _, problem = self.map.extract(msg)
        problem = problem or self.gate.check(t, self.get_clock().now().nanoseconds * 1e-9)
        if problem:
            self.get_logger().warning(f"ignored joint state: {problem}", throttle_duration_sec=1.0)
            return
        self.next_t = (self.next_t or t) + self.period
        if self.next_t < t or self.next_t > t + 2 * self.period:   # a pause, or the clock went back
            self.next_t = t + self.period
        if self.pending_target is not None:
            self.planner.set_target(self.pending_target, q, t)
            if self.planner.ik_residual > 0.01:
                self.get_logger().warning(f"target not reachable: IK residual {self.planner.ik_residual:.3f} m")
            self.pending_target = None
        q_d, qd_d, _ = self.planner.desired(t, q)
        self.pub.publish(convert.joint_state(t, self.robot.joint_names, q_d, qd_d))

    def destroy_node(self):
        if hasattr(self, "sourced"):
            self.sourced.close()
        return super().destroy_node()
