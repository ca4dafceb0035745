"""The one twin stepper: the robot as hardware behaves, below the ROS driver.

Used by the driver node (lockstep and real time), by the lockstep loop without ROS
(`run_lockstep`: benchmarks, data collection) and by the graph benchmark, so all three step the
same robot. One step:

    measure()          true state -> sensor effects -> transport (latency, drops) -> wire states due now
    command(cmd)       a wire command accepted by the driver: refused if non-finite or the wrong
                       size, clipped to the effort limits (the driver's last line), then queued
                       through the command transport (latency, jitter, drops, driver faults)
    step()             the motor controller: the newest delivered command through the actuators
                       (lag, motor strength), or its own hold, then the physics. Position and
                       PD-target robots are commanded joint positions: the firmware's joint PD
                       (robots.pd_torque, stiffness/damping from the robot config) turns them into
                       torque every control period, from the true joint state.

The motor controller holds (effort robots: damped PD on the position where the hold began, plus
gravity compensation from the nominal model, as vendor firmware does; position and PD-target
robots: the last target delivered) when
  - no command has reached the motors yet (the arm stays on its brakes),
  - no fresh command reached the motors for `command_timeout_s` (a dead or late graph),
  - the command it acts on is saturated (a joint at its effort limit) and its period is over:
    a saturated torque is never reapplied past the step it was meant for.
"""
from __future__ import annotations

from typing import Callable

import mujoco
import numpy as np

from sim2real.errors import ConfigError
from sim2real.robots import pd_torque
from sim2real.robots.spec import RobotSpec
from sim2real.safety.filter import LoopDelay, SafetyFilter
from sim2real.safety.motor import HOLD_BRAKES, HOLD_DEADLINE, HOLD_SATURATED, MotorLine  # noqa: F401 - the twin's names
from sim2real.sim.model_builder import build_model, joint_indices
from sim2real.sim.reality import NOMINAL, RealityProfile
from sim2real.sim.simulator import Simulator
from sim2real.sim.twin_effects import TwinEffects

DEADLINE_PERIODS = 5    # default command timeout, in control periods (10 ms at 500 Hz)


class Twin:
    def __init__(self, robot: RobotSpec, reality: RealityProfile = NOMINAL, *,
                 command_timeout_s: float | None = None, start_time: float = 0.0):
        self.robot = robot
        self.sim = Simulator(robot, reality)
        self.sim.data.time = float(start_time)
        self.fx = TwinEffects(reality.resolve(robot), robot.dt, robot.n)
        self.dt = robot.dt
        self.timeout = DEADLINE_PERIODS * robot.dt if command_timeout_s is None else float(command_timeout_s)
        if self.timeout < robot.dt:
            raise ConfigError(f"command_timeout_s {self.timeout} is shorter than one control period ({robot.dt} s)")
        self.wire_joints = tuple(robot.joint_names[i] for i in self.fx.perm)
        self.targets = robot.actuation != "effort"
        if self.targets:     # a target outside the joint's range is clipped into it
            lo, hi = robot.position_lower[self.fx.perm], robot.position_upper[self.fx.perm]
        else:
            lo, hi = -robot.effort_limit[self.fx.perm], robot.effort_limit[self.fx.perm]
        gravity = _Gravity(robot) if not getattr(robot, "floating_base", False) else None
        self.line = MotorLine(robot, self.timeout, self.dt, lo, hi, gravity)
        self.line.holding = HOLD_BRAKES     # on its brakes until the first command (not counted as a hold)
        self.hold_steps = 0

    # the motor line's counts: accepted, refused (non-finite or wrong size), clipped (past the
    # wire limits), holds begun (brakes aside: the deadline or an expired saturated command)
    commands = property(lambda self: self.line.commands)
    refused = property(lambda self: self.line.refused)
    clipped = property(lambda self: self.line.clipped)
    deadline_holds = property(lambda self: self.line.holds)
    holding = property(lambda self: self.line.holding)     # why the motors hold now, None when they act

    @property
    def time(self) -> float:
        return self.sim.time

    def command(self, wire_cmd) -> str | None:
        """A command in wire order (N m, or rad for position / PD-target robots) at the current sim
        time; the reason when refused."""
        clipped, problem = self.line.accept(wire_cmd)
        if problem is None:
            self.fx.command_received(self.sim.time, clipped)
        return problem

    def measure(self) -> list[tuple[float, np.ndarray, np.ndarray, np.ndarray]]:
        """Measure the true state now; the wire states (measured at, q, qd, effort) that arrive now."""
        t = self.sim.time
        q, qd, eff = self.sim.joint_state()
        self.fx.state_measured(t, q, qd, eff)
        return self.fx.states_due(t)

    def step(self) -> None:
        t = self.sim.time
        fx = self.fx
        fresh = fx.deliver(t)
        line = self.line
        reason = line.reason(fx.delivered, fresh, t - fx.delivered_at if fx.delivered else 0.0, fx.applied)
        if reason is not None:
            q, qd = self.sim.joint_position_velocity()
            self.hold_steps += 1
            cmd = line.hold(reason, q, qd, fx.applied if fx.delivered else None)
        else:
            line.release()
            cmd = fx.applied
        if self.targets:     # the joint PD, from the true joint state (read only when it is needed)
            if reason is None:
                q, qd = self.sim.joint_position_velocity()
            cmd = pd_torque(self.robot, cmd, q, qd)
        tau = fx.motor_torque(t, override=cmd)
        self.sim.step(tau)


