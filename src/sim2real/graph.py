"""The graph: which nodes run, with which parameters and remappings, per robot and backend.

One declaration feeds `launch/bringup.launch.py` (full ROS 2 installs) and `sim2real up`
(composition in one process, or one process per node). No rclpy here.

    driver --/joint_states--> policy --/policy/desired--> [gat] --> mux --/controller/desired-->
    controller --/controller/effort--> safety_filter --/effort_controller/commands--> driver

Nodes that later issues add (perception, gat, rma) slot in by remapping: until a perception node
exists the policy reads the simulator's ground-truth target (/sim/target); until a GAT node exists
the mux's policy input reads /policy/desired directly.
"""
from __future__ import annotations

import functools

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sim2real import paths
from sim2real.errors import ConfigError
from sim2real.robots import load_robot

# the graph's tunable node parameters (ROS format), loaded under what the graph sets: ros/params_file.py
PARAMS_FILE = "config/params/graph.yaml"

NODE_KINDS: dict[str, str] = {
    "driver": "sim2real.ros.nodes.driver:DriverNode",
    "policy": "sim2real.ros.nodes.reach_planner:ReachPlannerNode",
    "stand_policy": "sim2real.ros.nodes.stand_policy:StandPolicyNode",
    "learned_policy": "sim2real.ros.nodes.learned_policy:LearnedPolicyNode",
    "mux": "sim2real.ros.nodes.mux:MuxNode",
    "controller": "sim2real.ros.nodes.controller:ControllerNode",
    "safety": "sim2real.ros.nodes.safety:SafetyNode",
    "recorder": "sim2real.ros.nodes.recorder:RecorderNode",
    "keyboard_teleop": "sim2real.ros.nodes.keyboard_teleop:KeyboardTeleopNode",
    "joy_teleop": "sim2real.ros.nodes.joy_teleop:JoyTeleopNode",
    "doctor": "sim2real.ros.nodes.doctor:DoctorNode",
    "driver_adapter": "sim2real.ros.nodes.driver_adapter:DriverAdapterNode",
    "perception": "sim2real.ros.nodes.perception:PerceptionNode",
    "viewer": "sim2real.ros.nodes.viewer:ViewerNode",
    "viz_markers": "sim2real.ros.nodes.viewer:RvizMarkersNode",
    "gz_driver": "sim2real.ros.nodes.gz_driver:GazeboDriverNode",
    "hw_kinova": "sim2real.ros.nodes.hw_kinova:KinovaDriverNode",
    "hw_naoqi": "sim2real.ros.nodes.hw_naoqi:NaoqiDriverNode",
    "hw_unitree": "sim2real.ros.nodes.hw_unitree:UnitreeDriverNode",
}

# the robot's first task -> its policies (name -> node kind); the first is the task's baseline
POLICIES: dict[str, dict[str, str]] = {
    "reach": {"planner": "policy", "learned": "learned_policy"},
    "stand": {"classical": "stand_policy"},
}
# where a reach policy's target comes from: the simulator's ground truth, or the perception CNN
PERCEPTION = ("sim", "learned")
# policies that load a checkpoint: name -> checkpoint kind (paths.checkpoint(robot, kind))
POLICY_CHECKPOINTS: dict[str, str] = {"learned": "reach_policy_dr"}

# backend -> (driver node kind, timing mode). The node named "driver" is the graph's one source of
# /joint_states and sink of commands on every backend: on gazebo it stands between gz_ros2_control
# and the graph (launch/gazebo.launch.py starts Gazebo), on hardware it is the robot's vendor
# adapter (config/hardware/<robot>.yaml names it; launch/hardware.launch.py starts the vendor driver).
BACKENDS: dict[str, tuple[str | None, str]] = {
    "mujoco": ("driver", "lockstep"),
    "twin": ("driver", "realtime"),
    "gazebo": ("gz_driver", "gazebo"),    # sim time from Gazebo's /clock
    "hardware": ("hardware", "realtime"),
}
REALITY_BACKENDS = ("twin", "gazebo")   # where a reality profile applies


# -- The graph's options, declared once: `sim2real up|demo` (cli.py) and launch/bringup.launch.py
# both read GRAPH_OPTIONS; test/unit/test_launch_options.py holds them to it. --

