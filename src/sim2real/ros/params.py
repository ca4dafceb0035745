"""ROS parameters declared once, typed, documented and validated (ros2_controllers style).

A node lists its parameters as {name: (default, description)}; `declare` declares them with
descriptors, reads them back and raises ConfigError naming the parameter on a wrong type. A float
parameter takes an integer too (`-p latency_s:=0` in a parameter file or on the command line, as
people type it; rclpy alone refuses INTEGER for DOUBLE), read as a float.
"""
from __future__ import annotations

from types import SimpleNamespace

from rcl_interfaces.msg import ParameterDescriptor
from rclpy.node import Node

from sim2real.errors import ConfigError


def declare(node: Node, spec: dict[str, tuple]) -> SimpleNamespace:
    values = {}
    for name, (default, description) in spec.items():
        node.declare_parameter(name, default, ParameterDescriptor(description=description,
                                                                  dynamic_typing=isinstance(default, float)))
        v = node.get_parameter(name).value
        if isinstance(default, float) and isinstance(v, int) and not isinstance(v, bool):
            v = float(v)
        if default is not None and not isinstance(v, type(default)):
            raise ConfigError(f"{node.get_name()}: parameter '{name}' must be {type(default).__name__}, got {v!r}")
        values[name] = v
    return SimpleNamespace(**values)
