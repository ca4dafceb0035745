"""Perception's geometry (perception/geometry.py), render-free where it can be: the camera model
agrees with the renderer's, the target follows exactly from its pixel and its stand's foot pixel,
the camera's pose is found again from the arm's landmarks against forward kinematics (noise and
gross outliers in the pixels), and the target tracker holds still through outliers and follows
a moved target."""
import itertools

import mujoco
import numpy as np
import pytest

from sim2real.perception.geometry import (FOOT, TARGET, TABLE_CORNERS, Camera, known_point_names, Landmarks, OnlineCalibration, TargetTracker,
                                          _rotvec_to_R, calibrate, locate, look_at, nominal_camera, table_height)
from sim2real.tasks.reach import ReachTask


@pytest.fixture(scope="module")
def task(jaco):
    return ReachTask.from_robot(jaco)


@pytest.fixture(scope="module")
def cam0(jaco):
    return nominal_camera(jaco)


@pytest.fixture(scope="module")
def landmarks(jaco):
    return Landmarks(jaco)


def _workspace_points(task, n, seed=0):
    corners = np.array(list(itertools.product(*zip(task.low, task.high))))
    return np.concatenate([corners, np.random.default_rng(seed).uniform(task.low, task.high, (n, 3))])


def _feet(points, table_z):
    f = np.array(points, float)
    f[:, 2] = table_z
    return f


def _inside(uv, cam):
    return (uv[:, 0] >= 0) & (uv[:, 0] < cam.width) & (uv[:, 1] >= 0) & (uv[:, 1] < cam.height)


def _angle_deg(Ra, Rb):
    return float(np.degrees(np.arccos(np.clip((np.trace(Ra.T @ Rb) - 1) / 2, -1, 1))))


def _random_q(robot, landmarks, n, rng, spread=0.9):
    """n joint configurations around home, within the model's joint limits."""
    m = landmarks.m
    jids = [mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_JOINT, nm) for nm in robot.joint_names]
    limited = m.jnt_limited[jids].astype(bool)
    lo = np.where(limited, m.jnt_range[jids, 0], -np.inf)
    hi = np.where(limited, m.jnt_range[jids, 1], np.inf)
    return np.clip(np.asarray(robot.home, float) + rng.uniform(-spread, spread, (n, robot.n)), lo, hi)


# ---- (a) the camera model ---------------------------------------------------------------------
def test_project_and_rays_round_trip(jaco, task, cam0):
    pts = _workspace_points(task, 50)
    uv = cam0.project(pts)
    assert uv.shape == (len(pts), 2) and np.all(_inside(uv, cam0))          # the workspace is in view
    d = cam0.rays(uv)
    assert np.allclose(np.linalg.norm(d, axis=1), 1.0)
    v = pts - cam0.pos
    assert np.allclose(d, v / np.linalg.norm(v, axis=1, keepdims=True), atol=1e-9)   # through the points
    assert np.allclose(cam0.project(cam0.pos + 0.7 * d), uv, atol=1e-9)      # and back onto the pixels
    # the principal ray is the image centre; +x camera (right) is +u, +y camera (up) is -v
    c = cam0.project(cam0.pos - cam0.R[:, 2])[0]
    assert np.allclose(c, [jaco.camera.width / 2, jaco.camera.height / 2])
    r = cam0.project(cam0.pos - cam0.R[:, 2] + 0.1 * cam0.R[:, 0])[0]
    u = cam0.project(cam0.pos - cam0.R[:, 2] + 0.1 * cam0.R[:, 1])[0]
    assert r[0] > c[0] and np.isclose(r[1], c[1]) and u[1] < c[1] and np.isclose(u[0], c[0])
    # f from fovy: the top edge of the image is fovy/2 above the axis
    top = cam0.pos - cam0.R[:, 2] + np.tan(np.radians(jaco.camera.fovy_deg) / 2) * cam0.R[:, 1]
    assert np.isclose(cam0.project(top)[0, 1], 0.0, atol=1e-9)
    # the array form is the renderer's label, and comes back whole
    a = cam0.as_array()
    assert a.shape == (13,)
    back = Camera.from_array(a, cam0.width, cam0.height)
    assert np.allclose(back.project(pts), uv)


