"""Web viewer node: the graph's topics -> view/app.py's ViewerApp (a viser server).

Subscribes (names remap like any ROS topic):
  /joint_states, /imu/data, /camera/image_raw     sensor-data QoS (best effort, newest only):
                                                   a viewer must never slow or queue the loop
  /controller/desired, /policy/desired             the first that has published is the desired
                                                   state the tracking error is measured against
  /sim/target                                      latched, as the driver publishes it
  /perception/target                               best effort (takes reliable publishers too)
  /teleop/active                                   latched, as the mux publishes it
and renders on a steady-clock timer (wall time, also under lockstep sim time).

`serve()` runs the node alone in its own context (`sim2real view`); until graph.py declares a
`viewer` node kind, ros/compose.py cannot compose it.

RvizMarkersNode (`viz_markers`) is RViz's companion on full ROS 2 installs (config/rviz/*.rviz):
what RViz cannot draw from the contract topics by itself, as standard messages:
  /viz/ee_actual, /viz/ee_desired   geometry_msgs/PointStamped in base_link, 10 Hz: the end
                                    effector of /joint_states and of the desired state (MuJoCo's
                                    forward kinematics); RViz's PointStamped display keeps a trail
  /viz/teleop_active                visualization_msgs/Marker (text over the robot): which input
                                    the mux selected; skipped, with a warning, where
                                    visualization_msgs is not installed (the PyPI venv)
"""
from __future__ import annotations

import time

import numpy as np
from geometry_msgs.msg import PointStamped
from rclpy.clock import Clock, ClockType
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import Image, Imu, JointState
from std_msgs.msg import String

from sim2real.robots import load_robot
from sim2real.ros import convert
from sim2real.ros.params import declare
from sim2real.ros.qos import LATCHED

PARAMS = {
    "robot": ("jaco", "registered robot name"),
    "host": ("127.0.0.1", "address the web server listens on (0.0.0.0 = every interface)"),
    "port": (8080, "HTTP port (the next free one if taken; 0 = any free port)"),
    "render_hz": (20.0, "scene updates sent to the browser per wall second"),
    "desired_topics": (["/controller/desired", "/policy/desired"],
                       "desired-state topics, by preference: the first that has published is used"),
}

_CHANNELS = {"rgb8": 3, "bgr8": 3, "rgba8": 4, "bgra8": 4, "mono8": 1}


def image_array(msg: Image) -> np.ndarray | None:
    """An 8-bit sensor_msgs/Image as an (H, W, 3) RGB array; None for other encodings or bad sizes."""
    ch = _CHANNELS.get(msg.encoding)
    if ch is None or msg.height == 0 or msg.width == 0 or msg.step < msg.width * ch:
        return None
    buf = np.frombuffer(msg.data, np.uint8)
    if buf.size < msg.step * msg.height:
        return None
    img = buf[:msg.step * msg.height].reshape(msg.height, msg.step)[:, :msg.width * ch].reshape(msg.height, msg.width, ch)
    if ch == 1:
        return np.repeat(img, 3, axis=2)
    if msg.encoding.startswith("bgr"):
        img = img[:, :, 2::-1]
    return np.ascontiguousarray(img[:, :, :3])


class ViewerNode(Node):
    def __init__(self, **kwargs):
        super().__init__("viewer", **kwargs)
        p = declare(self, PARAMS)
        from sim2real.view.app import ViewerApp
        self.app = ViewerApp(load_robot(p.robot), host=p.host, port=p.port)
        sensor = qos_profile_sensor_data
        self.create_subscription(JointState, "/joint_states", self._on_joint_state, sensor)
        self.create_subscription(Imu, "/imu/data", self._on_imu, sensor)
        self.create_subscription(Image, "/camera/image_raw", self._on_image, sensor)
        self._desired_rank = len(p.desired_topics)
        for rank, topic in enumerate(p.desired_topics):
            self.create_subscription(JointState, topic, lambda m, r=rank, t=topic: self._on_desired(r, t, m), 10)
        self.create_subscription(PointStamped, "/sim/target", lambda m: self._on_target("sim", m), LATCHED)
        self.create_subscription(PointStamped, "/perception/target", lambda m: self._on_target("perceived", m), sensor)
        self.create_subscription(String, "/teleop/active", lambda m: self.app.active(m.data), LATCHED)
        self.create_timer(1.0 / max(p.render_hz, 0.1), self.app.render, clock=Clock(clock_type=ClockType.STEADY_TIME))

    @property
    def url(self) -> str:
        return self.app.url

    def _on_joint_state(self, msg: JointState) -> None:
        self.app.joint_state(convert.from_time(msg.header.stamp), msg.name, msg.position, msg.effort)

    def _on_imu(self, msg: Imu) -> None:
        o = msg.orientation
        self.app.imu((o.w, o.x, o.y, o.z))

    def _on_image(self, msg: Image) -> None:
        img = image_array(msg)
        if img is None:
            self.get_logger().warning(f"viewer: cannot show a {msg.encoding} image of {msg.width}x{msg.height}",
                                      throttle_duration_sec=5.0)
            return
        self.app.image(img)

    def _on_desired(self, rank: int, topic: str, msg: JointState) -> None:
        if rank > self._desired_rank:     # a preferred topic has published: this one is ignored
            return
        self._desired_rank = rank
        self.app.desired(msg.name, msg.position, topic)

    def _on_target(self, which: str, msg: PointStamped) -> None:
        self.app.target(which, convert.from_point(msg))

    def destroy_node(self):
        if hasattr(self, "app"):
            self.app.close()
        return super().destroy_node()


