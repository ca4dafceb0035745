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