def _number(kind, low, what, low_ok=True, high=None) -> Callable[[str], Any]:
    """A value parser: a finite `kind` >= low (> low when not low_ok), < high if given.
    A bad value is a ValueError whose message says what was expected."""
    def parse(text):
        try:
            v = kind(text)
        except (TypeError, ValueError):
            raise ValueError(f"expected {what}, got {text!r}") from None
        if not math.isfinite(v) or (v < low if low_ok else v <= low) or (high is not None and v >= high):
            bound = f"{'>=' if low_ok else '>'} {low}" + (f" and < {high}" if high is not None else "")
            raise ValueError(f"must be {bound}, got {text}")
        return v
    return parse


SECONDS = _number(float, 0, "seconds", low_ok=False)   # s, > 0
COUNT = _number(int, 1, "an integer")                   # >= 1
SEED = _number(int, 0, "an integer", high=2 ** 32)      # numpy's seed range


def _switch(text) -> bool:
    """true / false, as launch arguments write them (also 1/0, yes/no, on/off)."""
    t = str(text).strip().lower()
    if t in ("true", "1", "yes", "on"):
        return True
    if t in ("false", "0", "no", "off"):
        return False
    raise ValueError(f"expected true or false, got {text!r}")


def _topics(text) -> list[str]:
    """Comma- (or space-) separated ROS topic names, each starting with '/'."""
    names = [t for t in str(text).replace(",", " ").split() if t]
    bad = [t for t in names if not t.startswith("/")]
    if not names or bad:
        raise ValueError(f"expected topic names like /camera/image_raw,/joint_states, got {text!r}")
    return names


def _input_file(text) -> str:
    """A file the user names: paths.user_path (the working directory, else the data root)."""
    return str(paths.user_path(text))


@dataclass(frozen=True)
class GraphOption:
    """One option that shapes the graph: the `sim2real up` flag --NAME (dashes for underscores;
    a switch that is on by default is --no-NAME) and the launch argument NAME:=VALUE."""
    name: str
    default: Any                        # typed; None: unset, build_graph's own default applies
    type: Callable[[str], Any]          # text -> typed value; a ValueError says what is wrong
    help: str
    choices: Callable[[], Sequence[str]] | None = None   # read when asked: registries change
    detail: Callable[[], str] | None = None              # help on each choice, read when asked
    kwarg: str = ""                     # build_graph's parameter when it is not `name`
    metavar: str | None = None          # the CLI help's placeholder

    @property
    def switch(self) -> bool:
        return self.type is _switch

    @property
    def flag(self) -> str:
        dashed = self.name.replace("_", "-")
        return f"--no-{dashed}" if self.switch and self.default else f"--{dashed}"

    @property
    def launch_default(self) -> str:
        """The default as launch arguments write it ("" for unset)."""
        if self.default is None:
            return ""
        return str(self.default).lower() if self.switch else str(self.default)

    def describe(self) -> str:
        """The help line: what it is and, where there are choices, the ones registered now."""
        if not self.choices:
            return self.help
        try:
            return f"{self.help} ({self.detail() if self.detail else 'one of: ' + ', '.join(self.choices())})"
        except ConfigError as e:   # e.g. a robot defined twice: say so, but let every command run
            return f"{self.help} ({e})"


def _robots() -> Sequence[str]:
    from sim2real.robots.registry import ROBOTS
    return sorted(ROBOTS)


def _modes() -> Sequence[str]:
    from sim2real.control.modes import MODES
    return MODES


def _policies() -> Sequence[str]:
    return sorted({name for p in POLICIES.values() for name in p})


def _policy_help() -> str:
    return "; ".join(f"{task}: {', '.join(p)}" for task, p in POLICIES.items()) + "; default: the task's first"


def _mode_help() -> str:
    from sim2real.control.modes import mode_help
    return mode_help()


