"""The twin driver's lockstep loop without ROS, for benchmarks and data collection.

Step for step what the `twin` driver node does in lockstep (ros/nodes/driver.py): measure the
true state, pass it through the transport (noise, bias, drops, latency), hand the newest state
that has arrived to the controller, put its torque through the safety filter and the command
transport (latency, jitter, drops), then the actuators (lag, motor strength) and the physics.
Until the first command reaches the motors the arm stays on a damped hold, as on its brakes.
A run here and a run through the ROS graph differ only in message passing and timing.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from sim2real.control.safety import SafetyFilter
from sim2real.errors import ConfigError
from sim2real.robots.spec import RobotSpec
from sim2real.sim.reality import NOMINAL, RealityProfile
from sim2real.sim.simulator import Simulator
from sim2real.sim.twin_effects import TwinEffects

# controller(stamp s, measured q, qd, effort) -> commanded torque (n,) N m, model joint order
Controller = Callable[[float, np.ndarray, np.ndarray, np.ndarray], np.ndarray]
# on_step(t s, true q, true qd, commanded torque or None when no state arrived this step)
StepHook = Callable[[float, np.ndarray, np.ndarray, np.ndarray | None], None]


class LockstepTwin:
    def __init__(self, robot: RobotSpec, reality: RealityProfile = NOMINAL):
        res = reality.resolve(robot)
        if (tuple(res.joint_order) != tuple(range(robot.n)) or np.any(res.sign != 1) or np.any(res.offset)
                or np.any(res.command_scale != 1)):
            raise ConfigError(f"{reality.name}: the profile has a `driver:` section (joint order, sign, "
                              "offset, command scale); run `sim2real doctor` and apply its corrections first")
        self.robot = robot
        self.sim = Simulator(robot, reality)
        self.fx = TwinEffects(res, robot.dt, robot.n)
        self.safety = SafetyFilter(robot)
        self._brake = SafetyFilter(robot)
        self.commands = 0
        self.safety_events = 0

    def run(self, controller: Controller, duration: float, payload_events=(), on_step: StepHook | None = None,
            on_message: Callable | None = None) -> None:
        """Run `duration` sim seconds. payload_events: (t, mass kg) changes of the end-effector payload.
        on_message(kind, t, values) sees what crosses the wire ('state' with (stamp, q, qd, effort),
        'command' with the torque), as a recorder on the graph would."""
        events = sorted(payload_events)
        sim, fx, n_steps = self.sim, self.fx, int(round(duration / self.robot.dt))
        for _ in range(n_steps):
            t = sim.time
            while events and events[0][0] <= t + 1e-9:
                sim.set_payload_mass(events.pop(0)[1])
            q, qd, eff = sim.joint_state()
            fx.state_measured(t, q, qd, eff)
            arrived = fx.states_due(t)
            cmd = None
            if arrived:
                stamp, mq, mqd, meff = arrived[-1]
                if on_message:
                    on_message("state", t, (stamp, mq, mqd, meff))
                cmd, reasons = self.safety.filter(controller(stamp, mq, mqd, meff), mq, mqd)
                self.safety_events += bool(reasons)
                if on_message:
                    on_message("command", t, cmd)
                fx.command_received(t, cmd)
                self.commands += 1
            tau = fx.motor_torque(t)
            if not fx.delivered:
                tau = self._brake.hold(q, qd)
            if on_step:
                on_step(t, q, qd, cmd)
            sim.step(tau)
