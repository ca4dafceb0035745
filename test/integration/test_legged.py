"""Go1 and NAO in the real graph (issue 13): the same nodes and topics as the Jaco; the stand
baseline keeps each up for 60 sim-s in lockstep, the lock holds it, /imu/data is published."""
import numpy as np
import pytest
from sensor_msgs.msg import Imu
from std_msgs.msg import Bool

from sim2real.graph import build_graph
from sim2real.ros.compose import Composition
from sim2real.tasks.stand import StandTask

from .helpers import Probe, _domains

pytestmark = pytest.mark.ros


@pytest.mark.parametrize("robot", ["go1", "nao"])
def test_stands_for_a_minute_and_holds_under_the_lock(robot):
    with Composition(build_graph(robot, "mujoco", camera=False), domain_id=next(_domains) % 232) as g:
        d = g.nodes["driver"]
        task = StandTask.from_robot(d.robot)
        probe = Probe(g)
        imu = []
        probe.node.create_subscription(Imu, "/imu/data", lambda m: imu.append(m.linear_acceleration.z), 10)
        worst = 0.0
        while d.sim.time < 60.0:
            g.executor.spin_once(timeout_sec=0.05)
            st = task.status(*d.sim.base_pose())
            assert not st.fallen, f"{robot} fell at {d.sim.time:.2f} s"
            if d.sim.time > 1.0:                      # after the ramp into the pose
                worst = max(worst, abs(st.height_error_m))
        assert worst < 0.03                           # m, the tolerance
        assert len(imu) > 100 and 9.0 < np.median(imu) < 10.6   # gravity reaction, standing still
        probe.lock.publish(Bool(data=True))
        t_lock = d.sim.time
        while d.sim.time < t_lock + 0.1:
            g.executor.spin_once(timeout_sec=0.05)
        q_lock = d.sim.joint_state()[0]
        while d.sim.time < t_lock + 3.0:
            g.executor.spin_once(timeout_sec=0.05)
        st = task.status(*d.sim.base_pose())
        assert not st.fallen and abs(st.height_error_m) < 0.03
        assert np.max(np.abs(d.sim.joint_state()[0] - q_lock)) < 0.05
        assert g.nodes["safety_filter"].mode == "hold (lock)"