GRAPH_OPTIONS: tuple[GraphOption, ...] = (
    GraphOption("robot", "jaco", str, "registered robot", _robots),
    GraphOption("backend", "mujoco", str, "where the driver runs", lambda: tuple(BACKENDS)),
    GraphOption("reality", None, _input_file, "reality profile YAML (twin and gazebo backends)", metavar="YAML"),
    GraphOption("record", None, str, "also record to this .mcap", metavar="PATH"),
    GraphOption("record_topics", None, _topics, "topics to record, comma-separated (default: joint states, "
                "commands, desired states, targets, IMU, diagnostics; e.g. /camera/image_raw,/joint_states)",
                metavar="TOPICS"),
    GraphOption("duration", None, SECONDS, "stop after this many sim seconds (> 0; default: run until stopped)",
                kwarg="duration_s", metavar="S"),
    GraphOption("camera", True, _switch, "render the camera (robots that have one)"),
    GraphOption("targets", 5, COUNT, "reach targets the task cycles through (>= 1)", metavar="N"),
    GraphOption("seed", 0, SEED, "task seed (>= 0)", kwarg="task_seed", metavar="N"),
    GraphOption("controller", None, str, "controller mode (default: the robot's baseline)", _modes, _mode_help,
                metavar="MODE"),
    GraphOption("controller_checkpoint", None, _input_file,
                "learned controller modes: checkpoint (default models/ROBOT/KIND.pt)", metavar="PT"),
    GraphOption("policy", None, str, "policy node", _policies, _policy_help, metavar="NAME"),
    GraphOption("policy_checkpoint", None, _input_file,
                "learned policy: checkpoint (default models/ROBOT/reach_policy_dr.pt)", metavar="PT"),
    GraphOption("perception", None, str, "reach: the policy's target from the simulator's ground truth (sim) or "
                "the perception CNN on the camera (learned)", lambda: PERCEPTION, metavar="SOURCE"),
    GraphOption("perception_checkpoint", None, _input_file,
                "learned perception: checkpoint (default models/ROBOT/perception_<scheme>.pt)", metavar="PT"),
    GraphOption("corrections", None, _input_file,
                "driver corrections from `sim2real doctor --out` (adds the driver adapter)", metavar="YAML"),
)
OPTIONS: dict[str, GraphOption] = {o.name: o for o in GRAPH_OPTIONS}


def parse_options(text: Mapping[str, str]) -> dict[str, Any]:
    """Typed option values from text, as launch arguments give them ("" is unset: the default).
    An unknown name or a bad value is a ConfigError naming the argument."""
    unknown = sorted(set(text) - set(OPTIONS))
    if unknown:
        raise ConfigError(f"unknown graph option(s) {', '.join(unknown)}; known: {', '.join(OPTIONS)}")
    out = {}
    for name, raw in text.items():
        try:
            out[name] = OPTIONS[name].default if raw == "" else OPTIONS[name].type(raw)
        except ValueError as e:
            raise ConfigError(f"{name}:={raw}: {e}") from None
    return out


def graph_kwargs(values: Mapping[str, Any]) -> dict[str, Any]:
    """build_graph's keyword arguments from typed option values (what `sim2real up` parsed, or
    parse_options' result). An unset (None) value leaves build_graph's default."""
    return {OPTIONS[k].kwarg or k: v for k, v in values.items() if v is not None}


@dataclass(frozen=True)
class NodeDecl:
    name: str
    kind: str
    params: dict = field(default_factory=dict)
    remaps: dict = field(default_factory=dict)
    # parameters given to every node (`--ros-args -p NAME:=V`, a params file's `/**`): a node that
    # does not declare one ignores it, as in ROS; one that no node declares is an error
    shared: set = field(default_factory=set)


def doctor_graph(robot: str, backend: str, reality: str | None, lockstep: bool = False) -> list[NodeDecl]:
    """What `sim2real doctor` runs: the driver (when it is ours), the safety filter, the doctor."""
    full = build_graph(robot, backend, reality, camera=False)
    nodes = [d for d in full if d.name in ("driver", "safety_filter")]
    # the doctor listens to the driver's own hold before commanding, and may pause to judge a pulse:
    # the driver's deadline hold (no transport in between) covers such gaps; the filter's watchdog
    # hold, stiff and through the transport latency, rang on an 8 ms loop (and DDS discovery of the
    # doctor on a loaded host took longer than the default 0.1 s)
    # and on the twin, a motor deadline that a loaded host's stalls (70 ms seen) do not reach: its
    # stiff hold, through the actuator lag and handing back and forth with the doctor's, threw a
    # wrist to 13 rad/s (the doctor's last command is a gravity hold, or a pulse of 50 ms at most)
    # (and the filter's hold carries no model gravity: the driver's wiring is what is being checked)
    nodes = [NodeDecl(d.name, d.kind, {**d.params, "command_source": "doctor", "watchdog_s": 2.0,
                                       "hold_gravity": False}, d.remaps)
             if d.name == "safety_filter" else
             NodeDecl(d.name, d.kind, {**d.params, "command_timeout_s": 0.1}, d.remaps)
             if d.name == "driver" and d.kind == "driver" else d for d in nodes]
    if lockstep:
        nodes = [NodeDecl(d.name, d.kind, {**d.params, "use_sim_time": True,
                                           **({"mode": "lockstep"} if d.name == "driver" else {})}, d.remaps)
                 for d in nodes]
    sim_time = any(d.params.get("use_sim_time") for d in nodes)
    return nodes + [NodeDecl("doctor", "doctor", {"robot": robot, "use_sim_time": sim_time})]


