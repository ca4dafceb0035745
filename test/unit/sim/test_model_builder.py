"""URDF -> MuJoCo: the profile's hidden dynamics land in the model; the camera sees the scene."""
import numpy as np
import pytest

from sim2real.sim.model_builder import PAYLOAD_BODY, build_model
from sim2real.sim.reality import SCHEMA, parse_profile
from sim2real.sim.simulator import Simulator


def test_dynamics_applied(jaco):
    nominal = build_model(jaco)
    prof = parse_profile({"schema": SCHEMA, "dynamics": {
        "payload": {"mass": 1.1, "offset": [0, 0, 0.1]}, "mass_scale": {"link_4": 2.0},
        "friction_scale": 2.5, "damping_scale": {"joint_2": 3.0}, "armature_scale": 1.5}})
    m = build_model(jaco, prof)
    assert m.body(PAYLOAD_BODY).mass[0] == pytest.approx(1.1)
    assert m.body("link_4").mass[0] == pytest.approx(2 * nominal.body("link_4").mass[0])
    j2 = m.joint("joint_2").dofadr[0]
    assert m.dof_damping[j2] == pytest.approx(3 * nominal.dof_damping[j2])
    np.testing.assert_allclose(m.dof_frictionloss[:7], 2.5 * nominal.dof_frictionloss[:7])
    np.testing.assert_allclose(m.dof_armature[:7], 1.5 * nominal.dof_armature[:7])


def test_payload_schedule_changes_mass(jaco):
    prof = parse_profile({"schema": SCHEMA, "dynamics": {"payload_schedule": [{"t": 0.01, "mass": 0.9}]}})
    sim = Simulator(jaco, prof)
    pid = sim.model.body(PAYLOAD_BODY).id
    assert sim.model.body_mass[pid] < 1e-3
    for _ in range(10):
        sim.step(np.zeros(jaco.n))
    assert sim.model.body_mass[pid] == pytest.approx(0.9)


def test_camera_renders_scene_and_visuals_change_it(jaco):
    from sim2real.sim.camera import Camera
    sim = Simulator(jaco)
    try:
        cam = Camera(sim.model, jaco.camera)
    except Exception as e:   # noqa: BLE001
        pytest.skip(f"no offscreen GL here: {e}")
    img = cam.render(sim.data)
    assert img.shape == (jaco.camera.height, jaco.camera.width, 3) and img.std() > 5
    dark = parse_profile({"schema": SCHEMA, "visuals": {"light": {"intensity": 0.1}, "color_shift": [0.2, 0, 0]}})
    sim2 = Simulator(jaco, dark)
    cam2 = Camera(sim2.model, jaco.camera, dark.section("visuals"))
    img2 = cam2.render(sim2.data)
    assert img2[..., 0].mean() - img2[..., 2].mean() > img[..., 0].mean() - img[..., 2].mean() + 20
    cam.close()
    cam2.close()


# ---- robots of three kinds: scene per task, floating base, sensors, ground friction ----------
def test_reach_scene_only_where_the_task_asks(jaco):
    from sim2real.robots import load_robot
    m = build_model(jaco)
    assert m.geom("table") is not None and m.body("target").mocapid[0] >= 0
    go1 = build_model(load_robot("go1"))
    names = {go1.geom(i).name for i in range(go1.ngeom)}
    assert "table" not in names and "target" not in names
    assert go1.jnt_type[0] == 0 and go1.joint(0).name == "base"      # free joint on the root
    assert Simulator(load_robot("go1")).target() is None


def test_ground_friction_scales_the_floor():
    from sim2real.robots import load_robot
    go1 = load_robot("go1")
    nominal = build_model(go1).geom("floor").friction[0]
    m = build_model(go1, parse_profile({"schema": SCHEMA, "dynamics": {"ground_friction": 0.4}}))
    assert m.geom("floor").friction[0] == pytest.approx(0.4 * nominal)
    assert m.geom("floor").priority[0] > 0          # the floor's friction decides its contacts


def test_payload_on_the_robots_payload_body():
    from sim2real.robots import load_robot
    go1 = load_robot("go1")
    m = build_model(go1, parse_profile({"schema": SCHEMA, "dynamics": {"payload": {"mass": 2.0, "offset": [0, 0, 0.08]}}}))
    b = m.body(PAYLOAD_BODY)
    assert m.body(b.parentid[0]).name == "trunk" and b.mass[0] == pytest.approx(2.0)
    assert b.pos == pytest.approx([0, 0, 0.08])


@pytest.mark.parametrize("name", ["go1", "nao"])
def test_floating_robot_rests_on_its_feet(name):
    """Reset puts the lowest geom on the floor; after settling on a damped hold, the feet carry the
    weight, the IMU reads +g up, and the base is still."""
    from sim2real.robots import load_robot, pd_torque
    robot = load_robot(name)
    sim = Simulator(robot)
    assert sim._lowest_point() == pytest.approx(0.001, abs=1e-6)
    for _ in range(int(1.0 * robot.control_rate_hz)):
        q, qd, _ = sim.joint_state()
        sim.step(pd_torque(robot, robot.home, q, qd))
    weight = sum(sim.model.body_mass) * 9.81
    assert sim.foot_forces().sum() == pytest.approx(weight, rel=0.02)
    assert np.all(sim.foot_contacts())
    quat, gyro, acc = sim.imu()
    assert acc[2] == pytest.approx(9.81, abs=0.2) and np.abs(gyro).max() < 0.05
    lin, ang = sim.base_velocity()
    assert np.abs(lin).max() < 0.01 and np.abs(ang).max() < 0.05
    pos, q_base = sim.base_pose()
    assert pos[2] > 0.2 and quat == pytest.approx(q_base, abs=0.05)


def test_physics_substeps(jaco):
    from sim2real.robots import load_robot
    nao = load_robot("nao")
    sim = Simulator(nao)
    assert sim.model.opt.timestep == pytest.approx(0.005) and nao.substeps == 2
    sim.step(np.zeros(nao.n))
    assert sim.time == pytest.approx(nao.dt)
    assert build_model(jaco).opt.timestep == pytest.approx(jaco.dt)
