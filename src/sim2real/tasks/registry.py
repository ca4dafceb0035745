"""The tasks: an explicit dict, name -> task class (each with `from_robot(robot)`).

A task's settings are data in config/tasks/<name>.yaml; a robot lists its tasks in its config
(`tasks:`), the first being its default. walk will join stand for the legged robots.
"""
from __future__ import annotations

from sim2real.errors import ConfigError
from sim2real.tasks.reach import ReachTask
from sim2real.tasks.stand import StandTask

TASKS: dict[str, type] = {
    "reach": ReachTask,    # fixed-base arms with an end effector
    "stand": StandTask,    # floating-base (legged) robots
}


def make_task(robot, name: str | None = None):
    """The robot's task `name` (default: its first task), built from its settings."""
    if name is None:
        if not robot.tasks:
            raise ConfigError(f"{robot.config_path}.tasks: robot '{robot.name}' lists no task")
        name = robot.tasks[0]
    if name not in TASKS:
        raise ConfigError(f"unknown task '{name}'; tasks: {', '.join(sorted(TASKS))}")
    if name not in robot.tasks:
        raise ConfigError(f"{robot.config_path}.tasks: robot '{robot.name}' has no task '{name}' "
                          f"(its tasks: {', '.join(robot.tasks) or 'none'})")
    return TASKS[name].from_robot(robot)
