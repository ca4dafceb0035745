"""Driver node for the `gazebo` backend: the graph's "driver", between gz_ros2_control (topics under
/gz, robots/gazebo.py remaps them) and the contract, so the graph sees Gazebo as it sees the twin.

  /gz/joint_states (joint_state_broadcaster) --sim/gazebo_relay.py: sensor effects, state transport-->
      /joint_states (wire order, then the grippers)
  /effort_controller/commands | /position_controller/commands (from `command_source` only, pinned)
      --command transport, the motor controller's holds, actuators--> /gz/<controller>/commands,
      one command per joint state received (gz_ros2_control's update rate = the control rate)
  /gz/camera/* (ros_gz_bridge) -> /camera/image_raw, /camera/camera_info (frame <camera>_optical_frame)
  /sim/target: the reach task's target sequence (targets, task_seed), as the MuJoCo driver's; the
      world's `target` model follows it through Gazebo's set_pose service (`gz service`, when on PATH)
  /gz/gripper_controller/commands: the grippers' hold positions, once a second
Sim time throughout (use_sim_time: Gazebo's /clock through ros_gz_bridge).
"""
from __future__ import annotations

import shutil
import subprocess
import threading

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import PointStamped
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, Image, JointState
from std_msgs.msg import Float64MultiArray

from sim2real.robots import load_robot
from sim2real.robots.gazebo import COMMAND_CONTROLLER, GZ_PREFIX, command_joints, unsupported_keys, world_name
from sim2real.ros import convert
from sim2real.ros.params import declare
from sim2real.ros.sourced import SourcedSubscriptions
from sim2real.sim.gazebo_relay import GazeboRelay
from sim2real.sim.reality import NOMINAL, load_profile

PARAMS = {
    "robot": ("jaco", "registered robot name"),
    "reality": ("", "reality profile YAML: its time-domain effects here (the model carries its dynamics)"),
    "mode": ("gazebo", "gazebo (Gazebo steps; this node follows its joint states)"),
    "camera": (True, "relay Gazebo's camera as /camera/image_raw"),
    "command_timeout_s": (-1.0, "no fresh command for this long -> hold; <0 = 5 control periods"),
    "command_source": ("safety_filter", "the only node whose commands are taken (name or /ns/name)"),
    "duration_s": (0.0, "unused on gazebo (Gazebo runs until stopped)"),
    "targets": (5, "number of reach targets the task cycles through"),
    "task_seed": (0, "seed of the target sequence"),
    "move_target": (True, "move the world's target model with `gz service` (when gz is on PATH)"),
}


