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

from dataclasses import dataclass, field

from sim2real import paths
from sim2real.errors import ConfigError
from sim2real.robots import load_robot

NODE_KINDS: dict[str, str] = {
    "driver": "sim2real.ros.nodes.driver:DriverNode",
    "policy": "sim2real.ros.nodes.reach_planner:ReachPlannerNode",
    "mux": "sim2real.ros.nodes.mux:MuxNode",
    "controller": "sim2real.ros.nodes.controller:ControllerNode",
    "safety": "sim2real.ros.nodes.safety:SafetyNode",
    "recorder": "sim2real.ros.nodes.recorder:RecorderNode",
    "keyboard_teleop": "sim2real.ros.nodes.keyboard_teleop:KeyboardTeleopNode",
    "joy_teleop": "sim2real.ros.nodes.joy_teleop:JoyTeleopNode",
    "doctor": "sim2real.ros.nodes.doctor:DoctorNode",
    "driver_adapter": "sim2real.ros.nodes.driver_adapter:DriverAdapterNode",
}

# backend -> (driver node kind or None when the driver lives outside, timing mode)
BACKENDS: dict[str, tuple[str | None, str]] = {
    "mujoco": ("driver", "lockstep"),
    "twin": ("driver", "realtime"),
    "gazebo": (None, "realtime"),     # gz_ros2_control + ros_gz_bridge: launch/gazebo.launch.py
    "hardware": (None, "realtime"),   # the vendor's ROS 2 driver: launch/hardware.launch.py
}


@dataclass(frozen=True)
class NodeDecl:
    name: str
    kind: str
    params: dict = field(default_factory=dict)
    remaps: dict = field(default_factory=dict)


def doctor_graph(robot: str, backend: str, reality: str | None, lockstep: bool = False) -> list[NodeDecl]:
    """What `sim2real doctor` runs: the driver (when it is ours), the safety filter, the doctor."""
    full = build_graph(robot, backend, reality, camera=False)
    nodes = [d for d in full if d.name in ("driver", "safety_filter")]
    nodes = [NodeDecl(d.name, d.kind, {**d.params, "command_source": "doctor"}, d.remaps)
             if d.name == "safety_filter" else d for d in nodes]
    if lockstep:
        nodes = [NodeDecl(d.name, d.kind, {**d.params, "use_sim_time": True,
                                           **({"mode": "lockstep"} if d.name == "driver" else {})}, d.remaps)
                 for d in nodes]
    sim_time = any(d.params.get("use_sim_time") for d in nodes)
    return nodes + [NodeDecl("doctor", "doctor", {"robot": robot, "use_sim_time": sim_time})]


def build_graph(robot: str = "jaco", backend: str = "mujoco", reality: str | None = None, *,
                record: str | None = None, record_topics: list[str] | None = None,
                duration_s: float = 0.0, camera: bool = True, targets: int = 5, task_seed: int = 0,
                controller: str = "computed_torque", controller_checkpoint: str | None = None,
                corrections: str | None = None) -> list[NodeDecl]:
    """The node declarations for one bring-up. Raises ConfigError on unknown robot/backend/files."""
    spec = load_robot(robot)
    from sim2real.control.modes import MODES
    if controller not in MODES:
        raise ConfigError(f"controller mode '{controller}' unknown; choose one of: {', '.join(MODES)}")
    if backend not in BACKENDS:
        raise ConfigError(f"unknown backend '{backend}'; choose one of: {', '.join(BACKENDS)}")
    if reality:
        if backend != "twin":
            raise ConfigError(f"--reality applies to the twin backend, not '{backend}'")
        from sim2real.sim.reality import load_profile
        load_profile(reality).resolve(spec)   # fail here, with the key, not inside a node
        reality = str(paths.resolve(reality))
    driver_kind, mode = BACKENDS[backend]
    sim_time = mode == "lockstep"
    common = {"robot": robot, "use_sim_time": sim_time}
    teleop_cfg = f"config/teleop/{robot}.yaml"
    if not paths.resolve(teleop_cfg).is_file():
        raise ConfigError(f"{teleop_cfg}: no teleop config for robot '{robot}'")

    nodes = []
    # with doctor corrections, an adapter stands between the driver's topics and the graph's
    if corrections:
        from sim2real.doctor.adapter import DriverAdapter
        if DriverAdapter.load(paths.resolve(corrections), spec).identity:   # fail here, naming the key
            corrections = None   # no hop the control loop does not need
    state_source = "driver_adapter" if corrections else "driver"   # who publishes /joint_states
    driver_remaps = {"/joint_states": "/driver/joint_states",
                     "/effort_controller/commands": "/driver/effort_commands"} if corrections else {}
    if corrections:
        nodes.append(NodeDecl("driver_adapter", "driver_adapter",
                              {**common, "corrections": str(paths.resolve(corrections))}))
    if driver_kind:
        nodes.insert(0, NodeDecl("driver", driver_kind, {
            **common, "reality": reality or "", "mode": mode,
            "command_source": "driver_adapter" if corrections else "safety_filter", "camera": camera and spec.camera is not None,
            "duration_s": float(duration_s), "targets": targets, "task_seed": task_seed}, driver_remaps))
    nodes += [
        NodeDecl("policy", "policy", {**common, "state_source": state_source}, {"/perception/target": "/sim/target"}),
        NodeDecl("teleop_mux", "mux", {"robot": robot, "config": teleop_cfg, "use_sim_time": sim_time},
                 {"/gat/desired": "/policy/desired"}),
        NodeDecl("controller", "controller", {**common, "mode": controller, "state_source": state_source,
                                              "checkpoint": str(paths.resolve(controller_checkpoint))
                                              if controller_checkpoint else ""}),
        NodeDecl("safety_filter", "safety", {**common, "state_source": state_source}),
    ]
    if record:
        nodes.append(NodeDecl("recorder", "recorder", {
            "path": record, "use_sim_time": sim_time, "continue_in_parts": True,
            "topics": record_topics or ["/joint_states", "/effort_controller/commands", "/controller/desired",
                                        "/policy/desired", "/sim/target", "/diagnostics"]}))
    return nodes
