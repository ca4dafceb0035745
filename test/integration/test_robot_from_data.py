"""Adding a robot touches no Python file (issue 13): a robot registered from a directory of data
only (SIM2REAL_ROBOT_PATH: robots/<name>.yaml + urdf/) comes up in the whole graph."""
import numpy as np
import pytest

from sim2real.graph import build_graph
from sim2real.ros.compose import Composition

from ..unit.robots.test_registry import robot_dir  # noqa: F401 - the fixture: the pendulum as data
from .helpers import _domains

pytestmark = pytest.mark.ros


def test_robot_from_a_data_directory_comes_up(robot_dir):   # noqa: F811
    decls = build_graph("pendulum", "mujoco", camera=False, targets=1)   # teleop: the default config
    with Composition(decls, domain_id=next(_domains) % 232) as g:
        d = g.nodes["driver"]
        while d.sim.time < 2.0:
            g.executor.spin_once(timeout_sec=0.05)
        q, qd, _ = d.sim.joint_state()
        assert d.steps >= 399 and d.timeouts <= 2 and d.commands >= 390      # 200 Hz, every state answered
        assert g.nodes["safety_filter"].mode == "pass" and np.all(np.isfinite(q))
        assert -3.0 <= q[0] <= 3.0 and abs(qd[0]) < 10.0
