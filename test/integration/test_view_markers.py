"""RViz's companion node (viz_markers): end-effector points of the actual and desired states, and
the teleop text marker where visualization_msgs exists."""
import os
import time

import numpy as np
import pytest

pytestmark = pytest.mark.ros


def test_viz_markers_end_effector_points(jaco):
    import rclpy
    from geometry_msgs.msg import PointStamped
    from rclpy.executors import SingleThreadedExecutor
    from sensor_msgs.msg import JointState

    from sim2real.ros import convert
    from sim2real.ros.nodes.viewer import RvizMarkersNode
    from sim2real.view.scene import RobotPoser

    ctx = rclpy.Context()
    rclpy.init(context=ctx, domain_id=(int(os.environ.get("ROS_DOMAIN_ID", "0")) + 201) % 232)
    node = RvizMarkersNode(context=ctx)
    probe = rclpy.create_node("probe", context=ctx)
    got = {"actual": [], "desired": []}
    for k in got:
        probe.create_subscription(PointStamped, f"/viz/ee_{k}", lambda m, k=k: got[k].append(m), 10)
    js = probe.create_publisher(JointState, "/joint_states", 10)
    des = probe.create_publisher(JointState, "/policy/desired", 10)
    ex = SingleThreadedExecutor(context=ctx)
    ex.add_node(node)
    ex.add_node(probe)
    try:
        q_des = np.zeros(jaco.n)
        end = time.monotonic() + 10
        while time.monotonic() < end and not (got["actual"] and got["desired"]):
            js.publish(convert.joint_state(1.0, jaco.joint_names, jaco.home))
            des.publish(convert.joint_state(1.0, jaco.joint_names, q_des))
            ex.spin_once(timeout_sec=0.05)
        assert got["actual"] and got["desired"], "no /viz/ee_actual or /viz/ee_desired within 10 s"
        poser = RobotPoser(jaco)
        a, d = got["actual"][-1], got["desired"][-1]
        assert a.header.frame_id == "base_link"
        assert np.allclose(convert.from_point(a), poser.ee_position(), atol=1e-6)
        assert np.allclose(convert.from_point(d), poser.ee_position_at(dict(zip(jaco.joint_names, q_des))), atol=1e-6)
        m = node.marker("keyboard")
        if m is not None:     # a full ROS 2 install
            assert "keyboard" in m.text and m.header.frame_id == "base_link"
    finally:
        ex.shutdown()
        node.destroy_node()
        probe.destroy_node()
        rclpy.shutdown(context=ctx)