def test_nominal_camera_is_the_configured_mount(jaco, cam0):
    cam = jaco.camera
    assert (cam0.width, cam0.height) == (cam.width, cam.height) and cam0.fovy_deg == pytest.approx(cam.fovy_deg)
    assert np.allclose(cam0.pos, cam.pos)
    assert np.allclose(cam0.R.T @ cam0.R, np.eye(3), atol=1e-9) and np.linalg.det(cam0.R) == pytest.approx(1.0)
    assert np.allclose(cam0.project(cam.lookat)[0], [cam.width / 2, cam.height / 2], atol=1e-6)   # looks at lookat
    la = look_at(cam.pos, cam.lookat, cam.fovy_deg, cam.width, cam.height)
    assert np.allclose(la.R, cam0.R, atol=1e-6)


def test_nominal_camera_is_the_renderers(jaco, task, cam0, nominal_samples):
    """A nominal render's camera label is the nominal mount, and render.project through it is
    Camera.project."""
    from sim2real.perception.render import project
    pts = _workspace_points(task, 20)
    for s in nominal_samples:
        c = Camera.from_array(s.camera, jaco.camera.width, jaco.camera.height)
        assert np.allclose(c.pos, cam0.pos, atol=1e-6) and np.allclose(c.R, cam0.R, atol=1e-6)
        assert c.fovy_deg == pytest.approx(cam0.fovy_deg)
        assert np.allclose(project(s.camera, pts, jaco.camera.width, jaco.camera.height), cam0.project(pts), atol=1e-3)


# ---- (b) locate -------------------------------------------------------------------------------
def test_locate_recovers_targets_exactly(task, cam0):
    tz = table_height(task)
    assert tz == pytest.approx(float(task.scene["table"]["pos"][2]) + float(task.scene["table"]["size"][2]) / 2)
    pts = _workspace_points(task, 60)
    got = locate(cam0, cam0.project(pts), cam0.project(_feet(pts, tz)), tz)
    assert got.shape == pts.shape and np.allclose(got, pts, atol=1e-9)
    # through another camera too (a calibrated one is another camera)
    other = look_at([0.9, 0.8, 1.1], [0.45, 0.0, 0.2], 50.0, 160, 120)
    got = locate(other, other.project(pts), other.project(_feet(pts, tz)), tz)
    assert np.allclose(got, pts, atol=1e-9)
    # the foot fixes (x, y): the target's pixel alone, on the wrong foot, gives the wrong place
    wrong = locate(cam0, cam0.project(pts), cam0.project(_feet(pts + [0.05, 0, 0], tz)), tz)
    assert np.all(np.abs(wrong[:, 0] - pts[:, 0] - 0.05) < 1e-9)


def test_locate_with_half_a_pixel_of_noise_stays_within_a_centimetre_or_so(task, cam0):
    tz = table_height(task)
    rng = np.random.default_rng(3)
    pts = rng.uniform(task.low, task.high, (400, 3))
    ut = cam0.project(pts) + rng.normal(0, 0.5, (len(pts), 2))
    uf = cam0.project(_feet(pts, tz)) + rng.normal(0, 0.5, (len(pts), 2))
    e = np.linalg.norm(locate(cam0, ut, uf, tz) - pts, axis=1) * 100
    assert np.median(e) < 1.5 and np.percentile(e, 90) < 3.0, (np.median(e), np.percentile(e, 90))
    # a pixel of error in the foot alone moves the target by about a pixel's footprint, not more
    e1 = np.linalg.norm(locate(cam0, cam0.project(pts), cam0.project(_feet(pts, tz)) + [1.0, 0.0], tz) - pts, axis=1)
    assert 0.002 < np.median(e1) < 0.03


# ---- (c) calibration --------------------------------------------------------------------------
def _offset_camera(cam0, dpos, rotvec_deg, dfovy):
    return Camera(cam0.pos + np.asarray(dpos, float), cam0.R @ _rotvec_to_R(np.radians(rotvec_deg)),
                  cam0.fovy_deg + dfovy, cam0.width, cam0.height)