def graph_nodes(robot: str = "jaco", backend: str = "mujoco", reality: str | None = None, *,
                record: str | None = None, record_topics: list[str] | None = None,
                duration_s: float = 0.0, camera: bool = True, targets: int = 5, task_seed: int = 0,
                controller: str = "", controller_checkpoint: str | None = None,
                policy: str = "", policy_checkpoint: str | None = None,
                perception: str = "sim", perception_checkpoint: str | None = None,
                corrections: str | None = None) -> list[NodeDecl]:
    """The node declarations for one bring-up, as the graph sets them (build_graph adds the
    parameter file). Raises ConfigError on unknown robot/backend/files. Its parameters are
    GRAPH_OPTIONS (under their `kwarg` names) and record_topics; a caller that starts from option
    values (the CLI, the launch file) calls build_graph(**graph_kwargs(values))."""
    spec = load_robot(robot)
    from sim2real.control.modes import check_mode, default_mode
    controller = controller or default_mode(spec)
    check_mode(controller, spec)         # unknown, or torques for a PD-target robot: ConfigError
    task_policies = POLICIES[spec.tasks[0]]
    policy = policy or next(iter(task_policies))
    if policy not in task_policies:
        raise ConfigError(f"policy '{policy}' does not do the {spec.tasks[0]} task of robot '{robot}'; "
                          f"choose one of: {', '.join(task_policies)}")
    policy_params = {}
    if policy in POLICY_CHECKPOINTS:
        ckpt = paths.resolve(policy_checkpoint) if policy_checkpoint else paths.checkpoint(robot, POLICY_CHECKPOINTS[policy])
        from sim2real.learn.checkpoint import checkpoint_files
        if not checkpoint_files(ckpt)[0].is_file():
            raise ConfigError(f"{ckpt}: no such policy checkpoint; train one with "
                              f"`sim2real train policy --robot {robot} --scheme dr`")
        policy_params["checkpoint"] = str(ckpt)
    elif policy_checkpoint:
        raise ConfigError(f"--policy-checkpoint applies to a learned policy, not '{policy}'")
    perception = perception or "sim"
    if perception not in PERCEPTION:
        raise ConfigError(f"unknown perception '{perception}'; choose one of: {', '.join(PERCEPTION)}")
    perception_params = {}
    if perception == "learned":
        if spec.tasks[0] != "reach" or spec.camera is None:
            raise ConfigError(f"--perception learned needs a reach robot with a camera, not '{robot}'")
        if not camera:
            raise ConfigError("--perception learned needs the camera (drop --no-camera)")
        from sim2real.learn.checkpoint import checkpoint_files
        from sim2real.perception.net import default_checkpoint   # no rclpy
        ckpt = paths.resolve(perception_checkpoint) if perception_checkpoint else default_checkpoint(robot)
        if not checkpoint_files(ckpt)[0].is_file():
            raise ConfigError(f"{ckpt}: no such perception checkpoint; train one with "
                              f"`sim2real train perception --robot {robot} --scheme dr`")
        perception_params["checkpoint"] = str(ckpt)
    elif perception_checkpoint:
        raise ConfigError("--perception-checkpoint applies to --perception learned")
    if backend not in BACKENDS:
        raise ConfigError(f"unknown backend '{backend}'; choose one of: {', '.join(BACKENDS)}")
    if reality:
        if backend not in REALITY_BACKENDS:
            raise ConfigError(f"--reality applies to the {' and '.join(REALITY_BACKENDS)} backends, not '{backend}'")
        from sim2real.sim.reality import load_profile
        load_profile(reality).resolve(spec)   # fail here, with the key, not inside a node
        reality = str(paths.resolve(reality))
    driver_kind, mode = BACKENDS[backend]
    if driver_kind == "hardware":
        from sim2real.hardware import hardware_node
        driver_kind = hardware_node(spec)
    sim_time = mode in ("lockstep", "gazebo")
    common = {"robot": robot, "use_sim_time": sim_time}
    from sim2real.teleop import config_path
    teleop_cfg = str(config_path(spec))

    nodes = []
    controller_params, safety_params = {}, {}
    # with doctor corrections, an adapter stands between the driver's topics and the graph's
    if corrections:
        from sim2real.doctor.adapter import DriverAdapter, loop_delay_s
        # the delay and lag the doctor measured are what the adaptive modes predict over
        delay, lag = loop_delay_s(paths.resolve(corrections))
        controller_params.update(latency_s=round(delay, 4), actuator_lag_s=round(lag, 4))
        safety_params["loop_delay_s"] = round(delay + lag, 4)    # its over-speed damper, set for the loop
        if DriverAdapter.load(paths.resolve(corrections), spec).identity:   # fail here, naming the key
            corrections = None   # no hop the control loop does not need
    state_source = "driver_adapter" if corrections else "driver"   # who publishes /joint_states
    driver_remaps = {"/joint_states": "/driver/joint_states",
                     spec.command_topic: "/driver/effort_commands"} if corrections else {}
    if corrections:
        nodes.append(NodeDecl("driver_adapter", "driver_adapter",
                              {**common, "corrections": str(paths.resolve(corrections))}))
    if driver_kind:
        nodes.insert(0, NodeDecl("driver", driver_kind, {
            **common, "reality": reality or "", "mode": mode,
            "command_source": "driver_adapter" if corrections else "safety_filter", "camera": camera and spec.camera is not None,
            "duration_s": float(duration_s), "targets": targets, "task_seed": task_seed,
            # lockstep: the reach policy hears /sim/target (latched, over DDS) before the first step
            "target_listeners": int(mode == "lockstep" and bool(spec.tasks) and spec.tasks[0] == "reach"
                                    and perception == "sim")}, driver_remaps))
    if perception == "learned":
        # the twin in real time renders in a process of its own, which publishes the frames
        from sim2real.ros.camera_process import camera_node_name   # no rclpy
        image_source = camera_node_name("driver") if (driver_kind, mode) == ("driver", "realtime") else "driver"
        nodes.append(NodeDecl("perception", "perception", {**common, **perception_params, "image_source": image_source}))
    nodes += [
        NodeDecl("policy", task_policies[policy], {**common, "state_source": state_source, **policy_params,
                                                   **({"target_source": "perception"} if perception == "learned" else {})},
                 {} if perception == "learned" else {"/perception/target": "/sim/target"}),
        NodeDecl("teleop_mux", "mux", {"robot": robot, "config": teleop_cfg, "use_sim_time": sim_time},
                 {"/gat/desired": "/policy/desired"}),
        NodeDecl("controller", "controller", {**common, "mode": controller, "state_source": state_source,
                                              "checkpoint": str(paths.resolve(controller_checkpoint))
                                              if controller_checkpoint else "", **controller_params}),
        NodeDecl("safety_filter", "safety", {**common, "state_source": state_source, **safety_params}),
    ]
    if record:
        nodes.append(NodeDecl("recorder", "recorder", {
            "path": record, "use_sim_time": sim_time, "continue_in_parts": True,
            "topics": record_topics or ["/joint_states", spec.command_topic, "/controller/desired", "/policy/desired",
                                        *(["/sim/target"] if spec.tasks[0] == "reach" else []),
                                        *(["/imu/data"] if spec.imu else []), "/diagnostics"]}))
    return nodes


