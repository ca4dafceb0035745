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