@pytest.fixture(scope="module")
def knocked(jaco, cam0, landmarks):
    """A camera knocked off its mount (4.4 cm, 2 deg, +2 deg fovy) and the landmarks it sees over
    many arm poses: 0.5 px noise, a few gross outliers (a hand-eye calibration's observations)."""
    rng = np.random.default_rng(0)
    true = _offset_camera(cam0, [0.03, -0.02, 0.025], 2.0 * np.array([1.0, -1.0, 1.0]) / np.sqrt(3), 2.0)
    # 100 poses: with 40, 0.5 px of noise leaves the camera's depth along its axis and its fovy
    # trading against each other (a dolly zoom) by up to ~2.5 cm; the target's error stays small either way
    q = _random_q(jaco, landmarks, 100, rng)
    xyz = landmarks(q)
    assert xyz.shape == (100, len(known_point_names(jaco)), 3)
    xyz = xyz.reshape(-1, 3)
    uv = true.project(xyz)
    keep = _inside(uv, true)
    assert keep.mean() > 0.8
    xyz, uv = xyz[keep], uv[keep] + rng.normal(0, 0.5, (int(keep.sum()), 2))
    bad = rng.choice(len(uv), 8, replace=False)
    uv[bad] += rng.uniform(15, 40, (8, 2)) * true.px_scale * rng.choice([-1, 1], (8, 2))   # 15-40 px at 128 px
    return true, uv, xyz, bad


def test_calibrate_finds_a_knocked_camera_from_the_arm(task, cam0, knocked):
    true, uv, xyz, bad = knocked
    cam, rep = calibrate(cam0, uv, xyz)
    assert np.linalg.norm(cam.pos - true.pos) < 0.012, cam.pos - true.pos
    assert _angle_deg(cam.R, true.R) < 0.5 and abs(cam.fovy_deg - true.fovy_deg) < 0.7
    assert (cam.width, cam.height) == (cam0.width, cam0.height)
    assert rep["points"] == len(uv) and rep["median_px"] < 1.0 and rep["rms_px"] > rep["median_px"]   # the outliers
    assert rep["moved_m"] == pytest.approx(np.linalg.norm(cam.pos - cam0.pos), abs=1e-9) and 3.0 < rep["moved_m"] * 100 < 6.0
    assert 1.0 < rep["turned_deg"] < 3.0
    # the target through it: the knocked camera's pixels, located through the calibrated camera
    tz = table_height(task)
    pts = _workspace_points(task, 100, seed=1)
    ut, uf = true.project(pts), true.project(_feet(pts, tz))
    e_cal = np.linalg.norm(locate(cam, ut, uf, tz) - pts, axis=1) * 100
    e_nom = np.linalg.norm(locate(cam0, ut, uf, tz) - pts, axis=1) * 100
    assert np.median(e_nom) > 3.0                                   # uncalibrated: centimetres off
    assert np.max(e_cal) < 1.0 and np.median(e_cal) < 0.5, (np.median(e_cal), np.max(e_cal))
    # the outliers do not drag it: without them it locates the same targets; a plain least-squares
    # fit (the soft-L1 scale far above the outliers) is dragged centimetres off by them
    clean = np.setdiff1d(np.arange(len(uv)), bad)
    cam_clean, _ = calibrate(cam0, uv[clean], xyz[clean])
    assert np.max(np.linalg.norm(locate(cam_clean, ut, uf, tz) - locate(cam, ut, uf, tz), axis=1)) < 0.003
    plain, _ = calibrate(cam0, uv, xyz, loss_px=1e4)
    assert np.linalg.norm(plain.pos - true.pos) > 0.03


def test_calibrate_weights_and_empty_input(cam0, knocked):
    true, uv, xyz, bad = knocked
    w = np.ones(len(uv))
    w[bad] = 0.0                                                    # the outliers weighed out
    cam, rep = calibrate(cam0, uv, xyz, w)
    assert np.linalg.norm(cam.pos - true.pos) < 0.012
    same, rep = calibrate(cam0, np.zeros((0, 2)), np.zeros((0, 3)))
    assert same is cam0 and rep["points"] == 0


