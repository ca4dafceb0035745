"""Driver node for the `mujoco` and `twin` backends: the robot as ROS sees it.

Publishes /joint_states, /clock (lockstep), /camera/image_raw + /camera/camera_info (real time:
from a process of its own, node `<name>_camera`, ros/camera_process.py), /imu/data
(sensor_msgs/Imu, floating-base robots), /sim/target (the reach task's target, ground truth),
/robot_description (latched URDF) and /diagnostics; takes the robot's forward-command topic
(std_msgs/Float64MultiArray, ros2_control conventions: /effort_controller/commands, N m, or
/position_controller/commands, rad, for position and PD-target robots) from one publisher only: the node named `command_source` (safety/source.py). Any
other publisher is refused and named. The robot itself is sim/twin.py: effort limits enforced,
a command deadline, holds with gravity compensation.

mode=lockstep: publish the state of step k, wait for the command, step; deterministic and as
fast as the graph answers. A command missing for `lockstep_timeout_s` (wall) steps without one
(the twin's deadline then holds). mode=realtime: a dedicated thread steps every control period
against the wall clock, with whatever command has arrived (the twin: asynchronous, like hardware).
"""
from __future__ import annotations

import gc
import os
import queue
import threading
import time
from collections import deque

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import PointStamped
from rclpy.clock import Clock, ClockType
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile
from rosgraph_msgs.msg import Clock as ClockMsg
from sensor_msgs.msg import CameraInfo, Image, Imu, JointState
from std_msgs.msg import Float64MultiArray, String

from sim2real.robots import load_robot
from sim2real.ros import convert
from sim2real.ros.params import declare
from sim2real.ros.qos import LATCHED
from sim2real.ros.sourced import SourcedSubscriptions, heard
from sim2real.sim.reality import NOMINAL, load_profile
from sim2real.sim.twin import Twin
from sim2real.tasks.reach import ReachTask
from sim2real.timing import LatencyHistogram

CLOCK_PERIOD_S = 0.02   # /clock every 20 ms of sim time in lockstep: every node on sim time receives it
                        # (each costs ~70 us); the mux's rate limit counts in sim time and needs this fine a clock

PARAMS = {
    "robot": ("jaco", "registered robot name"),
    "reality": ("", "reality profile YAML for the twin; empty = nominal"),
    "mode": ("lockstep", "lockstep | realtime"),
    "camera": (True, "render /camera/image_raw at the camera rate"),
    "camera_process": (True, "realtime: render in a process of its own (ros/camera_process.py: no GIL or CPU "
                             "shared with the 500 Hz loop); false: a thread of this process. Lockstep always "
                             "renders in step, in this process"),
    "lockstep_timeout_s": (0.05, "wall time to wait for a command before stepping without one"),
    "command_timeout_s": (-1.0, "no fresh command at the motors for this long -> hold; <0 = 5 periods"),
    "command_source": ("safety_filter", "the only node whose commands are taken (name or /ns/name)"),
    "duration_s": (0.0, "stop stepping after this much sim time (0 = run forever)"),
    "start_time_s": (0.0, "sim time to start at (a restarted lockstep driver resumes its clock)"),
    "targets": (5, "number of reach targets the task cycles through"),
    "task_seed": (0, "seed of the target sequence"),
    "target_listeners": (0, "lockstep: take the first step once this many subscriptions hear /sim/target (the "
                            "reach policy's, discovered in wall time while lockstep runs many sim-s a wall-s), "
                            "at most start_wait_s"),
    "start_wait_s": (5.0, "lockstep: the most wall time to wait for target_listeners"),
}


