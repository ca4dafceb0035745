"""A hardware driver node's plumbing (ros/nodes/hw_base.py) with a stand-in vendor: kinova_msgs is
not installed here, so the Kinova core's messages travel as sensor_msgs/JointState (state, as
kinova_driver sends it) and std_msgs/Float64MultiArray (torque, the JointTorque fields in order).
What the real nodes add is the vendor message types; `sim2real doctor --backend hardware` without
them says which package to build."""
import subprocess
import sys
import time

import numpy as np
from rclpy.node import Node
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray

from sim2real.graph import NODE_KINDS, NodeDecl
from sim2real.hardware.kinova import FIELDS, KinovaJaco2
from sim2real.robots import load_robot
from sim2real.ros import convert
from sim2real.ros.compose import Composition
from sim2real.ros.nodes.hw_base import HardwareDriverNode
from test.integration.helpers import _domains


class StandInKinovaNode(HardwareDriverNode):
    def vendor_setup(self):
        self.core = KinovaJaco2(self.robot, self.hw, gravity=lambda q: np.zeros(7))
        self.pub_vendor = self.create_publisher(Float64MultiArray, "/vendor/torque", 10)
        self.create_subscription(JointState, self.hw.topic("joint_state"), self._on_vendor, self.vendor_qos())

    def _on_vendor(self, msg):
        try:
            self.on_state(self.core.state(msg))
        except Exception as e:   # noqa: BLE001 - Refused
            self.refuse_state(str(e))

    def send(self, cmd, hold):
        m = self.core.torque(cmd, self.state.q)
        self.pub_vendor.publish(convert.effort_command([getattr(m, f) for f in FIELDS]))


def test_hardware_node_translates_gates_and_holds(monkeypatch):
    monkeypatch.setitem(NODE_KINDS, "hw_stand_in", f"{__name__}:StandInKinovaNode")
    jaco = load_robot("jaco")
    comp = Composition([NodeDecl("driver", "hw_stand_in", {"robot": "jaco"})], domain_id=next(_domains) % 232)
    try:
        ctx = comp.context
        vendor, sf, probe = (Node(n, context=ctx) for n in ("j2s7s300_driver", "safety_filter", "probe"))
        for n in (vendor, sf, probe):
            comp.executor.add_node(n)
        pub_state = vendor.create_publisher(JointState, "/j2s7s300_driver/out/joint_state", 10)
        pub_cmd = sf.create_publisher(Float64MultiArray, "/effort_controller/commands", 10)
        states, sent = [], []
        probe.create_subscription(JointState, "/joint_states", states.append, 100)
        probe.create_subscription(Float64MultiArray, "/vendor/torque", lambda m: sent.append(np.asarray(m.data)), 100)
        d = comp.nodes["driver"]
        names = [f"j2s7s300_joint_{i}" for i in range(1, 8)] + [f"j2s7s300_joint_finger_{i}" for i in range(1, 4)]
        qk = d.core.q_to_vendor(jaco.home)

        def spin(s):
            end = time.monotonic() + s
            while time.monotonic() < end:
                comp.executor.spin_once(timeout_sec=0.005)

        def vendor_state():
            pub_state.publish(convert.joint_state(time.time(), names, [*qk, 0.3, 0.3, 0.3], np.zeros(10), np.zeros(10)))

        for _ in range(50):
            vendor_state()
            spin(0.01)
            if states:
                break
        assert list(states[-1].name) == [*jaco.joint_names, *jaco.gripper_joints]
        assert np.allclose(states[-1].position[:7], jaco.home) and np.allclose(states[-1].position[7:], 0.3)
        spin(0.1)
        assert sent == []                      # nothing reaches the robot before the first command
        pub_cmd.publish(convert.effort_command([float("nan")] * 7))
        spin(0.05)
        assert sent == [] and d.gate.refused == 1
        for _ in range(10):
            pub_cmd.publish(convert.effort_command(np.full(7, 0.5)))
            vendor_state()
            spin(0.01)
        assert sent and np.allclose(sent[-1], -0.5, atol=1e-6)       # Kinova's sense, at the vendor's rate
        n = len(sent)
        for _ in range(20):                     # the filter goes quiet: the driver's deadline, then the hold
            vendor_state()
            spin(0.01)
        assert len(sent) > n and d.gate.holding == "no fresh command (deadline)"
        assert np.allclose(sent[-1], 0.0, atol=1e-6)    # damped PD on the pose it holds at: ~0 at rest
    finally:
        comp.close()


def test_doctor_on_hardware_names_the_missing_vendor_package():
    r = subprocess.run([sys.executable, "-m", "sim2real.cli", "doctor", "--robot", "nao", "--backend", "hardware",
                        "--timeout", "5"], capture_output=True, text=True, timeout=120)
    assert r.returncode != 0
    assert "naoqi_bridge_msgs" in r.stderr + r.stdout, r.stderr[-2000:]
