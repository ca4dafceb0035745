"""URDF + robot config (+ optional reality profile) -> MuJoCo model, through MjSpec.

One URDF serves MuJoCo, RViz and Gazebo. What the URDF cannot hold comes from the robot config:
actuators (torque motors on the arm joints, position servos on the gripper), armature, the scene
(floor, table, target, light) and the camera. A reality profile's hidden dynamics (payload, mass,
inertia, friction, damping, armature) and visuals (light, materials, camera pose) are applied
here, on the model; its time-domain effects (latency, lag, noise, drops) live in twin_effects.
"""
from __future__ import annotations

import math

import mujoco
import numpy as np

from sim2real.errors import ConfigError
from sim2real.robots.spec import RobotSpec
from sim2real.sim.reality import NOMINAL, RealityProfile, per_joint

TARGET_BODY = "target"
PAYLOAD_BODY = "payload"
ROBOT_GROUP = 1  # contype bit for robot geoms: they hit the world, not each other


def _rgba(rgb, a=1.0):
    return [float(rgb[0]), float(rgb[1]), float(rgb[2]), a]


def _quat_from_rpy_deg(rpy):
    q = np.zeros(4)
    mujoco.mju_euler2Quat(q, np.radians(rpy), "xyz")
    return q


def _look_at_quat(pos, lookat):
    """Quaternion of a MuJoCo camera (looks along -z, y up) at pos looking at lookat."""
    fwd = np.asarray(lookat, float) - np.asarray(pos, float)
    fwd /= np.linalg.norm(fwd)
    right = np.cross(fwd, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    up = np.cross(right, fwd)
    mat = np.column_stack([right, up, -fwd]).reshape(-1)
    q = np.zeros(4)
    mujoco.mju_mat2Quat(q, mat)
    return q


def build_spec(robot: RobotSpec, reality: RealityProfile = NOMINAL) -> mujoco.MjSpec:
    try:
        spec = mujoco.MjSpec.from_file(str(robot.urdf_path))
    except Exception as e:  # noqa: BLE001 - MuJoCo raises plain ValueError with its parser message
        raise ConfigError(f"{robot.urdf_path}: MuJoCo cannot load the URDF ({e})") from None
    spec.compiler.fusestatic = False     # keep fixed frames such as the end effector
    spec.compiler.autolimits = True
    spec.option.timestep = robot.dt
    spec.option.integrator = mujoco.mjtIntegrator.mjINT_IMPLICITFAST
    spec.visual.quality.shadowsize = 512 if (robot.camera and robot.camera.shadows) else 0
    spec.visual.global_.offwidth = max(640, robot.camera.width if robot.camera else 0)
    spec.visual.global_.offheight = max(480, robot.camera.height if robot.camera else 0)

    scene = robot.scene
    vis = reality.section("visuals")
    mats = vis.get("materials", {})
    for g in spec.geoms:
        g.contype, g.conaffinity = ROBOT_GROUP, 0
        g.rgba = _rgba(mats.get("robot", scene.get("robot", {}).get("rgb", [0.2, 0.2, 0.2])))
    _add_scene(spec, robot, scene, mats)
    _add_distractors(spec, robot, vis.get("distractors", 0), reality.seed)
    _add_actuators(spec, robot)
    _apply_dynamics(spec, robot, reality)
    _add_light_and_camera(spec, robot, scene, vis)
    return spec


def build_model(robot: RobotSpec, reality: RealityProfile = NOMINAL) -> mujoco.MjModel:
    spec = build_spec(robot, reality)
    try:
        return spec.compile()
    except Exception as e:  # noqa: BLE001
        raise ConfigError(f"{robot.urdf_path}: MuJoCo model does not compile ({e})") from None


def _add_scene(spec, robot, scene, mats):
    wb = spec.worldbody
    floor = scene.get("floor", {})
    wb.add_geom(name="floor", type=mujoco.mjtGeom.mjGEOM_PLANE, size=[3, 3, 0.1],
                pos=[0, 0, floor.get("height", -0.75)], rgba=_rgba(mats.get("floor", floor.get("rgb", [0.5] * 3))),
                contype=0, conaffinity=ROBOT_GROUP)
    t = scene.get("table")
    if t:
        wb.add_geom(name="table", type=mujoco.mjtGeom.mjGEOM_BOX, size=[s / 2 for s in t["size"]],
                    pos=t["pos"], rgba=_rgba(mats.get("table", t.get("rgb", [0.5, 0.4, 0.3]))),
                    contype=0, conaffinity=ROBOT_GROUP)
    tg = scene.get("target", {})
    # A mocap body: the task moves it; it is seen by the camera but collides with nothing.
    body = wb.add_body(name=TARGET_BODY, mocap=True, pos=[0.45, 0.0, 0.3])
    body.add_geom(name="target", type=mujoco.mjtGeom.mjGEOM_SPHERE, size=[tg.get("radius", 0.025), 0, 0],
                  rgba=_rgba(mats.get("target", tg.get("rgb", [0.9, 0.1, 0.1]))), contype=0, conaffinity=0)


def _add_distractors(spec, robot, count, seed):
    """Small random boxes on the table, as clutter the camera must ignore."""
    if not count:
        return
    rng = np.random.default_rng(seed + 1)
    ws = robot.task.get("workspace", {"low": [0.3, -0.3, 0.0], "high": [0.6, 0.3, 0.0]})
    for i in range(count):
        x = rng.uniform(ws["low"][0], ws["high"][0])
        y = rng.uniform(ws["low"][1], ws["high"][1])
        spec.worldbody.add_geom(name=f"distractor_{i}", type=mujoco.mjtGeom.mjGEOM_BOX,
                                size=[0.02, 0.02, 0.02], pos=[x, y, 0.02], rgba=_rgba(rng.uniform(0, 1, 3)),
                                contype=0, conaffinity=0)


def _add_actuators(spec, robot):
    for jn, lim in zip(robot.joint_names, robot.effort_limit):
        a = spec.add_actuator(name=f"motor_{jn}", target=jn, trntype=mujoco.mjtTrn.mjTRN_JOINT)
        a.ctrllimited = True
        a.ctrlrange = [-lim, lim]
        a.gear[0] = 1.0
    for jn, kp in zip(robot.gripper_joints, robot.gripper_kp):
        a = spec.add_actuator(name=f"servo_{jn}", target=jn, trntype=mujoco.mjtTrn.mjTRN_JOINT)
        a.set_to_position(kp=kp, kv=0.05 * kp)
    for jn, arm in zip(robot.joint_names, robot.armature):
        spec.joint(jn).armature = arm


def _apply_dynamics(spec, robot, reality: RealityProfile):
    d = reality.section("dynamics")
    links = tuple(b.name for b in spec.bodies if b.name and b.name != "world")
    if "mass_scale" in d or "inertia_scale" in d:
        ms = per_joint(d.get("mass_scale"), links, 1.0, "dynamics.mass_scale")
        ins = per_joint(d.get("inertia_scale"), links, 1.0, "dynamics.inertia_scale")
        for name, m, i in zip(links, ms, ins):
            b = spec.body(name)
            b.mass *= m
            b.inertia = [x * m * i for x in b.inertia]  # inertia scales with mass, then by inertia_scale
    names = robot.joint_names
    for key, attr in (("friction_scale", "frictionloss"), ("damping_scale", "damping"), ("armature_scale", "armature")):
        if key in d:
            for jn, s in zip(names, per_joint(d[key], names, 1.0, f"dynamics.{key}")):
                j = spec.joint(jn)
                setattr(j, attr, getattr(j, attr) * s)
    # The payload body always exists (mass 0 when absent) so a schedule can change it mid-run.
    p = d.get("payload", {})
    ee = spec.body(robot.end_effector)
    if ee is None:
        raise ConfigError(f"{robot.config_path}.end_effector: no body '{robot.end_effector}' in the model")
    pb = ee.add_body(name=PAYLOAD_BODY, pos=p.get("offset", [0, 0, 0]))
    mass = p.get("mass", 0.0)
    pb.explicitinertial = True
    pb.mass = max(mass, 1e-6)
    pb.inertia = [max(mass, 1e-6) * 4e-4] * 3   # a ~5 cm solid ball
    if mass > 0:
        pb.add_geom(type=mujoco.mjtGeom.mjGEOM_SPHERE, size=[0.03, 0, 0], rgba=[0.3, 0.3, 0.8, 1],
                    contype=0, conaffinity=0, mass=0)


def _add_light_and_camera(spec, robot, scene, vis):
    ls = scene.get("light", {})
    lv = vis.get("light", {})
    inten = lv.get("intensity", ls.get("intensity", 0.8))
    color = np.array(lv.get("color", [1.0, 1.0, 1.0]))
    d = np.array(lv.get("direction", ls.get("direction", [0.3, 0.3, -1.0])), float)
    spec.worldbody.add_light(name="key", pos=(-d / np.linalg.norm(d) * 3.0).tolist(), dir=d.tolist(),
                             diffuse=(inten * color).tolist(), specular=[lv.get("specular", 0.3)] * 3,
                             castshadow=bool(robot.camera and robot.camera.shadows))
    spec.visual.headlight.ambient = [0.3, 0.3, 0.3]
    cam = robot.camera
    if cam is None:
        return
    cv = vis.get("camera", {})
    pos = np.asarray(cam.pos) + np.asarray(cv.get("offset", [0, 0, 0]))
    quat = _look_at_quat(cam.pos, cam.lookat)
    if "rpy_deg" in cv:
        q = np.zeros(4)
        mujoco.mju_mulQuat(q, quat, _quat_from_rpy_deg(cv["rpy_deg"]))
        quat = q
    spec.worldbody.add_camera(name=cam.name, pos=pos.tolist(), quat=quat.tolist(),
                              fovy=cam.fovy_deg + cv.get("fovy_deg", 0.0))


def joint_indices(model: mujoco.MjModel, names) -> tuple[np.ndarray, np.ndarray]:
    """(qpos addresses, dof addresses) of named hinge joints, in the given order."""
    ids = [mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, n) for n in names]
    if min(ids, default=0) < 0:
        raise ConfigError(f"joints missing from the model: {[n for n, i in zip(names, ids) if i < 0]}")
    return model.jnt_qposadr[ids].copy(), model.jnt_dofadr[ids].copy()


def fovy_to_focal(fovy_deg: float, height: int) -> float:
    return 0.5 * height / math.tan(math.radians(fovy_deg) / 2)