@functools.wraps(graph_nodes)
def build_graph(*args, **kwargs) -> list[NodeDecl]:
    """graph_nodes(...) over config/params/graph.yaml (PARAMS_FILE): what the graph sets per run
    wins over the file, the file over each node's defaults; `--ros-args` come after both."""
    nodes = graph_nodes(*args, **kwargs)
    path = paths.resolve(PARAMS_FILE)
    if path.is_file():
        from sim2real.config_io import load_yaml
        data = _params_sections(load_yaml(path), str(path))
        for d in nodes:
            for key in ("/**", d.name, "/" + d.name):
                section = data.get(key) or {}
                merged = {**section, **d.params}
                d.params.clear()
                d.params.update(merged)
                if key == "/**":
                    d.shared.update(section)
    return nodes


def _params_sections(data, where: str) -> dict[str, dict]:
    """A parameter file in the ROS 2 format -> {node key: {name: value}}; ConfigError naming the file
    and the section when it is not that format (rcl refuses such a file too: keys must sit under
    `ros__parameters`)."""
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected node names (or /**) -> ros__parameters")
    out = {}
    for key, section in data.items():
        params = section.get("ros__parameters") if isinstance(section, dict) else None
        if not isinstance(params, dict) or set(section) != {"ros__parameters"}:
            raise ConfigError(f"{where}: section '{key}' must hold exactly `ros__parameters:` with the "
                              f"parameters under it")
        out[str(key)] = params
    return out


def apply_ros_args(decls: list[NodeDecl], ros_args: list[str]) -> list[NodeDecl]:
    """`sim2real up ... --ros-args ARGS` as a ROS 2 process would read them, for every node of the
    graph: `-r/--remap [node:]FROM:=TO`, `-p/--param [node:]NAME:=VALUE` (VALUE read as YAML, as
    ROS does; a float parameter given as an integer stays a float) and `--params-file FILE` (the ROS
    format: `/**` or a node name -> `ros__parameters`). A node-qualified rule applies to that node
    only. Anything else is an error naming what is supported."""
    import yaml

    from sim2real.config_io import load_yaml
    names = {d.name for d in decls}

    def split(rule: str, what: str) -> tuple[str | None, str, str]:
        if ":=" not in rule:
            form = "[node:]FROM:=TO" if what in ("-r", "--remap") else "[node:]NAME:=VALUE"
            raise ConfigError(f"--ros-args {what} '{rule}': expected {form}")
        lhs, rhs = rule.split(":=", 1)
        node = None
        if ":" in lhs and not lhs.startswith("/"):
            node, lhs = lhs.split(":", 1)
            if node not in names:
                raise ConfigError(f"--ros-args {what} '{rule}': no node '{node}' in this graph ({', '.join(sorted(names))})")
        if lhs.startswith("__"):
            raise ConfigError(f"--ros-args {what} '{rule}': {lhs} is not supported: the graph names its nodes, "
                              f"and a namespace for the whole graph (several robots) is not supported yet")
        return node, lhs, rhs

    def set_param(d: NodeDecl, name: str, value) -> None:
        old = d.params.get(name)
        if isinstance(old, float) and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        d.params[name] = value

    it = iter(ros_args)
    for arg in it:
        if arg == "--ros-args":
            continue
        if arg in ("-r", "--remap", "-p", "--param", "--params-file"):
            try:
                val = next(it)
            except StopIteration:
                raise ConfigError(f"--ros-args {arg}: missing its value") from None
            if arg in ("-r", "--remap"):
                node, src, dst = split(val, arg)
                for d in decls:
                    if node in (None, d.name):
                        d.remaps[src] = dst
            elif arg in ("-p", "--param"):
                node, name, raw = split(val, arg)
                value = yaml.safe_load(raw)
                for d in decls:
                    if node in (None, d.name):
                        set_param(d, name, value)
                        if node is None:
                            d.shared.add(name)
            else:
                data = _params_sections(load_yaml(val), val)
                for key, params in data.items():
                    target = str(key).lstrip("/")
                    if target != "**" and target not in names:
                        raise ConfigError(f"--params-file {val}: section '{key}' names no node of this graph "
                                          f"({', '.join(sorted(names))}; '/**' is every node)")
                    for d in decls:
                        if target in ("**", d.name):
                            for name, value in params.items():
                                set_param(d, name, value)
                                if target == "**":
                                    d.shared.add(name)
        else:
            raise ConfigError(f"--ros-args: '{arg}' is not supported here (use -r/--remap, -p/--param, --params-file)")
    return decls
