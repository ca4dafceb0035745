"""gz_driver, the graph's driver on the gazebo backend, with stand-ins for gz_ros2_control (a
joint_state_broadcaster publishing /gz/joint_states, a listener on /gz/effort_controller/commands)
and for the safety filter: contract states out, the brakes before any command, the filter's
command through, a stranger's refused, the target latched. Gazebo itself is not installed here."""
import time

import numpy as np
from geometry_msgs.msg import PointStamped
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray

from sim2real.graph import NodeDecl
from sim2real.robots import load_robot
from sim2real.ros import convert
from sim2real.ros.compose import Composition
from test.integration.helpers import _domains


def test_gz_driver_relays_states_and_commands_with_the_twin_s_rules():
    jaco = load_robot("jaco")
    comp = Composition([NodeDecl("driver", "gz_driver", {"robot": "jaco", "camera": False, "move_target": False})],
                       domain_id=next(_domains) % 232)
    try:
        ctx = comp.context
        jsb, sf, other, probe = (Node(n, context=ctx) for n in
                                 ("joint_state_broadcaster", "safety_filter", "intruder", "probe"))
        for n in (jsb, sf, other, probe):
            comp.executor.add_node(n)
        pub_gz = jsb.create_publisher(JointState, "/gz/joint_states", 10)
        pub_cmd = sf.create_publisher(Float64MultiArray, "/effort_controller/commands", 10)
        pub_bad = other.create_publisher(Float64MultiArray, "/effort_controller/commands", 10)
        states, to_gz, targets = [], [], []
        probe.create_subscription(JointState, "/joint_states", states.append, 100)
        probe.create_subscription(Float64MultiArray, "/gz/effort_controller/commands",
                                  lambda m: to_gz.append(np.asarray(m.data)), 100)
        probe.create_subscription(PointStamped, "/sim/target", targets.append,
                                  QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL))
        names = [*jaco.joint_names, *jaco.gripper_joints]
        q = np.concatenate((jaco.home, jaco.gripper_hold))

        def step(n=1):
            for _ in range(n):
                pub_gz.publish(convert.joint_state(time.time(), names, q, np.zeros(10), np.zeros(10)))
                t_end = time.monotonic() + 0.02
                while time.monotonic() < t_end:
                    comp.executor.spin_once(timeout_sec=0.005)

        deadline = time.monotonic() + 20
        while not to_gz and time.monotonic() < deadline:
            step()
        assert to_gz and len(to_gz[-1]) == 7 and np.any(to_gz[-1] != 0.0)   # brakes: hold + gravity
        assert states and list(states[-1].name) == names and np.allclose(states[-1].position, q)
        assert targets and targets[-1].header.frame_id == jaco.base_link
        pub_bad.publish(convert.effort_command(np.full(7, 5.0)))
        for _ in range(20):
            pub_cmd.publish(convert.effort_command(np.full(7, 0.3)))
            step()
            if np.allclose(to_gz[-1], 0.3):
                break
        assert np.allclose(to_gz[-1], 0.3), to_gz[-1]             # the filter's command, as it came
        d = comp.nodes["driver"]
        assert "/intruder" in d.source.refused or "intruder" in str(d.source.refused)
        step(10)                                                   # no fresh command: the deadline's hold
        assert d.relay.holding == "no fresh command (deadline)" and not np.allclose(to_gz[-1], 0.3)
    finally:
        comp.close()
