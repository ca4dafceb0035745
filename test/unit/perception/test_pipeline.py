"""The perception node's per-frame logic (perception/pipeline.py) with a scripted keypoint source
in place of the CNN (the real geometry, calibration and tracker): a measurement whose target pixel
stays where the estimate projects while its foot's moves behind the arm is a misread foot, not a
moved target; the same move with the target's pixel moved too switches the estimate."""
import numpy as np
import pytest

from sim2real.perception.geometry import FOOT, KNOWN, TARGET, Landmarks, nominal_camera, table_height
from sim2real.perception.pipeline import TargetPipeline
from sim2real.tasks.reach import ReachTask


class ScriptedLocalizer:
    """Localizer's interface; keypoints() returns what the test queued, the rest is the real geometry."""

    def __init__(self, robot):
        from sim2real.perception.net import Localizer
        self.camera0 = self.camera = nominal_camera(robot)
        self.table_z = table_height(ReachTask.from_robot(robot))
        self.tol_m = 0.02
        self.sigma_per_spread = 1.0
        self.queue = []
        self.locate = Localizer.locate.__get__(self)

    def keypoints(self, img):
        kp = self.queue.pop(0)
        return kp[None], np.full((1, len(kp)), 0.5)


@pytest.fixture()
def setup(jaco):
    loc = ScriptedLocalizer(jaco)
    pipe = TargetPipeline(loc, jaco)
    lm = Landmarks(jaco)
    return loc, pipe, lm


def _kp(loc, lm, q, target, foot_uv=None):
    cam, known = loc.camera, lm(q)
    foot = np.array([*target[:2], loc.table_z])
    kp = cam.project(np.concatenate([[target, foot], known]))
    if foot_uv is not None:
        kp[FOOT] = foot_uv
    return kp


def _arm_over(jaco, lm, loc, point):
    """A joint position whose hand lies on the camera's line of sight to `point`, between the two."""
    from scipy.optimize import minimize
    cam = loc.camera
    goal = cam.pos + 0.75 * (point - cam.pos)

    def cost(q):
        return float(np.sum((lm(q)[-1] - goal) ** 2))
    q = minimize(cost, jaco.home, method="Nelder-Mead", options={"maxiter": 3000, "xatol": 1e-4, "fatol": 1e-8}).x
    assert np.linalg.norm(lm(q)[-1] - goal) < 0.03
    return q


def test_a_foot_misread_behind_the_arm_does_not_move_the_target(jaco, setup):
    loc, pipe, lm = setup
    target = np.array([0.40, 0.15, 0.35])
    q_away = jaco.home
    for _ in range(4):
        loc.queue.append(_kp(loc, lm, q_away, target))
        r = pipe.frame(np.zeros((8, 8, 3), np.uint8), q_away)
    assert np.linalg.norm(r.target - target) < 0.005
    q_over = _arm_over(jaco, lm, loc, np.array([*target[:2], loc.table_z]))
    foot_uv = loc.camera.project(np.array([[*target[:2], loc.table_z]]))[0] + [0.0, 6.0]   # 6 px lower: nearer
    for _ in range(6):
        loc.queue.append(_kp(loc, lm, q_over, target, foot_uv))
        r = pipe.frame(np.zeros((8, 8, 3), np.uint8), q_over)
        assert r.arm_near and r.foot_misread
        assert np.linalg.norm(r.measured[:2] - target[:2]) > 0.04          # the measurement did move
        assert np.linalg.norm(r.target - target) < 0.005                   # the estimate did not


def test_a_target_that_moved_behind_the_arm_is_still_taken(jaco, setup):
    loc, pipe, lm = setup
    target, new = np.array([0.40, 0.15, 0.35]), np.array([0.50, -0.20, 0.25])
    for _ in range(4):
        loc.queue.append(_kp(loc, lm, jaco.home, target))
        pipe.frame(np.zeros((8, 8, 3), np.uint8), jaco.home)
    q_over = _arm_over(jaco, lm, loc, new)
    for _ in range(3):
        loc.queue.append(_kp(loc, lm, q_over, new))
        r = pipe.frame(np.zeros((8, 8, 3), np.uint8), q_over)
    assert r.hidden and not r.foot_misread
    assert np.linalg.norm(r.target - new) < 0.005
