"""config/params/graph.yaml: the graph's tunable node parameters in the ROS 2 format (node name ->
ros__parameters), loaded by `sim2real up` and the launch file alike (graph.build_graph), under what
the graph sets per run (robot, sources, modes, the options of `up`) and over each node's defaults.

The file lists, per node of the graph, every parameter its node declares (ros/params.py specs) that
the graph does not set, with the default and its description; edit values there, or pass
`--ros-args --params-file F` / `-p node:name:=value` for one run.

    python -m sim2real.ros.params_file write     # (re)write it from the nodes' declarations
    python -m sim2real.ros.params_file check     # keys the nodes do not declare, or wrong types
"""
from __future__ import annotations

import importlib
import sys

import yaml

from sim2real import paths
from sim2real import graph
from sim2real.graph import NODE_KINDS, graph_nodes

ROBOTS = ("jaco", "go1", "nao")


def _node_params(kind: str) -> dict:
    module, cls = NODE_KINDS[kind].split(":")
    mod = importlib.import_module(module)
    spec = dict(getattr(mod, "PARAMS", {}))
    if kind == "learned_policy":
        spec["checkpoint"] = ("", "policy checkpoint NAME.pt (+ .json, .onnx)")
    return spec


def tunables() -> dict[str, dict[str, tuple]]:
    """node name -> {parameter: (default, description)} the graph leaves to the file."""
    out: dict[str, dict[str, tuple]] = {}
    set_by_graph: dict[str, set] = {}
    kinds: dict[str, str] = {}
    for robot in ROBOTS:
        for d in graph_nodes(robot, "mujoco", camera=False, record="runs/x.mcap"):
            set_by_graph.setdefault(d.name, set()).update(d.params)
            kinds.setdefault(d.name, d.kind)
    for name, kind in kinds.items():
        spec = _node_params(kind)
        out[name] = {k: v for k, v in spec.items() if k not in set_by_graph[name] and k != "use_sim_time"}
    return out


def render() -> str:
    lines = ["# The graph's tunable node parameters, ROS 2 format (node -> ros__parameters), loaded by",
             "# `sim2real up` and launch/bringup.launch.py under what the graph sets per run.",
             "# Regenerate the list with `python -m sim2real.ros.params_file write` (values reset to defaults).", ""]
    for node, spec in tunables().items():
        if not spec:
            continue
        lines += [f"{node}:", "  ros__parameters:"]
        for k, (default, desc) in spec.items():
            lines.append(f"    {k}: {yaml.safe_dump(default, default_flow_style=True).strip().removesuffix('...').strip()}"
                         f"    # {desc}")
        lines.append("")
    return "\n".join(lines)


def check() -> list[str]:
    """Problems in the file: sections of no graph node, parameters the node does not declare or the
    graph sets (they would be ignored), values of another type than the default."""
    from sim2real.config_io import load_yaml
    from sim2real.errors import ConfigError
    from sim2real.graph import _params_sections
    path = paths.resolve(graph.PARAMS_FILE)
    try:
        data = _params_sections(load_yaml(path), str(path))
    except ConfigError as e:
        return [str(e)]
    known = tunables()
    problems = []
    for node, params in data.items():
        if node not in known:
            problems.append(f"{node}: no such node in the graph")
            continue
        for k, v in params.items():
            if k not in known[node]:
                problems.append(f"{node}.{k}: not a parameter the graph leaves to this file")
                continue
            default = known[node][k][0]
            ok = isinstance(v, type(default)) or (isinstance(default, float) and isinstance(v, int))
            if default is not None and not ok:
                problems.append(f"{node}.{k}: {v!r} is not a {type(default).__name__}")
    return problems


def main(argv=None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    cmd = args[0] if args else "check"
    if cmd not in ("write", "check") or len(args) > 1:
        print("usage: python -m sim2real.ros.params_file [check|write]", file=sys.stderr)
        return 2
    if cmd == "write":
        path = paths.resolve(graph.PARAMS_FILE)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render())
        print(f"wrote {path}")
        return 0
    problems = check()
    for p in problems:
        print(p, file=sys.stderr)
    if not problems:
        print(f"{paths.resolve(graph.PARAMS_FILE)}: OK")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
