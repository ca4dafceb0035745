import numpy as np

from sim2real.control.nominal_model import NominalModel
from sim2real.teleop.joy import JoyMapping
from sim2real.teleop.keyboard import KeyboardJog


def test_joint_jog_and_actions(jaco):
    jog = KeyboardJog(7, 0.05, 0.01)
    q = np.zeros(7)
    q, _ = jog.apply("3", q)
    q, _ = jog.apply("w", q)
    q, _ = jog.apply("w", q)
    np.testing.assert_allclose(q, [0, 0, 0.1, 0, 0, 0, 0])
    assert jog.apply(" ", q)[1] == "lock" and jog.apply("r", q)[1] == "unlock"


def test_cartesian_jog_moves_end_effector_along_axis(jaco):
    m = NominalModel(jaco)
    jog = KeyboardJog(7, 0.05, 0.01)
    jog.apply("c", jaco.home)
    q1, _ = jog.apply("u", jaco.home, m.ee_jacobian)     # +z by 1 cm
    d = m.ee_position(q1) - m.ee_position(jaco.home)
    np.testing.assert_allclose(d, [0, 0, 0.01], atol=1e-3)


def test_joy_deadman_and_deadzone():
    j = JoyMapping({"deadman_button": 4, "axes": {"x": 1, "y": 0, "z": 4}, "scale_m_s": 0.1})
    assert j.velocity([0.0, 1.0, 0, 0, 0.5], [0, 0, 0, 0, 0]) is None
    np.testing.assert_allclose(j.velocity([0.05, 1.0, 0, 0, -0.5], [0, 0, 0, 0, 1]), [0.1, 0.0, -0.05])
