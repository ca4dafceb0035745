"""The one twin stepper (sim/twin.py) and the driver node step for step (issue 13): the driver in
the graph and a plain loop over Twin give the same trajectory, on a profile with driver faults."""
import numpy as np
import pytest
from rclpy.node import Node
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray

from sim2real.graph import NodeDecl
from sim2real.robots import load_robot
from sim2real.ros import convert
from sim2real.ros.compose import Composition
from sim2real.sim.reality import parse_profile, SCHEMA
from sim2real.sim.twin import Twin

from .helpers import _domains

pytestmark = pytest.mark.ros

PROFILE = {"schema": SCHEMA, "name": "faulty-driver", "robot": "jaco", "seed": 4,
           "dynamics": {"payload": {"mass": 0.4}, "friction_scale": 1.5, "actuator_lag": 0.01,
                        "latency": {"command": 0.004, "state": 0.002}},
           "sensors": {"position_noise": 0.001, "velocity_noise": 0.01},
           "driver": {"joint_order": ["joint_2", "joint_1", "joint_3", "joint_4", "joint_5", "joint_7", "joint_6"],
                      "sign": {"joint_3": -1}, "offset": {"joint_1": 0.03}, "command_scale": {"joint_2": 0.8}}}
STEPS = 600


def law(q_wire, qd_wire, home_wire):
    """A deterministic answer to a wire state (what a controller would do, faults and all)."""
    return np.clip(40.0 * (home_wire - q_wire) - 4.0 * qd_wire, -10.0, 10.0)


def test_driver_node_steps_as_the_twin(tmp_path):
    robot = load_robot("jaco")
    path = tmp_path / "faulty.yaml"
    import yaml
    path.write_text(yaml.safe_dump(PROFILE))
    prof = parse_profile(PROFILE)

    # the plain loop over the one stepper
    tw = Twin(robot, prof)
    home_wire = robot.home[tw.fx.perm]
    core = []
    for _ in range(STEPS):
        arrived = tw.measure()
        if arrived:
            _, q, qd, _ = arrived[-1]
            tw.command(law(q, qd, home_wire))
        tw.step()
        core.append((round(tw.time, 6), tw.sim.joint_state()[0]))

    # the driver node, answered by a node that takes the safety filter's place
    decl = NodeDecl("driver", "driver", {"robot": "jaco", "reality": str(path), "mode": "lockstep",
                                         "camera": False, "use_sim_time": True})
    node = []
    with Composition([], domain_id=next(_domains) % 232) as g:
        # the answering node first (it takes the safety filter's place), so the driver's very first
        # state finds it; then the driver
        answer = Node("safety_filter", context=g.context)
        pub = answer.create_publisher(Float64MultiArray, "/effort_controller/commands", 10)
        wire = convert.JointMap([robot.joint_names[i] for i in tw.fx.perm])

        def on_state(msg: JointState):
            q, qd, _ = wire.extract(msg)
            pub.publish(convert.effort_command(law(q, qd, home_wire)))
        answer.create_subscription(JointState, "/joint_states", on_state, 10)
        g.executor.add_node(answer)
        g.add(decl)
        d = g.nodes["driver"]
        step = d.twin.step

        def recording_step():
            step()
            node.append((round(d.sim.time, 6), d.sim.joint_state()[0]))
        d.twin.step = recording_step     # (the constructor already stepped once: the first state
                                         # was still in transport, so the motors kept their brakes)
        while len(node) < STEPS - 1:
            g.executor.spin_once(timeout_sec=0.05)
        assert d.timeouts == 0           # every state answered: the same commands as the loop
    core_at = dict(core)
    assert len(node) >= STEPS - 1 and all(t in core_at for t, _ in node[:STEPS - 1])
    np.testing.assert_allclose(np.array([q for _, q in node[:STEPS - 1]]),
                               np.array([core_at[t] for t, _ in node[:STEPS - 1]]), atol=1e-9)
    assert np.max(np.abs(core[-1][1] - core[0][1])) > 0.01    # it moved: the comparison is not trivial
