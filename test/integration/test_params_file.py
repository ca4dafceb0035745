"""config/params/graph.yaml (ROS format) feeds `sim2real up` and the launch file alike: it lists
every parameter the graph leaves to it, nothing the nodes do not declare, and its values reach the
nodes under what the graph sets per run."""
import yaml

from sim2real import graph
from sim2real.ros import params_file


def test_the_file_lists_the_tunables_and_nothing_else():
    assert params_file.check() == []
    shipped = yaml.safe_load(open(graph.paths.resolve(graph.PARAMS_FILE)))
    listed = {n: set((s or {}).get("ros__parameters") or {}) for n, s in shipped.items()}
    wanted = {n: set(spec) for n, spec in params_file.tunables().items() if spec}
    assert listed == wanted        # a node gained or lost a parameter: python -m sim2real.ros.params_file write


def test_file_values_reach_the_nodes_under_the_graphs(tmp_path, monkeypatch):
    f = tmp_path / "graph.yaml"
    f.write_text("safety_filter:\n  ros__parameters:\n    watchdog_s: 0.3\n    robot: nao\n"
                 "/**:\n  ros__parameters:\n    some_flag: true\n")
    monkeypatch.setattr(graph, "PARAMS_FILE", str(f))
    by = {d.name: d for d in graph.build_graph("jaco", "mujoco", camera=False)}
    assert by["safety_filter"].params["watchdog_s"] == 0.3
    assert by["safety_filter"].params["robot"] == "jaco"       # the run's choice wins over the file
    assert by["driver"].params["some_flag"] is True


def test_a_section_without_ros__parameters_is_an_error_not_ignored(tmp_path, monkeypatch):
    import pytest

    from sim2real.errors import ConfigError
    f = tmp_path / "graph.yaml"
    f.write_text("safety_filter:\n  watchdog_s: 0.0005\n")         # a safety value that must not vanish
    monkeypatch.setattr(graph, "PARAMS_FILE", str(f))
    with pytest.raises(ConfigError, match="section 'safety_filter' must hold exactly `ros__parameters:`"):
        graph.build_graph("jaco", "mujoco", camera=False)
    assert params_file.check() and "ros__parameters" in params_file.check()[0]
