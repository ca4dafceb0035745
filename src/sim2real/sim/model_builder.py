"""URDF + robot config (+ optional reality profile) -> MuJoCo model, through MjSpec.

One URDF serves MuJoCo, RViz and Gazebo. What the URDF cannot hold comes from the robot config:
actuators (a torque motor per commanded joint, whatever the actuation: position and PD-target
commands become torques through robots.actuation.pd_torque; position servos on the gripper),
armature, a free joint on the root of a floating-base robot, sensors (IMU site with framequat,
gyro and accelerometer; a touch sensor per foot geom), the scene (floor with its friction; a
table and target only where the scene asks, i.e. the reach task; light) and the camera. Mimic
joints (URDF <mimic>, e.g. the NAO's RHipYawPitch) are joint equality constraints and their motor
is inert. A reality profile's hidden dynamics (payload on robot.payload_body, mass, inertia,
friction, damping, armature, ground friction) and visuals (light, materials, camera pose) are
applied here, on the model; its time-domain effects (latency, lag, noise, drops) live in twin_effects.

Names in the model: bodies and joints as in the URDF; sensors `imu_quat`, `imu_gyro`,
`imu_accel` on site `imu`; per foot body F, sites and touch sensors `F_touch<k>`.
"""
from __future__ import annotations

import math

import mujoco
import numpy as np

from sim2real.errors import ConfigError
from sim2real.robots.spec import RobotSpec
from sim2real.sim.reality import NOMINAL, RealityProfile, per_joint

TARGET_BODY = "target"
TARGET_STAND = "target_stand"
PAYLOAD_BODY = "payload"
ROBOT_GROUP = 1  # contype bit for robot geoms: they hit the world, not each other
IMU_SENSORS = ("imu_quat", "imu_gyro", "imu_accel")
FLOOR_FRICTION = 1.0   # nominal sliding friction of the floor (MuJoCo's default); scene.floor.friction
TOUCH_MARGIN = 0.003   # m a touch site extends beyond its foot geom, so it encloses the contacts


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
    # MuJoCo's URDF default discards "visual" geoms (contype = conaffinity = 0) at compile time: the
    # target sphere, the profile's distractors and the payload ball would never reach the camera.
    # The URDF's own <visual> elements were already dropped at parse time (its <collision> geoms are
    # the robot's, drawn and colliding), so this keeps only the scene's non-colliding geoms below.
    # They collide with nothing, and MuJoCo counted their mass before discarding them (the target's
    # mocap body, which nothing moves dynamically), so body masses and the physics are unchanged.
    spec.compiler.discardvisual = False
    spec.compiler.autolimits = True
    spec.option.timestep = robot.physics_dt
    spec.option.integrator = mujoco.mjtIntegrator.mjINT_IMPLICITFAST
    spec.visual.quality.shadowsize = 512 if (robot.camera and robot.camera.shadows) else 0
    spec.visual.global_.offwidth = max(640, robot.camera.width if robot.camera else 0)
    spec.visual.global_.offheight = max(480, robot.camera.height if robot.camera else 0)

    scene = robot.scene
    vis = reality.section("visuals")
    mats = vis.get("materials", {})
    links = tuple(b.name for b in spec.bodies if b.name and b.name != "world")   # the robot's links
    for g in spec.geoms:
        g.contype, g.conaffinity = ROBOT_GROUP, 0
        g.rgba = _rgba(mats.get("robot", scene.get("robot", {}).get("rgb", [0.2, 0.2, 0.2])))
    if robot.floating_base:
        root = _body(spec, robot, robot.base_link, "base_link")
        root.add_freejoint(name="base")
    _add_scene(spec, robot, scene, mats, reality.section("dynamics").get("ground_friction", 1.0))
    _add_distractors(spec, robot, vis.get("distractors", 0), reality.seed)
    _add_actuators(spec, robot)
    _add_mimic(spec, robot)
    _add_sensors(spec, robot)
    _apply_dynamics(spec, robot, reality, links)
    _add_light_and_camera(spec, robot, scene, vis)
    return spec


def _body(spec, robot, name, key):
    b = spec.body(name)
    if b is None:
        raise ConfigError(f"{robot.config_path}.{key}: no body '{name}' in the model")
    return b


def build_model(robot: RobotSpec, reality: RealityProfile = NOMINAL) -> mujoco.MjModel:
    spec = build_spec(robot, reality)
    try:
        return spec.compile()
    except Exception as e:  # noqa: BLE001
        raise ConfigError(f"{robot.urdf_path}: MuJoCo model does not compile ({e})") from None


