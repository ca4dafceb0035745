"""`sim2real up --ros-args ...`: ROS's remaps and parameters reach every node of the graph, as they
would reach the nodes of a ROS 2 process; the graph still closes its loop on the remapped topic."""
import pytest

from sim2real.errors import ConfigError
from sim2real.graph import apply_ros_args, build_graph
from sim2real.ros.compose import Composition

from .helpers import _domains, spin_sim


def test_parsing(tmp_path):
    decls = build_graph("jaco", "mujoco", camera=False)
    pf = tmp_path / "p.yaml"
    pf.write_text("/**:\n  ros__parameters:\n    watchdog_s: 0.3\nsafety_filter:\n  ros__parameters:\n    watchdog_s: 0.2\n")
    apply_ros_args(decls, ["-r", "/joint_states:=/arm/joint_states", "-p", "controller:latency_s:=0",
                           "--params-file", str(pf)])
    by = {d.name: d for d in decls}
    assert all(d.remaps["/joint_states"] == "/arm/joint_states" for d in decls)
    assert by["controller"].params["latency_s"] == 0
    assert "latency_s" not in by["driver"].params
    assert by["safety_filter"].params["watchdog_s"] == 0.2
    with pytest.raises(ConfigError, match="no node 'nobody'"):
        apply_ros_args(decls, ["-r", "nobody:/a:=/b"])
    with pytest.raises(ConfigError, match="not supported"):
        apply_ros_args(decls, ["--enclave", "x"])


def test_the_graph_runs_on_a_remapped_topic():
    decls = apply_ros_args(build_graph("jaco", "mujoco", camera=False, duration_s=30.0),
                           ["-r", "/joint_states:=/arm/joint_states", "-p", "latency_s:=0"])   # an int for a float
    with Composition(decls, domain_id=next(_domains) % 232) as g:
        d = g.nodes["driver"]
        assert d.pub_js.topic_name == "/arm/joint_states"
        spin_sim(g, 0.5)
        assert d.commands > 200             # the controller and filter answered on the remapped topic
        assert g.nodes["controller"].commands > 200


def test_a_parameter_no_node_declares_is_an_error(tmp_path):
    """rclpy drops an override its node never declares; the graph names it instead (a typo in
    -p, a params file or graph.yaml would otherwise run the defaults in silence)."""
    decls = apply_ros_args(build_graph("jaco", "mujoco", camera=False), ["-p", "controller:mdoe:=local_linear"])
    with pytest.raises(ConfigError, match="node 'controller' .* no parameter mdoe; its parameters: .*mode"):
        Composition(decls, domain_id=next(_domains) % 232)
    decls = apply_ros_args(build_graph("jaco", "mujoco", camera=False), ["-p", "latency_sx:=0.01"])
    with pytest.raises(ConfigError, match="no node of this graph has a parameter latency_sx"):
        Composition(decls, domain_id=next(_domains) % 232)
    pf = tmp_path / "p.yaml"
    pf.write_text("contrller:\n  ros__parameters:\n    mode: local_linear\n")
    with pytest.raises(ConfigError, match="section 'contrller' names no node"):
        apply_ros_args(build_graph("jaco", "mujoco", camera=False), ["--params-file", str(pf)])
