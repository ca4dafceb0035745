"""`sim2real up` and launch/bringup.launch.py agree on the graph's options (graph.GRAPH_OPTIONS):
every option is an `up` flag and a launch argument with the same default, and the same values
through the command line and through the launch file give the same nodes, parameters and
remappings. launch / launch_ros are not installed here: the launch file runs against stand-ins
that record what it declares and creates."""
import argparse
import inspect
import runpy
import sys
import types

import pytest

from sim2real import cli, paths
from sim2real.errors import ConfigError
from sim2real.graph import GRAPH_OPTIONS, OPTIONS, NodeDecl, build_graph, graph_kwargs, parse_options

UP_NOT_GRAPH = {"-h", "--help", "--force", "--processes"}   # `up` flags that do not change build_graph's output
GRAPH_NOT_UP = {"record_topics"}                            # build_graph parameters no command line sets


def _subparser(name: str) -> argparse.ArgumentParser:
    sub = next(a for a in cli.parser()._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices[name]


def _flags(p: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    return {s: a for a in p._actions for s in a.option_strings}


def test_every_option_is_an_up_flag_with_its_default():
    flags = _flags(_subparser("up"))
    for o in GRAPH_OPTIONS:
        assert o.flag in flags, o.name
        assert flags[o.flag].dest == o.name and flags[o.flag].default == o.default, o.name
    assert set(flags) - {o.flag for o in GRAPH_OPTIONS} == UP_NOT_GRAPH   # a new graph flag is declared in graph.py


def test_demo_flags_are_declared_options():
    flags = _flags(_subparser("demo"))
    for name in cli.DEMO_OPTIONS:
        o = OPTIONS[name]
        assert flags[o.flag].dest == name and flags[o.flag].default == o.default
    assert set(flags) - {OPTIONS[n].flag for n in cli.DEMO_OPTIONS} == {"-h", "--help", "--force"}


def test_options_are_build_graph_parameters_with_its_defaults():
    params = inspect.signature(build_graph).parameters
    kwargs = {o.kwarg or o.name: o for o in GRAPH_OPTIONS}
    assert set(params) == set(kwargs) | GRAPH_NOT_UP
    for kw, o in kwargs.items():
        if o.default is not None:   # None: unset, build_graph's own default applies on both paths
            assert params[kw].default == o.default, o.name


# -- the launch file, run against stand-ins for launch and launch_ros --

class _Record:
    def __init__(self, *args, **kw):
        self.args, self.kw = args, kw


class _Opaque:
    def __init__(self, function):
        self.function = function


class _LaunchConfiguration:
    def __init__(self, name):
        self.name = name

    def perform(self, context):
        return context[self.name]   # what `ros2 launch ... name:=value` (or the declared default) gives


@pytest.fixture
def launch_file(monkeypatch):
    """The launch file's globals, its imports of launch / launch_ros served by stand-ins."""
    mods = {"launch": {"LaunchDescription": list}, "launch.actions":
            {"DeclareLaunchArgument": _Record, "OpaqueFunction": _Opaque, "IncludeLaunchDescription": _Record},
            "launch.launch_description_sources": {"PythonLaunchDescriptionSource": _Record},
            "launch.substitutions": {"LaunchConfiguration": _LaunchConfiguration},
            "launch_ros": {}, "launch_ros.actions": {"Node": _Record}}
    for name, attrs in mods.items():
        m = types.ModuleType(name)
        m.__dict__.update(attrs)
        monkeypatch.setitem(sys.modules, name, m)
    return runpy.run_path(str(paths.resolve("launch/bringup.launch.py")))


def _launch(launch_file, args: dict[str, str]) -> tuple[list[NodeDecl], list[_Record]]:
    """`ros2 launch sim2real bringup.launch.py name:=value ...`: the graph's nodes and the others."""
    entities = launch_file["generate_launch_description"]()
    declared = {e.args[0]: e.kw["default_value"] for e in entities if isinstance(e, _Record)}
    assert not set(args) - set(declared), "launch arguments not declared"
    opaque = [e for e in entities if isinstance(e, _Opaque)]
    actions = opaque[0].function({**declared, **args})
    ours = [n for n in actions if n.kw.get("package") == "sim2real"]
    decls = [NodeDecl(n.kw["name"], n.kw["arguments"][0], n.kw["parameters"][0], dict(n.kw["remappings"]))
             for n in ours]
    return decls, [n for n in actions if n.kw.get("package") != "sim2real"]


def test_launch_declares_every_option_with_its_default(launch_file):
    entities = launch_file["generate_launch_description"]()
    declared = {e.args[0]: e.kw for e in entities if isinstance(e, _Record)}
    # rviz:= and gui:= are the launch file's own (a full install's RViz and Gazebo GUI; `sim2real view`
    # is the browser's)
    assert list(declared) == [o.name for o in GRAPH_OPTIONS] + ["rviz", "gui"]
    for o in GRAPH_OPTIONS:
        assert declared[o.name]["default_value"] == o.launch_default
        assert declared[o.name]["description"]
    assert parse_options({o.name: o.launch_default for o in GRAPH_OPTIONS}) == {o.name: o.default for o in GRAPH_OPTIONS}


def _cli(argv: list[str]) -> list[NodeDecl]:
    a = cli.parser().parse_args(["up", *argv])
    return build_graph(**graph_kwargs(cli._graph_values(a)))


CORRECTIONS = "schema: sim2real/driver-corrections/v1\nrobot: jaco\nsign: {joint_6: -1}\n"


@pytest.mark.parametrize("argv", [
    [],
    ["--robot", "jaco", "--backend", "twin", "--reality", "config/reality/heavy-sticky.yaml",
     "--record", "runs/x.mcap", "--duration", "2.5", "--no-camera", "--targets", "3", "--seed", "7",
     "--controller", "local_linear"],
    ["--robot", "go1", "--backend", "twin", "--reality", "config/reality/go1-worn-rear.yaml"],   # its own baseline mode
    ["--robot", "nao", "--backend", "hardware"],    # the vendor adapter is the graph's driver
    ["--backend", "gazebo", "--controller", "nn_prior_lqr", "--controller-checkpoint", "models/jaco/dynamics_prior",
     "--corrections", "CORRECTIONS"],
])
def test_cli_and_launch_build_the_same_graph(argv, launch_file, tmp_path):
    if "CORRECTIONS" in argv:
        (tmp_path / "corr.yaml").write_text(CORRECTIONS)
        argv = [str(tmp_path / "corr.yaml") if v == "CORRECTIONS" else v for v in argv]
    by_flag = {o.flag: o for o in GRAPH_OPTIONS}
    args, i = {}, 0   # the same values as launch arguments: --flag V -> name:=V, --no-camera -> camera:=false
    while i < len(argv):
        o = by_flag[argv[i]]
        if o.switch:
            args[o.name], i = str(not o.default).lower(), i + 1
        else:
            args[o.name], i = argv[i + 1], i + 2
    from_cli = _cli(argv)
    from_launch, others = _launch(launch_file, args)
    assert from_launch == from_cli
    if "--corrections" in argv:
        assert "driver_adapter" in {d.name for d in from_cli}
    if "gazebo" in argv:   # gazebo.launch.py: Gazebo and its robot_state_publisher (the generated URDF)
        (inc,) = others
        assert inc.args[0].args[0].endswith("launch/gazebo.launch.py")
        assert dict(inc.kw["launch_arguments"])["robot"] == "jaco"
        return
    (rsp,) = others   # robot_state_publisher serves the URDF the graph's robot names
    assert rsp.kw["parameters"][0]["robot_description"].lstrip().startswith("<")


def test_launch_values_are_checked_like_the_cli():
    with pytest.raises(ConfigError, match="seed:=-1: must be >= 0"):
        parse_options({"seed": "-1"})
    with pytest.raises(ConfigError, match="duration:=0: must be > 0"):
        parse_options({"duration": "0"})
    with pytest.raises(ConfigError, match="camera:=maybe"):
        parse_options({"camera": "maybe"})
    with pytest.raises(ConfigError, match="unknown graph option.*no_camera"):
        parse_options({"no_camera": "true"})
    assert parse_options({"camera": "False", "targets": "2", "duration": "1.5"}) == \
        {"camera": False, "targets": 2, "duration": 1.5}