class _Gravity:
    """Gravity torques of the nominal model (what the vendor's firmware knows, not the reality)."""

    def __init__(self, robot: RobotSpec):
        self.model = build_model(robot)
        self.data = mujoco.MjData(self.model)
        self.qadr, self.dadr = joint_indices(self.model, robot.joint_names)

    def __call__(self, q: np.ndarray) -> np.ndarray:
        self.data.qpos[self.qadr] = q
        self.data.qvel[:] = 0.0
        mujoco.mj_forward(self.model, self.data)
        return self.data.qfrc_bias[self.dadr].copy()


# controller(stamp s, measured q, qd, effort) -> commanded torque (n,) N m, wire order
Controller = Callable[[float, np.ndarray, np.ndarray, np.ndarray], np.ndarray]
# on_step(t s, true q, true qd, commanded torque or None when no state arrived this step)
StepHook = Callable[[float, np.ndarray, np.ndarray, np.ndarray | None], None]


def run_lockstep(twin: Twin, controller: Controller, duration: float, *, safety: SafetyFilter | None = None,
                 payload_events=(), on_step: StepHook | None = None, on_message: Callable | None = None) -> int:
    """The driver node's lockstep loop without ROS: each step the newest state that arrived goes
    to the controller, its torque through the safety filter (as the graph's filter node) to
    twin.command, then twin.step. Runs `duration` sim seconds; returns the safety events.
    payload_events: (t, mass kg) changes of the payload. on_message(kind, t, values) sees what
    crosses the wire ('state' with (stamp, q, qd, effort), 'command' with the torque)."""
    safety = safety or SafetyFilter(twin.robot)
    delay = LoopDelay(safety.loop_delay_s)     # measured as the filter node measures it
    t_cmd = None
    events = sorted(payload_events)
    sim, n_steps, safety_events = twin.sim, int(round(duration / twin.dt)), 0
    for _ in range(n_steps):
        t = sim.time
        while events and events[0][0] <= t + 1e-9:
            sim.set_payload_mass(events.pop(0)[1])
        arrived = twin.measure()
        cmd = None
        if arrived:
            stamp, mq, mqd, meff = arrived[-1]
            if on_message:
                on_message("state", t, (stamp, mq, mqd, meff))
            if t_cmd is not None:
                delay.observe(t, t_cmd)
                d = delay.update()
                if d is not None:
                    safety.set_loop_delay(d)
            t_cmd = stamp
            cmd, reasons = safety.filter(controller(stamp, mq, mqd, meff), mq, mqd)
            safety_events += bool(reasons)
            if on_message:
                on_message("command", t, cmd)
            twin.command(cmd)
        if on_step:
            q, qd, _ = sim.joint_state()
            on_step(t, q, qd, cmd)
        twin.step()
    return safety_events