class GazeboDriverNode(Node):
    def __init__(self, **kwargs):
        super().__init__("driver", **kwargs)
        p = self.p = declare(self, PARAMS)
        self.robot = r = load_robot(p.robot)
        profile = load_profile(p.reality) if p.reality else NOMINAL
        for k in unsupported_keys(r, profile):
            self.get_logger().warning(f"reality {k}: not applied in Gazebo")
        gravity = None
        if r.actuation == "effort" and not r.floating_base:
            from sim2real.control.nominal_model import NominalModel
            model = NominalModel(r)
            gravity = lambda q: model.dynamics(q, 0.0 * q)[1]   # noqa: E731
        self.relay = GazeboRelay(r, profile, command_timeout_s=None if p.command_timeout_s < 0 else p.command_timeout_s,
                                 gravity=gravity)
        self.map = convert.JointMap(r.joint_names)
        self.grippers = list(r.gripper_joints)
        self.wire_names = list(self.relay.wire_joints) + self.grippers
        self._cmd_idx = np.array([r.joint_names.index(j) for j in command_joints(r)])
        self.pub_js = self.create_publisher(JointState, "/joint_states", 10)
        ctrl = COMMAND_CONTROLLER[r.actuation]
        self.pub_cmd = self.create_publisher(Float64MultiArray, f"{GZ_PREFIX}/{ctrl}/commands", 10)
        self.pub_grip = (self.create_publisher(Float64MultiArray, f"{GZ_PREFIX}/gripper_controller/commands", 10)
                         if self.grippers else None)
        self.pub_diag = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self.pub_target = self.create_publisher(
            PointStamped, "/sim/target", QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL))
        self.create_subscription(JointState, f"{GZ_PREFIX}/joint_states", self._on_gz_state, 10)
        self.sourced = SourcedSubscriptions(self)
        self.source = self.sourced.add_from(
            p.command_source, Float64MultiArray, r.command_topic, self._on_command,
            lambda who: self.get_logger().error(f"refused commands from {who}: only {p.command_source} "
                                                "commands this driver", throttle_duration_sec=1.0))
        if p.camera and r.camera is not None:
            self._frame = f"{r.camera.name}_optical_frame"
            self.pub_img = self.create_publisher(Image, "/camera/image_raw", 2)
            self.pub_info = self.create_publisher(CameraInfo, "/camera/camera_info", 2)
            self.create_subscription(Image, f"{GZ_PREFIX}/camera/image_raw", self._on_image, qos_profile_sensor_data)
            self.create_subscription(CameraInfo, f"{GZ_PREFIX}/camera/camera_info", self._on_info,
                                     qos_profile_sensor_data)
        self.task = self.targets = None
        if r.tasks[0] == "reach":
            from sim2real.tasks.reach import ReachTask
            self.task = ReachTask.from_robot(r)
            self.targets = self.task.sample_targets(max(p.targets, 1), p.task_seed)
        self._target_idx = -1
        self._gz = shutil.which("gz") if p.move_target else None
        self.states = self.bad_states = 0
        self._problems: dict[str, int] = {}
        self._refused_seen: dict[str, int] = {}
        self.create_timer(1.0, self._periodic)

    # ---- state path: one Gazebo control period per joint state ----
    def _on_gz_state(self, msg: JointState) -> None:
        q, qd, err = self.map.extract(msg)
        eff = self.map.effort(msg)
        if err or not (np.isfinite(q).all() and np.isfinite(qd).all()):
            self.bad_states += 1
            self._problems[f"gz state: {err or 'NaN/inf'}"] = self._problems.get(f"gz state: {err or 'NaN/inf'}", 0) + 1
            return
        t = convert.from_time(msg.header.stamp)
        self.states += 1
        self._update_target(t)
        grip = self._grippers(msg)
        for measured_at, wq, wqd, weff in self.relay.measured(t, q, qd, eff if eff is not None else np.zeros(len(q))):
            self.pub_js.publish(convert.joint_state(
                measured_at, self.wire_names, np.concatenate((wq, grip)),
                np.concatenate((wqd, np.zeros(len(grip)))), np.concatenate((weff, np.zeros(len(grip))))))
        out = self.relay.output(t, q, qd)
        self.pub_cmd.publish(convert.effort_command(out[self._cmd_idx]))

    def _grippers(self, msg: JointState) -> np.ndarray:
        names = list(msg.name)
        return np.array([msg.position[names.index(g)] if g in names else h
                         for g, h in zip(self.grippers, self.robot.gripper_hold)])

    def _on_command(self, msg: Float64MultiArray) -> None:
        problem = self.relay.command(msg.data, self.get_clock().now().nanoseconds * 1e-9)
        if problem:
            self.get_logger().error(f"refused command: {problem}", throttle_duration_sec=1.0)

    # ---- the task's target ----
    def _update_target(self, t: float) -> None:
        if self.task is None:
            return
        i, tgt = self.task.target_at(self.targets, t)
        if i == self._target_idx:
            return
        self._target_idx = i
        self.pub_target.publish(convert.point(t, self.robot.base_link, tgt))
        if self._gz:
            req = f'name: "target", position: {{x: {tgt[0]:.6f}, y: {tgt[1]:.6f}, z: {tgt[2]:.6f}}}'
            cmd = [self._gz, "service", "-s", f"/world/{world_name(self.robot)}/set_pose", "--reqtype", "gz.msgs.Pose",
                   "--reptype", "gz.msgs.Boolean", "--timeout", "2000", "--req", req]
            threading.Thread(target=subprocess.run, args=(cmd,), kwargs={"capture_output": True, "timeout": 5},
                             daemon=True).start()

    # ---- camera relay ----
    def _on_image(self, msg: Image) -> None:
        msg.header.frame_id = self._frame
        self.pub_img.publish(msg)

    def _on_info(self, msg: CameraInfo) -> None:
        msg.header.frame_id = self._frame
        self.pub_info.publish(msg)

    def _periodic(self) -> None:
        if self.pub_grip is not None:
            self.pub_grip.publish(convert.effort_command(self.robot.gripper_hold))
        fresh = sorted(k for k, v in self.source.refused.items() if v > self._refused_seen.get(k, 0))
        self._refused_seen = dict(self.source.refused)
        problems, self._problems = self._problems, {}
        for who in fresh:
            problems[f"refused commands from {who}"] = 1
        if self.relay.holding:
            problems[f"holding: {self.relay.holding}"] = 1
        rl = self.relay
        convert.publish_diagnostics(
            self, self.pub_diag, "sim2real/driver", self.robot.name,
            "running" if self.states else "no joint states from gz_ros2_control yet", problems,
            [("backend", "gazebo"), ("states", self.states), ("bad_states", self.bad_states),
             ("commands", rl.commands), ("refused_commands", rl.refused), ("clipped_commands", rl.clipped),
             ("holds", rl.holds), ("reality", self.p.reality or "nominal")])

    def destroy_node(self):
        if hasattr(self, "sourced"):
            self.sourced.close()
        return super().destroy_node()