class DriverNode(Node):
    def __init__(self, **kwargs):
        super().__init__("driver", **kwargs)
        p = self.p = declare(self, PARAMS)
        self.robot = load_robot(p.robot)
        profile = load_profile(p.reality) if p.reality else NOMINAL
        self.twin = Twin(self.robot, profile, start_time=p.start_time_s,
                         command_timeout_s=None if p.command_timeout_s < 0 else p.command_timeout_s)
        self.sim = self.twin.sim
        self.wire_names = list(self.twin.wire_joints) + list(self.robot.gripper_joints)
        # the reach task moves a target in the scene; other tasks (stand) have nothing to move here
        self.task = ReachTask.from_robot(self.robot) if self.sim.target() is not None else None
        self.targets = self.task.sample_targets(max(p.targets, 1), p.task_seed) if self.task else None
        self._target_idx = -1
        self.lockstep = p.mode == "lockstep"
        self._clock_every = max(1, round(CLOCK_PERIOD_S / self.robot.dt))   # steps
        if p.mode not in ("lockstep", "realtime"):
            raise ValueError(f"driver: mode must be lockstep or realtime, got {p.mode!r}")
        self.camera = self._thread = self._cam_thread = self._cam_proc = None

        self.pub_js = self.create_publisher(JointState, "/joint_states", 10)
        self.pub_imu = self.create_publisher(Imu, "/imu/data", 10) if self.robot.imu else None
        self._imu_frame = self.robot.imu.body if self.robot.imu else ""
        # the hot messages, serialized in place every step (ros/convert.py)
        k, n = len(self.wire_names), self.robot.n
        self._js = convert.JointStateWriter(self.wire_names, k, k, k)
        # its slots, as views: the robot's joints (wire order), then the grippers (velocity, effort 0)
        self._js_q, self._js_qd, self._js_eff = self._js.position[:n], self._js.velocity[:n], self._js.effort[:n]
        self._js_grip = self._js.position[n:] if k > n else None
        self._imu = convert.ImuWriter(self._imu_frame) if self.robot.imu else None
        self.pub_clock = self.create_publisher(ClockMsg, "/clock", 10) if self.lockstep else None
        # latched: a node that joins late (or a slow discovery) still gets the current target
        self.pub_target = self.create_publisher(
            PointStamped, "/sim/target", QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL))
        self.pub_diag = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self.pub_description = self.create_publisher(String, "/robot_description", LATCHED)
        self.pub_description.publish(String(data=self.robot.urdf_path.read_text()))
        self.sourced = SourcedSubscriptions(self)
        self._commands = convert.Float64ArrayReader()    # raw: the filter's steady stream read in place
        self.source = self.sourced.add_from(
            p.command_source, Float64MultiArray, self.robot.command_topic, self._on_command,
            lambda who: self.get_logger().error(f"refused commands from {who}: only {p.command_source} "
                                                "commands this driver", throttle_duration_sec=1.0), raw=True)
        self.camera = None
        self._camera_args = None
        cam = self.robot.camera
        if p.camera and cam is not None and not self.lockstep and p.camera_process:
            from sim2real.ros.camera_process import CameraProcess, camera_node_name
            self._cam_proc = CameraProcess.start(
                self.sim.model, cam, profile.section("visuals"), profile.seed,
                self.resolve_topic_name("/camera/image_raw"), self.resolve_topic_name("/camera/camera_info"),
                self.context.get_domain_id(), camera_node_name(self.get_name()), self.get_namespace())
        elif p.camera and cam is not None:
            # the renderer is made in the thread that renders (an EGL context is per thread)
            self._camera_args = (cam, profile.section("visuals"), profile.seed)
            self.pub_img = self.create_publisher(Image, "/camera/image_raw", 2)
            self.pub_info = self.create_publisher(CameraInfo, "/camera/camera_info", 2)
            self._cam_every = max(1, round(self.robot.control_rate_hz / cam.rate_hz))

        self.lock = threading.Lock()
        self.steps = 0
        self.commands = 0
        self.timeouts = 0
        self.done = False
        self.on_done = None            # callable, set by whoever waits for the end of a run
        self._awaiting = False
        self._timeouts_in_row = 0
        self._sent_at = 0.0
        self._stale_checks = 0
        self.missed_deadlines = 0
        self.jitter = LatencyHistogram()        # realtime: wake-up lateness per step, s
        self.rtt = deque(maxlen=1_000_000)      # state published -> next command received, s
        self._t0_wall = time.monotonic()
        self._window = (0, 0)        # (steps, commands) at the last diagnostics
        self._refused_seen: dict[str, int] = {}
        self.create_timer(1.0, self._diagnostics)
        if self.lockstep:
            # checked twice per timeout: a command queued behind a long callback is served first
            self.create_timer(p.lockstep_timeout_s / 2, self._lockstep_watchdog,
                              clock=Clock(clock_type=ClockType.STEADY_TIME))
        if self._camera_args:   # the one thread that renders (an EGL context is current in one thread)
            self._cam_req: queue.Queue = queue.Queue(maxsize=1)
            self._cam_done = threading.Event()
            self._cam_thread = threading.Thread(target=self._camera_loop, daemon=True)
            self._cam_thread.start()
        if self.lockstep:
            if p.target_listeners > 0 and self.task is not None:
                self._start_by = time.monotonic() + p.start_wait_s
                self._starter = self.create_timer(0.01, self._start_when_heard,
                                                  clock=Clock(clock_type=ClockType.STEADY_TIME))
            else:
                self._publish_state()
        else:
            self._thread = threading.Thread(target=self._realtime_loop, daemon=True)
            self._thread.start()

    def _start_when_heard(self) -> None:
        """Lockstep: the first state goes out once the target's listeners are there (the first
        target published then reaches them at sim time 0), or when start_wait_s ran out."""
        heard = self.pub_target.get_subscription_count() >= self.p.target_listeners
        if not heard and time.monotonic() < self._start_by:
            return
        self.destroy_timer(self._starter)
        if not heard:
            self.get_logger().warning(
                f"lockstep: nobody heard {self.pub_target.topic_name} after {self.p.start_wait_s:g} s "
                f"({self.pub_target.get_subscription_count()} of {self.p.target_listeners} listeners): starting anyway")
        with self.lock:
            self._update_target()
            self._publish_state()

    # ---- time --------------------------------------------------------------------------------
    def _stamp(self) -> float:
        """Stamp for outgoing messages: sim time in lockstep, wall (ROS) time in real time."""
        if self.lockstep:
            return self.sim.time
        return self.get_clock().now().nanoseconds * 1e-9

    # ---- command path -------------------------------------------------------------------------
    def _on_command(self, data: bytes) -> None:
        with self.lock:
            self.rtt.append(time.monotonic() - self._sent_at)
            problem = self.twin.command(self._commands.read(data))
            if problem:   # the safety filter should never let this through; a driver still refuses it
                self.get_logger().error(f"refused command: {problem}", throttle_duration_sec=1.0)
            else:
                self.commands += 1
            if self.lockstep and self._awaiting and not self.done:
                self._awaiting = False
                self._timeouts_in_row = 0
                self._step()
                self._publish_state()

    def _lockstep_watchdog(self) -> None:
        with self.lock:
            if not (self._awaiting and not self.done and time.monotonic() - self._sent_at > self.p.lockstep_timeout_s):
                self._stale_checks = 0
                return
            self._stale_checks += 1
            if self._stale_checks >= 2:
                self._stale_checks = 0
                self.timeouts += 1
                self._timeouts_in_row += 1
                if self._timeouts_in_row >= 10:     # not a hiccup: nothing answers (a remap, a dead filter)
                    self.get_logger().warning(
                        f"lockstep: {self._timeouts_in_row} steps in a row without a command on "
                        f"{self.resolve_topic_name(self.robot.command_topic)} from {self.p.command_source} "
                        f"(each waited {self.p.lockstep_timeout_s:g} s wall): is it running, on this topic?",
                        throttle_duration_sec=2.0)
                self._awaiting = False
                self._step()
                self._publish_state()

    def _step(self) -> None:
        held = self.twin.holding
        self._update_target()
        self.twin.step()
        self.steps += 1
        if self.twin.holding != held and self.twin.holding and self.twin.fx.delivered:
            self.get_logger().warning(f"motors holding: {self.twin.holding}", throttle_duration_sec=1.0)
        if self.p.duration_s > 0 and self.sim.time >= self.p.duration_s - 1e-9:
            self.done = True
            if self.on_done:
                self.on_done()

    def _update_target(self) -> None:
        if self.task is None:
            return
        i, tgt = self.task.target_at(self.targets, self.sim.time)
        if i != self._target_idx:
            self._target_idx = i
            self.sim.set_target(tgt)
            self.pub_target.publish(convert.point(self._stamp(), self.robot.base_link, tgt))

    # ---- state path ---------------------------------------------------------------------------
    def _publish_state(self) -> None:
        t = self.sim.time
        stamp = self._stamp()
        if self.pub_clock is not None and self.steps % self._clock_every == 0:
            self.pub_clock.publish(convert.clock_cdr(t))
        sent = False
        for measured_at, wq, wqd, weff in self.twin.measure():
            # the stamp says when the sample was taken, as a hardware driver's would
            st = measured_at if self.lockstep else stamp - (t - measured_at)
            # serialized in place (convert.JointStateWriter): the grippers' velocity and effort stay 0
            self._js_q[...], self._js_qd[...], self._js_eff[...] = wq, wqd, weff
            if self._js_grip is not None:
                self._js_grip[...] = self.sim.data.qpos[self.sim._gqsel]
            self.pub_js.publish(self._js.serialize(st))
            sent = True
        if self.pub_imu is not None and heard(self.pub_imu):   # the IMU's own bus: no transport effects modelled
            self.pub_imu.publish(self._imu.serialize(stamp, *self.sim.imu()))
        if self._cam_proc is not None:     # its process renders the latest pose at the camera's rate
            self._cam_proc.write(self.sim.data.qpos, self.sim.data.mocap_pos, stamp)
        if self.lockstep and self._camera_args and self.steps % self._cam_every == 0:
            # in step, deterministic: this step's pose, rendered by the camera thread, waited for
            self._cam_done.clear()
            self._cam_req.put((self.sim.data.qpos.copy(), self.sim.data.mocap_pos.copy(), stamp))
            self._cam_done.wait(timeout=2.0)
        if sent:
            self._sent_at = time.monotonic()
        if self.lockstep:
            if sent:
                self._awaiting = True
            elif not self.done:   # state lost in transport: the motors keep the last command
                self._step()
                self._publish_state()

    def _render(self, data, stamp: float) -> None:
        if self.camera is None:
            from sim2real.sim.camera import Camera
            cam, visuals, seed = self._camera_args
            self.camera = Camera(self.sim.model, cam, visuals, seed)
        rgb = self.camera.render(data)
        frame = self.robot.camera.name + "_optical_frame"
        self.pub_img.publish(convert.image(stamp, frame, rgb))
        self.pub_info.publish(convert.camera_info(stamp, frame, self.robot.camera.width,
                                                  self.robot.camera.height, self.robot.camera.fovy_deg))

    def _camera_loop(self) -> None:
        """Renders every frame from a snapshot of the pose: real time, at the camera rate, off the
        control loop; lockstep, on request from the step."""
        import mujoco
        snap = mujoco.MjData(self.sim.model)
        period = 1.0 / self.robot.camera.rate_hz
        next_t = time.perf_counter()
        while not self.done and self.context.ok():
            if self.lockstep:
                try:
                    req = self._cam_req.get(timeout=0.2)
                except queue.Empty:
                    continue
                if req is None:
                    break
                snap.qpos[:], snap.mocap_pos[:], stamp = req
            else:
                with self.lock:
                    snap.qpos[:] = self.sim.data.qpos
                    snap.mocap_pos[:] = self.sim.data.mocap_pos
                    stamp = self._stamp()
            mujoco.mj_kinematics(self.sim.model, snap)
            mujoco.mj_comPos(self.sim.model, snap)       # cameras and lights are placed from these:
            mujoco.mj_camlight(self.sim.model, snap)     # without them the camera sat at the origin
            self._render(snap, stamp)
            if self.lockstep:
                self._cam_done.set()
            else:
                next_t += period
                time.sleep(max(0.0, next_t - time.perf_counter()))
        if self.camera is not None:
            self.camera.close()    # in the thread that owns the GL context
            self.camera = None

    # ---- real time ----------------------------------------------------------------------------
    def _realtime_loop(self) -> None:
        try:   # a real-time class for this thread when allowed (root, or rtprio in limits.conf)
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(50))
            self.get_logger().info("real-time loop: SCHED_FIFO 50")
        except (PermissionError, AttributeError, OSError):
            self.get_logger().info("real-time loop: normal scheduling (no permission for SCHED_FIFO)")
        # long-lived objects out of the collector's sight, rarer young-generation passes:
        # a full collection is a multi-millisecond pause in a 2 ms loop
        gc.freeze()
        gc.set_threshold(50_000, 50, 100)
        dt = self.robot.dt
        next_t = time.perf_counter()
        while not self.done and self.context.ok():
            next_t += dt
            with self.lock:
                self._step()
                try:
                    self._publish_state()
                except Exception:  # noqa: BLE001 - the context went down under us: stop quietly
                    if self.context.ok():
                        raise
                    return
            now = time.perf_counter()
            if now < next_t:
                time.sleep(next_t - now)   # no busy wait: it would hold the GIL from the executor
            late = time.perf_counter() - next_t
            self.jitter.add(late)
            if late > dt:       # a whole period late: a missed deadline; resynchronise
                self.missed_deadlines += 1
                next_t = time.perf_counter()

    def _diagnostics(self) -> None:
        st = DiagnosticStatus(name="sim2real/driver", hardware_id=self.robot.name)
        tw = self.twin
        steps, commands = self.steps - self._window[0], self.commands - self._window[1]
        self._window = (self.steps, self.commands)
        starved = max(0.0, 1.0 - commands / steps) if steps else 0.0
        problems = []
        if tw.holding:
            problems.append(f"holding: {tw.holding}")
        fresh = sorted(k for k, v in self.source.refused.items() if v > self._refused_seen.get(k, 0))
        self._refused_seen = dict(self.source.refused)
        if fresh:    # in the last second
            problems.append("refused commands from " + ", ".join(fresh))
        if self._cam_proc is not None and self._cam_proc.exit_code is not None:
            problems.append(f"camera process exited (code {self._cam_proc.exit_code}): no images")
        if not self.lockstep and steps and starved > 0.1:
            problems.append(f"{100 * starved:.0f}% of steps without a fresh command")
        st.level = DiagnosticStatus.WARN if problems else DiagnosticStatus.OK
        st.message = "; ".join(problems) or "running"
        st.values = [KeyValue(key=k, value=str(v)) for k, v in (
            ("sim_time", f"{self.sim.time:.3f}"), ("wall_time", f"{time.monotonic() - self._t0_wall:.3f}"),
            ("steps", self.steps), ("commands", self.commands), ("hold_steps", tw.hold_steps),
            ("deadline_holds", tw.deadline_holds), ("clipped_commands", tw.clipped),
            ("refused_commands", tw.refused + sum(self.source.refused.values())),
            ("steps_without_command_pct", f"{100 * starved:.1f}"),
            ("lockstep_timeouts", self.timeouts), ("missed_deadlines", self.missed_deadlines),
            ("jitter_p50_ms", f"{1e3 * self.jitter.percentile(50):.3f}"),
            ("jitter_p99_ms", f"{1e3 * self.jitter.percentile(99):.3f}"),
            ("jitter_max_ms", f"{1e3 * self.jitter.max:.3f}"),
            ("reality", self.p.reality or "nominal"))]
        arr = DiagnosticArray(status=[st])
        arr.header.stamp = convert.to_time(self._stamp())
        self.pub_diag.publish(arr)

    def destroy_node(self):
        self.done = True
        if hasattr(self, "sourced"):
            self.sourced.close()
        if getattr(self, "_thread", None) is not None:
            self._thread.join(timeout=1.0)
        if getattr(self, "_cam_thread", None) is not None:
            if self.lockstep:
                try:
                    self._cam_req.put_nowait(None)
                except queue.Full:
                    pass
            self._cam_thread.join(timeout=2.0)
        if getattr(self, "camera", None) is not None:
            self.camera.close()
            self.camera = None
        if getattr(self, "_cam_proc", None) is not None:
            self._cam_proc.stop()
            self._cam_proc = None
        return super().destroy_node()
