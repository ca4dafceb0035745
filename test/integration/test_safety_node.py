"""The safety filter node passes every genuine command, filtered against the newest state: a
controller that answers a backlog late gets its fresh answer through after the stale one (the
driver acts on the newest), while the lock's hold answers every state and no command passes."""
import time

import numpy as np
import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.parameter import Parameter
from sensor_msgs.msg import JointState
from std_msgs.msg import Bool, Float64MultiArray

from sim2real.ros import convert, env, sourced
from sim2real.ros.nodes.safety import SafetyNode
from sim2real.ros.qos import LATCHED

from .helpers import _domains


def test_a_late_answer_does_not_block_the_fresh_one():
    env.setup()
    ctx = rclpy.Context()
    rclpy.init(context=ctx, domain_id=next(_domains) % 232)
    try:
        filt = SafetyNode(context=ctx, parameter_overrides=[Parameter("robot", value="jaco")])
        drv, ctl = Node("driver", context=ctx), Node("controller", context=ctx)
        pub_js = drv.create_publisher(JointState, "/joint_states", 10)
        pub_u = ctl.create_publisher(Float64MultiArray, "/controller/effort", 10)
        pub_lock = ctl.create_publisher(Bool, "/teleop/lock", LATCHED)
        got = []
        drv.create_subscription(Float64MultiArray, "/effort_controller/commands", lambda m: got.append(np.array(m.data)), 50)
        ex = SingleThreadedExecutor(context=ctx)
        for n in (filt, drv, ctl):
            ex.add_node(n)

        def spin(until, seconds=5.0):
            end = time.monotonic() + seconds
            while not until() and time.monotonic() < end:
                ex.spin_once(timeout_sec=0.02)
            return until()
        names = filt.robot.joint_names
        q = np.zeros(len(names))
        assert spin(lambda: pub_js.get_subscription_count() > 0 and pub_u.get_subscription_count() > 0)
        time.sleep(0.3)
        pub_js.publish(convert.joint_state(time.time(), names, q, q, q))    # stamped by the wall clock
        assert spin(lambda: filt.q is not None)
        pub_u.publish(convert.effort_command(np.full(len(names), 0.1)))    # the answer to an older state
        assert spin(lambda: len(got) >= 1)
        pub_u.publish(convert.effort_command(np.full(len(names), 0.2)))    # the fresh one, same state
        assert spin(lambda: len(got) >= 2), (got, filt.q, filt.reasons, filt.mode)
        assert np.allclose(got[-1], 0.2) and np.allclose(got[-2], 0.1)
        pub_lock.publish(Bool(data=True))
        assert spin(lambda: filt.lock.locked)
        n = len(got)
        pub_js.publish(convert.joint_state(time.time(), names, q, q, q))
        pub_u.publish(convert.effort_command(np.full(len(names), 0.3)))
        spin(lambda: len(got) > n + 1, 1.0)
        assert not any(np.allclose(g, 0.3) for g in got[n:])                # under the lock nothing passes
        assert filt.mode == "hold (lock)"
        ex.shutdown()
        for nd in (filt, drv, ctl):
            nd.destroy_node()
    finally:
        sourced.stop(ctx)
        rclpy.shutdown(context=ctx)
