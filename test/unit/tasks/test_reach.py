"""The reach task's settings now live in config/tasks/reach.yaml: the Jaco's numbers are kept."""
import numpy as np

from sim2real.tasks.reach import ReachTask


def test_jaco_reach_settings(jaco):
    t = ReachTask.from_robot(jaco)
    np.testing.assert_allclose(t.low, [0.30, -0.35, 0.10])
    np.testing.assert_allclose(t.high, [0.60, 0.35, 0.45])
    assert (t.hold_s, t.tol_m) == (4.0, 0.02)
    assert jaco.tasks == ("reach",) and jaco.task["workspace"]["low"] == [0.30, -0.35, 0.10]
    assert jaco.scene["table"]["pos"] == [0.45, 0.0, -0.02] and jaco.scene["floor"]["height"] == -0.75
