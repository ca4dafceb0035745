"""The one graph declaration: every node kind resolves, topics chain, launch file uses it."""
import ast
import importlib

import pytest

from sim2real import paths
from sim2real.errors import ConfigError
from sim2real.graph import BACKENDS, NODE_KINDS, build_graph


def test_every_node_kind_imports():
    for kind, target in NODE_KINDS.items():
        module, cls = target.split(":")
        assert hasattr(importlib.import_module(module), cls), kind


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_graph_per_backend(backend):
    decls = build_graph("jaco", backend)
    names = {d.name for d in decls}
    assert {"policy", "teleop_mux", "controller", "safety_filter"} <= names
    assert "driver" in names    # every backend's: ours, the Gazebo relay, or the vendor adapter
    kind = {d.name: d.kind for d in decls}["driver"]
    assert kind == {"mujoco": "driver", "twin": "driver", "gazebo": "gz_driver", "hardware": "hw_kinova"}[backend]
    sim_time = {d.params.get("use_sim_time") for d in decls}
    assert sim_time == {backend in ("mujoco", "gazebo")}   # Gazebo's /clock


def test_twin_profile_validated_up_front(tmp_path):
    bad = tmp_path / "p.yaml"
    bad.write_text("schema: sim2real/reality/v1\nsensors: {position_noise: -1}\n")
    with pytest.raises(ConfigError, match="sensors.position_noise"):
        build_graph("jaco", "twin", str(bad))
    with pytest.raises(ConfigError, match="twin"):
        build_graph("jaco", "mujoco", "config/reality/heavy-sticky.yaml")


def test_launch_file_builds_from_graph():
    src = paths.resolve("launch/bringup.launch.py").read_text()
    tree = ast.parse(src)
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert "sim2real.graph" in imported


@pytest.mark.parametrize("backend, source", [("mujoco", "driver"), ("twin", "driver_camera"), ("gazebo", "driver")])
def test_perception_takes_frames_from_whoever_renders_them(backend, source):
    """The real-time twin renders in a process of its own (node driver_camera); lockstep in the driver."""
    decls = {d.name: d for d in build_graph("jaco", backend, perception="learned")}
    assert decls["perception"].params["image_source"] == source
