"""The Go1 and NAO descriptions against their published figures (../shared/facts/nao-go1.md)."""
import numpy as np
import pytest

from sim2real.robots import load_robot
from sim2real.sim.model_builder import build_model
from sim2real.sim.simulator import Simulator

GO1_LEGS = ("FR", "FL", "RR", "RL")                  # Unitree SDK order


@pytest.fixture(scope="module")
def go1():
    return load_robot("go1")


@pytest.fixture(scope="module")
def nao():
    return load_robot("nao")


def robot_mass(robot):
    m = build_model(robot)
    payload = m.body("payload").id
    return float(sum(m.body_mass[i] for i in range(1, m.nbody) if i != payload))


def test_go1_is_a_pd_target_quadruped(go1):
    assert go1.joint_names == tuple(f"{leg}_{j}_joint" for leg in GO1_LEGS for j in ("hip", "thigh", "calf"))
    assert go1.floating_base and go1.actuation == "pd_targets"
    assert go1.command_topic == "/position_controller/commands"
    assert go1.control_rate_hz == 500 and go1.policy_rate_hz == 50
    assert 20 <= go1.pd_kp.min() <= go1.pd_kp.max() <= 35 and np.all(go1.pd_kd >= 0.5)
    assert go1.payload_body == "trunk" and go1.end_effector is None and go1.gripper_joints == ()
    assert go1.imu is not None and go1.foot_contacts == tuple(f"{leg}_foot" for leg in GO1_LEGS)
    assert go1.tasks == ("stand",)


def test_go1_figures(go1):
    assert robot_mass(go1) == pytest.approx(12.74, abs=0.01)        # G2's total
    i = go1.joint_names.index
    assert go1.effort_limit[i("FR_hip_joint")] == 23.7 and go1.effort_limit[i("FR_calf_joint")] == 35.55
    assert go1.velocity_limit[i("RL_calf_joint")] == 20.06
    assert (go1.position_lower[i("FL_thigh_joint")], go1.position_upper[i("FL_thigh_joint")]) == (-0.686, 4.501)
    assert (go1.position_lower[i("RR_calf_joint")], go1.position_upper[i("RR_calf_joint")]) == (-2.818, -0.888)
    m = build_model(go1)
    assert m.body("FL_hip").pos == pytest.approx([0.1881, 0.04675, 0])
    assert m.body("RR_thigh").pos == pytest.approx([0, -0.08, 0])
    assert m.body("FR_foot").pos == pytest.approx([0, 0, -0.213])


def test_nao_is_a_position_humanoid(nao):
    assert nao.n == 24 and "LHand" not in nao.joint_names
    assert nao.joint_names[:8] == ("HeadYaw", "HeadPitch", "LShoulderPitch", "LShoulderRoll", "LElbowYaw",
                                   "LElbowRoll", "LWristYaw", "LHipYawPitch")
    assert nao.joint_names[-5:] == ("RShoulderPitch", "RShoulderRoll", "RElbowYaw", "RElbowRoll", "RWristYaw")
    assert nao.floating_base and nao.actuation == "position"
    assert nao.command_topic == "/position_controller/commands"
    assert nao.mimic == {"RHipYawPitch": ("LHipYawPitch", 1.0, 0.0)}
    assert not nao.joint_torque_sensing and nao.payload_body == "torso"
    assert nao.foot_contacts == ("l_ankle", "r_ankle") and nao.tasks == ("stand",)


def test_nao_figures(nao):
    assert robot_mass(nao) == pytest.approx(5.305, abs=0.001)       # N1's total
    i = nao.joint_names.index
    assert nao.effort_limit[i("LKneePitch")] == 3.023 and nao.effort_limit[i("RAnkleRoll")] == 3.348
    assert (nao.position_lower[i("LElbowRoll")], nao.position_upper[i("LElbowRoll")]) == (-1.54462, -0.0349066)
    assert (nao.position_lower[i("RElbowRoll")], nao.position_upper[i("RElbowRoll")]) == (0.0349066, 1.54462)
    m = build_model(nao)
    assert m.body("Neck").pos == pytest.approx([0, 0, 0.1265])
    assert m.body("RShoulder").pos == pytest.approx([0, -0.098, 0.1])
    assert m.body("LTibia").pos == pytest.approx([0, 0, -0.1])
    assert m.body("l_sole").pos == pytest.approx([0, 0, -0.04511])
    assert m.jnt_axis[m.joint("LHipYawPitch").id] == pytest.approx([0, 0.707107, -0.707107], abs=1e-5)


def test_nao_hip_yaw_pitch_is_one_motor(nao):
    """RHipYawPitch follows LHipYawPitch; a torque commanded to it does nothing."""
    sim = Simulator(nao)
    i, k = nao.joint_names.index("RHipYawPitch"), nao.joint_names.index("LHipYawPitch")
    tau = np.zeros(nao.n)
    tau[i] = 3.0
    for _ in range(20):
        sim.step(tau)
    q, _, eff = sim.joint_state()
    assert eff[i] == 0.0 and abs(q[i] - q[k]) < 1e-3
    tau[:] = 0.0
    tau[k] = 2.0
    sim.reset()
    for _ in range(20):
        sim.step(tau)
    q, _, _ = sim.joint_state()
    assert q[k] > 0.01 and abs(q[i] - q[k]) < 0.01 * abs(q[k]) + 1e-3
