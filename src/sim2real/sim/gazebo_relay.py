"""The twin's driver-side behaviour in front of Gazebo's ros2_control: what ros/nodes/gz_driver.py
does between gz_ros2_control and the graph, without rclpy.

Gazebo steps the physics (and the model carries a reality profile's masses, friction, damping,
payload and ground friction: robots/gazebo.py); this relay does what sim/twin.py does around the
physics, with the same TwinEffects, so a profile means the same on both backends:

  measured(t, q, qd, effort)   the joint state from joint_state_broadcaster (robot order) -> sensor
                               effects (noise, bias, backlash, driver sign/offset/order) and state
                               transport (latency, drops); returns the wire states due at t
  command(wire_cmd, t)         a command from the graph: refused if the wrong size or non-finite,
                               clipped to the wire limits, queued through the command transport
                               (latency, jitter, drops, driver order/sign/scale)
  output(t, q, qd)             what the ros2_control command controller gets for the period starting
                               at t (robot order): the delivered command, or the motor controller's
                               hold (no command yet; none fresh for `timeout`; a saturated torque
                               past its period) by the twin's own rules (safety/motor.py); effort robots then
                               through the actuators (lag, motor strength). Position and PD-target
                               robots: the target itself (gz_ros2_control's position interface
                               servos to it; lag and strength do not apply, robots/gazebo.py says so).
"""
from __future__ import annotations

import numpy as np

from sim2real.safety.motor import HOLD_BRAKES, MotorLine
from sim2real.sim.reality import NOMINAL, RealityProfile
from sim2real.sim.twin import DEADLINE_PERIODS
from sim2real.sim.twin_effects import TwinEffects


class GazeboRelay:
    def __init__(self, robot, reality: RealityProfile = NOMINAL, *, command_timeout_s: float | None = None,
                 gravity=None):
        """gravity: q -> (n,) N m, the nominal model's gravity torque, added to effort robots' holds
        (as the twin's motor controller and vendor firmware do); None: no gravity compensation."""
        self.robot = robot
        self.n = robot.n
        self.fx = TwinEffects(reality.resolve(robot), robot.dt, robot.n)
        self.perm = self.fx.perm
        self.wire_joints = tuple(robot.joint_names[i] for i in self.perm)
        self.timeout = DEADLINE_PERIODS * robot.dt if command_timeout_s is None else float(command_timeout_s)
        self.targets = robot.actuation != "effort"
        if self.targets:
            lo, hi = robot.position_lower[self.perm], robot.position_upper[self.perm]
        else:
            lo, hi = -robot.effort_limit[self.perm], robot.effort_limit[self.perm]
        self.line = MotorLine(robot, self.timeout, robot.dt, lo, hi, gravity)
        self.line.holding = HOLD_BRAKES

    # the motor line's counts and state (safety/motor.py: the twin's, the hardware adapters')
    commands = property(lambda self: self.line.commands)
    refused = property(lambda self: self.line.refused)
    clipped = property(lambda self: self.line.clipped)
    holds = property(lambda self: self.line.holds)
    holding = property(lambda self: self.line.holding)

    # ---- state path ----
    def measured(self, t: float, q, qd, effort) -> list:
        self.fx.state_measured(t, np.asarray(q, float), np.asarray(qd, float), np.asarray(effort, float))
        return self.fx.states_due(t)

    def states_due(self, t: float) -> list:
        return self.fx.states_due(t)

    # ---- command path ----
    def command(self, wire_cmd, t: float) -> str | None:
        clipped, problem = self.line.accept(wire_cmd)
        if problem is None:
            self.fx.command_received(t, clipped)
        return problem

    def output(self, t: float, q, qd) -> np.ndarray:
        """(n,) robot order: N m for the effort controller, rad for the position controller."""
        fx = self.fx
        fresh = fx.deliver(t)
        line = self.line
        reason = line.reason(fx.delivered, fresh, t - fx.delivered_at if fx.delivered else 0.0, fx.applied)
        if reason is not None:
            cmd = line.hold(reason, q, qd, fx.applied if fx.delivered else None)
        else:
            line.release()
            cmd = fx.applied
        if self.targets:
            return np.array(cmd, dtype=float)
        return fx.motor_torque(t, override=cmd)