def _add_scene(spec, robot, scene, mats, ground_friction=1.0):
    wb = spec.worldbody
    floor = scene.get("floor", {})
    size = floor.get("size", [3, 3])
    g = wb.add_geom(name="floor", type=mujoco.mjtGeom.mjGEOM_PLANE, size=[size[0], size[1], 0.1],
                    pos=[0, 0, floor.get("height", 0.0)],
                    rgba=_rgba(mats.get("floor", floor.get("rgb", [0.5] * 3))),
                    contype=0, conaffinity=ROBOT_GROUP)
    mu = floor.get("friction", FLOOR_FRICTION) * ground_friction
    if mu != 1.0:
        g.friction = [mu, g.friction[1], g.friction[2]]
    g.priority = 1    # the floor's friction (and the profile's ground_friction) decides its contacts
    t = scene.get("table")
    if t:
        wb.add_geom(name="table", type=mujoco.mjtGeom.mjGEOM_BOX, size=[s / 2 for s in t["size"]],
                    pos=t["pos"], rgba=_rgba(mats.get("table", t.get("rgb", [0.5, 0.4, 0.3]))),
                    contype=0, conaffinity=ROBOT_GROUP)
    tg = scene.get("target")
    if tg is not None:
        # A mocap body: the task moves it; it is seen by the camera but collides with nothing.
        body = wb.add_body(name=TARGET_BODY, mocap=True, pos=[0.45, 0.0, 0.3])
        rgba = _rgba(mats.get("target", tg.get("rgb", [0.9, 0.1, 0.1])))
        body.add_geom(name="target", type=mujoco.mjtGeom.mjGEOM_SPHERE, size=[tg.get("radius", 0.025), 0, 0],
                      rgba=rgba, contype=0, conaffinity=0)
        stand = tg.get("stand")
        if stand:
            # the rod the target stands on: from its centre straight down, longer than the workspace
            # is high, so its visible end is where it meets the table (the table hides the rest)
            length = float(stand["length"])
            body.add_geom(name=TARGET_STAND, type=mujoco.mjtGeom.mjGEOM_CYLINDER, size=[float(stand["radius"]), length / 2, 0],
                          pos=[0, 0, -length / 2], rgba=rgba, contype=0, conaffinity=0)


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


def _add_mimic(spec, robot):
    """A mimic joint follows its leader through a stiff joint equality (the URDF importer makes
    one from <mimic>; we add it if not); its own motor is inert, as one motor drives both."""
    have = {(e.name1, e.name2) for e in spec.equalities if e.type == mujoco.mjtEq.mjEQ_JOINT}
    for jn, (leader, mult, off) in robot.mimic.items():
        if (jn, leader) not in have:
            spec.add_equality(type=mujoco.mjtEq.mjEQ_JOINT, name1=jn, name2=leader,
                              data=[off, mult, 0, 0, 0] + [0.0] * 6)
        spec.actuator(f"motor_{jn}").gear[0] = 0.0   # its command moves nothing
    for e in spec.equalities:
        if e.type == mujoco.mjtEq.mjEQ_JOINT:
            e.solref = [max(0.004, 2 * robot.physics_dt), 1.0]
            e.solimp = [0.95, 0.99, 0.001, 0.5, 2.0]


def _add_sensors(spec, robot):
    if robot.imu is not None:
        b = _body(spec, robot, robot.imu.body, "sensors.imu.body")
        b.add_site(name=robot.imu.site, pos=list(robot.imu.pos), size=[0.005, 0, 0])
        site = mujoco.mjtObj.mjOBJ_SITE
        spec.add_sensor(name=IMU_SENSORS[0], type=mujoco.mjtSensor.mjSENS_FRAMEQUAT, objtype=site,
                        objname=robot.imu.site)
        spec.add_sensor(name=IMU_SENSORS[1], type=mujoco.mjtSensor.mjSENS_GYRO, objtype=site, objname=robot.imu.site)
        spec.add_sensor(name=IMU_SENSORS[2], type=mujoco.mjtSensor.mjSENS_ACCELEROMETER, objtype=site,
                        objname=robot.imu.site)
    for foot in robot.foot_contacts:
        b = _body(spec, robot, foot, "sensors.foot_contacts")
        if not b.geoms:
            raise ConfigError(f"{robot.config_path}.sensors.foot_contacts: body '{foot}' has no collision geom")
        for k, g in enumerate(b.geoms):
            name = f"{foot}_touch{k}"
            size = [x + TOUCH_MARGIN if x > 0 else 0.0 for x in g.size]
            b.add_site(name=name, type=g.type, size=size, pos=list(g.pos), quat=list(g.quat), group=4)
            spec.add_sensor(name=name, type=mujoco.mjtSensor.mjSENS_TOUCH, objtype=mujoco.mjtObj.mjOBJ_SITE,
                            objname=name)


def _apply_dynamics(spec, robot, reality: RealityProfile, links: tuple[str, ...]):
    d = reality.section("dynamics")
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
    if robot.payload_body is None:
        if p or d.get("payload_schedule"):
            raise ConfigError(f"dynamics.payload: robot '{robot.name}' names no payload_body")
        return
    ee = _body(spec, robot, robot.payload_body, "payload_body")
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
