"""Hardware adapters: translation cores from vendors' ROS 2 drivers to the topic contract
(DESIGN.md, "Backends": hardware). No rclpy here; the thin nodes are ros/nodes/hw_*.py.

A robot's hardware config (config/hardware/<robot>.yaml, hardware/base.py says the schema) names
its vendor core and the graph node that runs it; the registry below is explicit, as the others.
"""
from __future__ import annotations

import importlib

from sim2real.errors import ConfigError
from sim2real.hardware.base import (CommandGate, ContractState, HardwareConfig, Refused, hardware_config_path,
                                    load_hardware)

# vendor -> "module:class" of its core
VENDORS: dict[str, str] = {
    "kinova_jaco2": "sim2real.hardware.kinova:KinovaJaco2",
    "naoqi": "sim2real.hardware.naoqi:Naoqi",
    "unitree_go": "sim2real.hardware.unitree:UnitreeGo",
}


def adapter_class(vendor: str):
    if vendor not in VENDORS:
        raise ConfigError(f"unknown hardware vendor '{vendor}'; known: {', '.join(VENDORS)}")
    mod, cls = VENDORS[vendor].split(":")
    return getattr(importlib.import_module(mod), cls)


def hardware_node(robot) -> str:
    """The graph node kind that drives `robot` (a RobotSpec) on hardware: its config's `node`."""
    return load_hardware(robot).node


__all__ = ["VENDORS", "adapter_class", "hardware_node", "load_hardware", "hardware_config_path", "HardwareConfig",
           "CommandGate", "ContractState", "Refused"]
