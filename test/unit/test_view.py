"""The web viewer's core without a browser: geometry, forward kinematics, plot sampling, options."""
import argparse
import subprocess
import sys

import mujoco
import numpy as np
import pytest

from sim2real.robots import load_robot
from sim2real.view.scene import RobotPoser, geom_mesh, urdf_link_colors


@pytest.mark.parametrize("name", ["jaco", "go1", "nao"])
def test_every_robot_geom_is_drawn_and_follows_its_joints(name):
    robot = load_robot(name)
    poser = RobotPoser(robot)
    moving = [g for g in poser.geoms if g.moving]
    assert moving and all(geom_mesh(poser.model, g.index) is not None for g in poser.geoms)
    pos0, quat0 = poser.geom_poses()
    assert np.allclose(np.linalg.norm(quat0, axis=1), 1.0)
    q = dict(zip(robot.joint_names, robot.home))
    q[robot.joint_names[1]] += 0.5
    poser.set_positions(q)
    pos1, _ = poser.geom_poses()
    assert np.abs(pos1 - pos0).max() > 0.01           # a joint moved: some geom moved
    if robot.floating_base:                            # stands on the floor whatever the joints
        lo, _ = poser.bounds()
        assert abs(lo[2] - poser.floor_z) < 0.01


def test_floating_base_takes_the_imu_orientation():
    poser = RobotPoser(load_robot("go1"))
    quat = np.array([np.cos(0.25), 0.0, 0.0, np.sin(0.25)])    # 0.5 rad yaw
    poser.set_positions({}, base_wxyz=quat)
    base = poser.model.body(poser.robot.base_link).id
    assert np.allclose(poser.data.xquat[base], quat, atol=1e-9)
    poser.set_positions({}, base_wxyz=[np.nan, 0, 0, 0])        # a bad IMU message: upright, no crash
    assert np.allclose(poser.data.xquat[base], [1, 0, 0, 0])


def test_desired_end_effector_leaves_the_drawn_pose_alone(jaco):
    poser = RobotPoser(jaco)
    ee = poser.ee_position()
    other = poser.ee_position_at(dict(zip(jaco.joint_names, np.zeros(jaco.n))))
    assert np.linalg.norm(other - ee) > 0.1 and np.allclose(poser.ee_position(), ee)
    assert other[2] > 1.0          # q = 0 is the candle: the hand straight up


def test_urdf_colours_and_unknown_names(jaco):
    colors = urdf_link_colors(jaco.urdf_path)
    assert colors["link_1"] != colors["link_2"]        # carbon and ring alternate
    poser = RobotPoser(jaco)
    poser.set_positions({"no_such_joint": 1.0, "joint_1": float("nan")})   # ignored
    assert np.all(np.isfinite(poser.geom_poses()[0]))


def test_mesh_geom_vertices_come_from_the_model():
    spec = mujoco.MjSpec()
    spec.add_mesh(name="tetra", uservert=[0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1])
    spec.worldbody.add_geom(type=mujoco.mjtGeom.mjGEOM_MESH, meshname="tetra")
    m = spec.compile()
    v, f = geom_mesh(m, 0)
    assert v.shape == (4, 3) and f.shape[1] == 3 and f.max() < 4


def test_app_samples_error_and_torque_at_50_hz(jaco):
    from sim2real.view.app import ViewerApp
    app = ViewerApp(jaco, port=0)
    try:
        assert app.url.startswith("http://127.0.0.1:") and app.port > 0
        names = list(jaco.joint_names)
        app.joint_state(0.0, names, jaco.home, np.ones(jaco.n))            # no desired yet: NaN error
        app.desired(names[::-1], (jaco.home + 0.1)[::-1], "/controller/desired")   # any order, by name
        for k in range(1, 501):                                            # 1 s at 500 Hz
            app.joint_state(k * 0.002, names + ["finger_joint_1"], [*jaco.home, 0.3], [*np.arange(jaco.n), 0.0])
        t, *err = app._err.series()
        _, *eff = app._eff.series()
        assert len(t) == 51 and np.all(np.isnan(np.array(err)[:, 0]))
        assert np.allclose(np.array(err)[:, 1:], 0.1) and np.allclose(np.array(eff)[:, -1], np.arange(jaco.n))
        app.joint_state(0.2, names, jaco.home)                              # the clock went back: a new run
        assert app._err.series()[0].tolist() == [0.0]      # seconds from the first sample of the new run
        app.target("sim", [0.4, 0.0, 0.3])
        app.target("perceived", [np.nan, 0, 0])                             # refused
        app.target("elsewhere", [0, 0, 0])                                  # refused
        app.image(np.zeros((96, 96, 3), np.uint8))
        app.active("keyboard")
        app.render()
        assert app._target_h["sim"].visible and not app._target_h["perceived"].visible
        assert "keyboard" in app._status_text() and "/controller/desired" in app._status_text()
    finally:
        app.close()


def test_view_options():
    from sim2real.view import cli as view_cli
    ap = argparse.ArgumentParser(prog="sim2real")
    sub = ap.add_subparsers(dest="cmd", required=True)
    view_cli.add_parser(sub)
    a = ap.parse_args(["view", "--robot", "nao", "--port", "9000", "--host", "0.0.0.0", "--duration", "3"])
    assert (a.robot, a.port, a.host, a.duration, a.func) == ("nao", 9000, "0.0.0.0", 3.0, view_cli.run)
    a = ap.parse_args(["view"])
    assert (a.robot, a.port, a.host, a.duration) == ("jaco", 8080, "127.0.0.1", None)
    for bad in (["--duration", "0"], ["--port", "70000"], ["--port", "http"]):
        with pytest.raises(SystemExit):
            ap.parse_args(["view", *bad])


def test_unknown_robot_is_one_line():
    r = subprocess.run([sys.executable, "-m", "sim2real.view", "--robot", "r2d2", "--duration", "1"],
                       capture_output=True, text=True, timeout=120)
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert r.returncode == 2 and len(lines) == 1 and "unknown robot 'r2d2'" in lines[0]


def test_image_messages_to_rgb():
    pytest.importorskip("sensor_msgs")
    from sensor_msgs.msg import Image

    from sim2real.ros.nodes.viewer import image_array
    rgb = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    rows = np.pad(rgb[:, :, ::-1].reshape(2, 9), ((0, 0), (0, 3)))     # BGR, rows padded to 12 bytes
    msg = Image(height=2, width=3, encoding="bgr8", step=12, data=rows.tobytes())
    assert np.array_equal(image_array(msg), rgb)
    mono = Image(height=1, width=2, encoding="mono8", step=2, data=bytes([5, 9]))
    assert image_array(mono).tolist() == [[[5, 5, 5], [9, 9, 9]]]
    assert image_array(Image(height=1, width=1, encoding="32FC1", step=4, data=bytes(4))) is None
    assert image_array(Image(height=4, width=4, encoding="rgb8", step=12, data=bytes(10))) is None