def test_online_calibration_filters_and_keeps_the_newest(jaco, cam0, knocked):
    true, uv, xyz, bad = knocked
    L = len(jaco.camera.landmarks)
    cal = OnlineCalibration(cam0, max_spread_px=3.0, keep=10 ** 6)
    clean = np.setdiff1d(np.arange(len(uv)), bad)
    n_added = 0
    for i in range(0, len(clean) - L + 1, L):
        sl = clean[i:i + L]
        spread = np.full(L, 1.0)
        spread[0] = 9.0                                              # unsure: dropped
        n_added += cal.add(uv[sl], spread, xyz[sl])
    assert n_added == len(cal.uv) == (len(clean) // L) * (L - 1) and cal.added_since_fit == n_added
    assert cal.add(np.full((L, 2), np.nan), np.ones(L), xyz[:L]) == 0      # non-finite: dropped
    cam = cal.fit()
    assert cal.camera is cam and cal.added_since_fit == 0 and cal.report["points"] == n_added
    assert np.linalg.norm(cam.pos - true.pos) < 0.015
    short = OnlineCalibration(cam0, keep=10)
    short.add(uv[:8], np.ones(8), xyz[:8])
    short.add(uv[8:16], np.ones(8), xyz[8:16])
    assert len(short.uv) == 10 and np.array_equal(short.uv[-1], uv[15]) and np.array_equal(short.xyz[0], xyz[6])


# ---- (d) the target tracker -------------------------------------------------------------------
def test_tracker_is_the_median_and_ignores_an_outlier():
    rng = np.random.default_rng(0)
    p = np.array([0.45, 0.1, 0.25])
    tr = TargetTracker()
    meas = p + rng.normal(0, 0.004, (9, 3))
    for m in meas:
        est = tr.update(m)
    assert np.allclose(est, np.median(meas, 0)) and np.linalg.norm(est - p) < 0.005
    est = tr.update(p + [0.2, 0.0, 0.0])                           # one hand in front of it
    assert np.allclose(est, np.median(meas, 0))
    est = tr.update(p + [0.0, -0.15, 0.0])                         # two, disagreeing with each other
    est = tr.update(p + [0.2, 0.0, 0.0])
    assert np.allclose(est, np.median(meas, 0))
    est = tr.update(p + [0.001, 0, 0])                             # back on it: still it
    assert np.linalg.norm(est - p) < 0.005 and not tr.pending


def test_tracker_follows_a_moved_target_after_three_agreeing_measurements():
    p, q = np.array([0.45, 0.1, 0.25]), np.array([0.35, -0.2, 0.15])
    tr = TargetTracker()
    for _ in range(5):
        tr.update(p)
    assert np.allclose(tr.update(q), p)
    assert np.allclose(tr.update(q + [0.002, 0, 0]), p)             # two: not yet
    est = tr.update(q - [0.002, 0, 0])                              # three in a row: it moved
    assert np.linalg.norm(est - q) < 0.003
    assert np.linalg.norm(tr.update(p) - q) < 0.003                 # and one of the old place is now the outlier
    first = TargetTracker().update(q)                               # the first measurement is the estimate
    assert np.array_equal(first, q)


# ---- (e) the renderer's keypoints are the geometry's ------------------------------------------
@pytest.fixture(scope="module")
def nominal_samples(jaco):
    from sim2real.perception.render import SceneRenderer
    r = SceneRenderer(jaco, "nominal")
    try:
        rng = np.random.default_rng(7)
        return [r.sample(rng) for _ in range(6)]
    finally:
        r.close()


def test_renderer_keypoints_are_the_geometry(jaco, task, landmarks, nominal_samples):
    w, h = jaco.camera.width, jaco.camera.height
    tz = table_height(task)
    for s in nominal_samples:
        assert s.keypoints.shape == (2 + len(known_point_names(jaco)), 2) and s.camera.shape == (13,)
        cam = Camera.from_array(s.camera, w, h)
        assert np.allclose(s.uv, s.keypoints[TARGET]) and np.allclose(cam.project(s.target)[0], s.keypoints[TARGET], atol=1e-3)
        foot = [s.target[0], s.target[1], tz]
        assert np.allclose(cam.project(foot)[0], s.keypoints[FOOT], atol=1e-3)
        assert np.allclose(cam.project(landmarks(s.q)), s.keypoints[2:], atol=1e-3)    # base at the origin
        # and the geometry inverts them: the target from its two keypoints
        assert np.allclose(locate(cam, s.keypoints[None, TARGET], s.keypoints[None, FOOT], tz)[0], s.target, atol=1e-4)


def test_near_arm_only_where_the_arm_is_in_front(jaco, cam0):
    """A pixel on the arm's projected chain counts as hidden only when that part of the arm is
    nearer the camera than the point: a target in front of the arm stays visible."""
    from sim2real.perception.geometry import near_arm
    arm = np.array([[0.0, 0.0, 0.0], [0.0, 0.0, 0.3], [0.4, 0.0, 0.3]])
    mid = arm[1] + 0.5 * (arm[2] - arm[1])
    uv = cam0.project(mid)[0]
    d = float(np.linalg.norm(mid - cam0.pos))
    assert near_arm(cam0, arm, uv, d + 0.3)                 # behind the arm: hidden
    assert not near_arm(cam0, arm, uv, d - 0.3)             # in front of it: seen
    assert not near_arm(cam0, arm, uv + 30.0 * cam0.px_scale, d + 0.3)   # elsewhere in the image (30 px at 128)
    # the margin is in pixels of a 128 px camera: the same view at twice the pixels, twice the margin
    from dataclasses import replace
    big = replace(cam0, width=2 * cam0.width, height=2 * cam0.height)
    off = np.array([0.0, 7.0]) * cam0.px_scale
    assert near_arm(cam0, arm, uv + off, d + 0.3) and near_arm(big, arm, 2 * (uv + off), d + 0.3)


def test_hidden_measurements_do_not_join_the_estimate_but_can_switch_it():
    tr = TargetTracker()
    base = np.array([0.45, 0.0, 0.3])
    for _ in range(5):
        tr.update(base)
    assert np.allclose(tr.update(base + [0.03, 0, 0], hidden=True), base)      # near: left out
    assert len(tr.recent) == 5
    new = base + [0.0, 0.2, 0.0]
    for _ in range(3):
        est = tr.update(new, hidden=True)                                        # far, three times: the target moved
    assert np.allclose(est, new)


def test_a_hand_over_the_ball_does_not_pull_the_height_down():
    """Same (x, y), the height read lower (the target keypoint slid down the rod under the hand):
    behind the hand it never counts; seen in the open three times in a row, it re-forms the height."""
    tr = TargetTracker()
    base = np.array([0.45, 0.1, 0.3])
    for _ in range(5):
        tr.update(base)
    low = base - [0.0, 0.0, 0.12]
    for _ in range(6):
        assert np.allclose(tr.update(low, hidden=True), base)
    assert np.allclose(tr.update(low), base) and np.allclose(tr.update(low), base)
    assert np.allclose(tr.update(low), low)                     # the third in the open: it was the height


def test_a_low_reading_with_the_arm_about_never_lowers_the_height_but_a_higher_one_may():
    """A covered ball reads low (its keypoint slides down the rod), never high: a lower height at
    the same (x, y) re-forms only from frames with the whole arm clear; a higher one from any
    frame in the open (the first estimate was taken with the ball covered)."""
    base = np.array([0.45, 0.1, 0.3])
    tr = TargetTracker()
    for _ in range(5):
        tr.update(base)
    low = base - [0.0, 0.0, 0.12]
    for _ in range(10):
        assert np.allclose(tr.update(low, arm_near=True), base)
    tr = TargetTracker()
    for _ in range(5):
        tr.update(low)
    for _ in range(2):
        tr.update(base, arm_near=True)
    assert np.allclose(tr.update(base, arm_near=True), base)


def test_an_estimate_formed_behind_the_hand_is_corrected_by_what_follows():
    """A new target first seen behind the hand (its foot misread) is provisional: later frames,
    hidden or not, that agree with each other move it; the first in the open replaces the rest."""
    tr = TargetTracker()
    old, new = np.array([0.39, -0.06, 0.12]), np.array([0.34, 0.12, 0.33])
    for _ in range(5):
        tr.update(old)
    misread = new + [0.0, -0.03, 0.02]
    for _ in range(3):
        tr.update(misread, hidden=True)
    assert tr.provisional and np.allclose(tr.estimate, misread)
    for _ in range(9):
        tr.update(new, hidden=True)                  # still behind the hand: they join (majority wins)
    assert np.linalg.norm(tr.estimate - new) < 1e-9
    tr.update(new + [0.005, 0, 0])                   # in the open
    assert not tr.provisional and np.allclose(tr.estimate, new + [0.005, 0, 0])
    assert np.allclose(tr.update(new - [0.0, 0.0, 0.035], hidden=True), new + [0.005, 0, 0])   # ignored again
