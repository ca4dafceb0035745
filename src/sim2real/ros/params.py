"""ROS parameters declared once, typed, documented and validated (ros2_controllers style).

A node lists its parameters as {name: (default, description)}; `declare` declares them with
descriptors, reads them back and raises ConfigError naming the parameter on a wrong type.
"""
from __future__ import annotations

from types import SimpleNamespace

from rcl_interfaces.msg import ParameterDescriptor
from rclpy.node import Node

from sim2real.errors import ConfigError


def declare(node: Node, spec: dict[str, tuple]) -> SimpleNamespace:
    values = {}
    for name, (default, description) in spec.items():
        node.declare_parameter(name, default, ParameterDescriptor(description=description))
        v = node.get_parameter(name).value
        if isinstance(default, float) and isinstance(v, int) and not isinstance(v, bool):
            v = float(v)
        if default is not None and not isinstance(v, type(default)):
            raise ConfigError(f"{node.get_name()}: parameter '{name}' must be {type(default).__name__}, got {v!r}")
        values[name] = v
    return SimpleNamespace(**values)