def serve(robot: str = "jaco", host: str = "127.0.0.1", port: int = 8080, duration: float | None = None,
          log=print, ready=None) -> int:
    """Run the viewer until SIGINT/SIGTERM or `duration` wall seconds. ready(url): called once it serves."""
    from sim2real.ros import env
    env.setup()
    import rclpy
    from rclpy.experimental import EventsExecutor
    from rclpy.parameter import Parameter

    from sim2real.ros.signals import StopSignals
    from sim2real.robots import load_robot as _check
    _check(robot)       # an unknown robot is a one-line error before anything starts
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=env.domain_id())
    node = None
    try:
        node = ViewerNode(context=context, parameter_overrides=[
            Parameter("robot", value=robot), Parameter("host", value=host), Parameter("port", value=int(port))])
        ex = EventsExecutor(context=context)
        ex.add_node(node)
        log(f"sim2real view: {robot} at {node.url} (ROS_DOMAIN_ID {env.domain_id()}); Ctrl-C stops", flush=True)
        if ready is not None:
            ready(node.url)
        end = None if duration is None else time.monotonic() + duration
        with StopSignals() as stop:
            while context.ok() and not stop.is_set() and (end is None or time.monotonic() < end):
                ex.spin_once(timeout_sec=0.1 if end is None else max(0.0, min(0.1, end - time.monotonic())))
        ex.remove_node(node)
        ex.shutdown()
    finally:
        if node is not None:
            node.destroy_node()
        if context.ok():
            rclpy.shutdown(context=context)
    return 0


_ACTIVE_RGB = {"": (0.9, 0.1, 0.1), "policy": (0.1, 0.7, 0.2)}    # none/locked red, policy green, teleop orange


class RvizMarkersNode(Node):
    PARAMS = {
        "robot": ("jaco", "registered robot name"),
        "rate_hz": (10.0, "end-effector points per wall second"),
        "desired_topics": (["/controller/desired", "/policy/desired"],
                           "desired-state topics, by preference: the first that has published is used"),
    }

    def __init__(self, **kwargs):
        super().__init__("viz_markers", **kwargs)
        p = declare(self, self.PARAMS)
        from sim2real.view.scene import RobotPoser
        self.robot = load_robot(p.robot)
        self.poser = RobotPoser(self.robot)
        self.frame = self.robot.base_link
        self._q = self._desired = None
        self._desired_rank = len(p.desired_topics)
        self.pub_actual = self.create_publisher(PointStamped, "/viz/ee_actual", 10)
        self.pub_desired = self.create_publisher(PointStamped, "/viz/ee_desired", 10)
        try:
            from visualization_msgs.msg import Marker
            self._Marker = Marker
            self.pub_active = self.create_publisher(Marker, "/viz/teleop_active", LATCHED)
        except ImportError:
            self._Marker = self.pub_active = None
            self.get_logger().warning("visualization_msgs is not installed: no /viz/teleop_active marker")
        self.create_subscription(JointState, "/joint_states", self._on_joint_state, qos_profile_sensor_data)
        for rank, topic in enumerate(p.desired_topics):
            self.create_subscription(JointState, topic, lambda m, r=rank: self._on_desired(r, m), 10)
        self.create_subscription(String, "/teleop/active", self._on_active, LATCHED)
        self.create_timer(1.0 / max(p.rate_hz, 0.1), self._tick, clock=Clock(clock_type=ClockType.STEADY_TIME))

    def _on_joint_state(self, msg: JointState) -> None:
        self._q = (convert.from_time(msg.header.stamp), dict(zip(msg.name, msg.position)))

    def _on_desired(self, rank: int, msg: JointState) -> None:
        if rank <= self._desired_rank and len(msg.position) == len(msg.name):
            self._desired_rank = rank
            self._desired = (convert.from_time(msg.header.stamp), dict(zip(msg.name, msg.position)))

    def _tick(self) -> None:
        if self.robot.end_effector is None:
            return
        if self._q is not None:
            t, q = self._q
            self._q = None
            self.poser.set_positions(q)
            self.pub_actual.publish(convert.point(t, self.frame, self.poser.ee_position()))
        if self._desired is not None:
            t, q = self._desired
            self._desired = None
            self.pub_desired.publish(convert.point(t, self.frame, self.poser.ee_position_at(q)))

    def marker(self, active: str):
        """The text marker that says which input drives (None without visualization_msgs)."""
        if self._Marker is None:
            return None
        m = self._Marker()
        m.header.frame_id = self.frame
        m.ns, m.id = "teleop_active", 0
        m.type, m.action = self._Marker.TEXT_VIEW_FACING, self._Marker.ADD
        _, hi = self.poser.bounds()
        m.pose.position.z = float(hi[2]) + 0.15
        m.pose.orientation.w = 1.0
        m.scale.z = 0.08
        m.color.r, m.color.g, m.color.b = _ACTIVE_RGB.get(active, (1.0, 0.55, 0.0))
        m.color.a = 1.0
        m.text = f"control: {active or 'none (locked or no fresh input)'}"
        return m

    def _on_active(self, msg: String) -> None:
        m = self.marker(msg.data)
        if m is not None:
            self.pub_active.publish(m)
