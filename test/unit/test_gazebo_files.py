"""The Gazebo backend checked statically (no Gazebo, ros2_control or launch here): the generated
gz_ros2_control URDF against the one URDF and the robot data, the committed controllers / bridge /
world files against their generator, the launch file's controllers and bridge against them, the
bridge against the topic contract, and the plugin names against the ones gz_ros2_control documents.
Where `gz` is installed, the world and the generated model also go through `gz sdf -k`."""
import math
import runpy
import shutil
import subprocess
import sys
import types
import xml.etree.ElementTree as ET

import numpy as np
import pytest
import yaml

from sim2real import paths
from sim2real.robots import ROBOTS, load_robot
from sim2real.robots import gazebo as gz
from sim2real.sim.reality import NOMINAL, load_profile, parse_profile

ROBOT_NAMES = sorted(ROBOTS)
# DESIGN.md's topic contract, the part a driver provides (sensors and time) and takes (commands)
CONTRACT = {"/joint_states": "sensor_msgs/msg/JointState", "/imu/data": "sensor_msgs/msg/Imu",
            "/camera/image_raw": "sensor_msgs/msg/Image", "/camera/camera_info": "sensor_msgs/msg/CameraInfo",
            "/clock": "rosgraph_msgs/msg/Clock", "/effort_controller/commands": "std_msgs/msg/Float64MultiArray",
            "/position_controller/commands": "std_msgs/msg/Float64MultiArray"}


def _urdf(robot, reality=NOMINAL):
    return ET.fromstring(gz.gazebo_urdf(robot, reality, "/x/controllers.yaml"))


@pytest.mark.parametrize("name", ROBOT_NAMES)
def test_generated_urdf_has_every_joint_with_its_interfaces_and_limits(name):
    robot = load_robot(name)
    root = _urdf(robot)
    rc = root.find("ros2_control")
    assert rc.get("type") == "system" and rc.find("hardware/plugin").text == "gz_ros2_control/GazeboSimSystem"
    joints = {j.get("name"): j for j in rc.findall("joint")}
    assert list(joints) == [*robot.joint_names, *robot.gripper_joints]
    urdf_joints = {j.get("name"): j for j in ET.parse(robot.urdf_path).getroot().iter("joint")}
    command = {"effort": "effort", "position": "position", "pd_targets": "position"}[robot.actuation]
    for i, jn in enumerate(robot.joint_names):
        j = joints[jn]
        assert jn in urdf_joints and urdf_joints[jn].get("type") in ("revolute", "continuous")
        assert [s.get("name") for s in j.findall("state_interface")] == ["position", "velocity", "effort"]
        init = float(j.find("state_interface[@name='position']/param[@name='initial_value']").text)
        assert init == pytest.approx(robot.home[i])
        ci = j.findall("command_interface")
        if jn in robot.mimic:        # one motor: the leader's; the URDF <mimic> drives it
            assert ci == [] and urdf_joints[jn].find("mimic") is not None
            continue
        assert [c.get("name") for c in ci] == [command]
        lim = {p.get("name"): float(p.text) for p in ci[0].findall("param")}
        ul = urdf_joints[jn].find("limit")
        if command == "effort":
            assert lim == {"min": -float(ul.get("effort")), "max": float(ul.get("effort"))}
        elif urdf_joints[jn].get("type") == "revolute":
            assert lim == {"min": float(ul.get("lower")), "max": float(ul.get("upper"))}
    for jn in robot.gripper_joints:
        assert [c.get("name") for c in joints[jn].findall("command_interface")] == ["position"]
    # the rest of the URDF is the URDF's
    assert {ln.get("name") for ln in ET.parse(robot.urdf_path).getroot().iter("link")} <= \
        {ln.get("name") for ln in root.iter("link")}


@pytest.mark.parametrize("name", ROBOT_NAMES)
def test_generated_urdf_has_the_documented_plugin_and_remaps_the_controllers(name):
    robot = load_robot(name)
    root = _urdf(robot)
    (plugin,) = [p for g in root.findall("gazebo") for p in g.findall("plugin")]
    # as gz_ros2_control's doc/index.rst names them
    assert plugin.get("filename") == "gz_ros2_control-system"
    assert plugin.get("name") == "gz_ros2_control::GazeboSimROS2ControlPlugin"
    assert plugin.find("parameters").text == "/x/controllers.yaml"
    remaps = [r.text for r in plugin.findall("ros/remapping")]
    ctrl = gz.COMMAND_CONTROLLER[robot.actuation]
    assert "/joint_states:=/gz/joint_states" in remaps and f"/{ctrl}/commands:=/gz/{ctrl}/commands" in remaps
    anchored = root.find("joint[@name='world_fixed']")
    assert (anchored is None) == robot.floating_base
    if anchored is not None:
        assert anchored.find("parent").get("link") == "world" and anchored.find("child").get("link") == robot.base_link
    if robot.imu:
        (s,) = root.findall(f"gazebo[@reference='{robot.imu.body}']/sensor")
        assert s.get("type") == "imu" and s.find("topic").text == gz.IMU_TOPIC
    for foot in robot.foot_contacts:
        assert float(root.find(f"gazebo[@reference='{foot}']/mu1").text) == pytest.approx(1.0)


def _mass(root, link):
    return float(root.find(f"link[@name='{link}']/inertial/mass").get("value"))


def test_reality_dynamics_go_into_the_model():
    robot = load_robot("jaco")
    prof = parse_profile({"schema": "sim2real/reality/v1", "dynamics": {
        "mass_scale": {"link_3": 2.0}, "friction_scale": 3.0, "damping_scale": {"joint_2": 0.5},
        "payload": {"mass": 1.1, "offset": [0, 0, 0.1]}, "latency": {"command": 0.01}}})
    base, real = _urdf(robot), _urdf(robot, prof)
    assert _mass(real, "link_3") == pytest.approx(2 * _mass(base, "link_3"))
    assert _mass(real, "link_2") == pytest.approx(_mass(base, "link_2"))
    assert float(real.find("link[@name='link_3']/inertial/inertia").get("ixx")) == pytest.approx(
        2 * float(base.find("link[@name='link_3']/inertial/inertia").get("ixx")))
    for jn in robot.joint_names:
        f0 = float(base.find(f"joint[@name='{jn}']/dynamics").get("friction"))
        assert float(real.find(f"joint[@name='{jn}']/dynamics").get("friction")) == pytest.approx(3 * f0)
    d0 = float(base.find("joint[@name='joint_2']/dynamics").get("damping"))
    assert float(real.find("joint[@name='joint_2']/dynamics").get("damping")) == pytest.approx(0.5 * d0)
    pj = real.find("joint[@name='payload_fixed']")
    assert pj.find("parent").get("link") == robot.payload_body and _mass(real, "payload") == pytest.approx(1.1)
    assert gz.unsupported_keys(robot, prof) == []     # latency is gz_driver's


def test_ground_friction_goes_to_the_feet_and_the_rest_is_named():
    robot = load_robot("go1")
    prof = load_profile(paths.resolve("config/reality/go1-heavy-slippery.yaml"))
    gf = prof.section("dynamics")["ground_friction"]
    root = _urdf(robot, prof)
    for foot in robot.foot_contacts:
        assert float(root.find(f"gazebo[@reference='{foot}']/mu1").text) == pytest.approx(gf)
    noisy = parse_profile({"schema": "sim2real/reality/v1", "dynamics": {"actuator_lag": 0.01, "armature_scale": 2.0},
                           "visuals": {"blur_sigma_px": 1.0}})
    assert gz.unsupported_keys(robot, noisy) == ["dynamics.armature_scale", "visuals", "dynamics.actuator_lag"]
    assert gz.unsupported_keys(load_robot("jaco"), noisy) == ["dynamics.armature_scale", "visuals"]   # effort: lag applies


def test_a_profile_naming_an_unknown_joint_is_refused_with_the_key():
    bad = parse_profile({"schema": "sim2real/reality/v1", "dynamics": {"friction_scale": {"elbow": 2.0}}})
    with pytest.raises(Exception, match="friction_scale.elbow"):
        gz.gazebo_urdf(load_robot("jaco"), bad)


def test_committed_files_are_what_the_generator_writes():
    stale = [str(p) for p, text in gz.committed_files().items() if not p.is_file() or p.read_text() != text]
    assert not stale, f"regenerate with `python -m sim2real.robots.gazebo write`: {stale}"


@pytest.mark.parametrize("name", ROBOT_NAMES)
def test_controllers_yaml_matches_the_urdf_and_the_actuation(name):
    robot = load_robot(name)
    cfg = yaml.safe_load(paths.resolve(f"config/controllers/{name}.yaml").read_text())
    cm = cfg["controller_manager"]["ros__parameters"]
    assert cm["update_rate"] == robot.control_rate_hz
    types_ = {k: v["type"] for k, v in cm.items() if isinstance(v, dict)}
    assert types_ == {n: gz.CONTROLLER_TYPES[n] for n in gz.controller_names(robot)}
    ctrl = "effort_controller" if robot.actuation == "effort" else "position_controller"
    assert types_[ctrl] == {"effort_controller": "effort_controllers/JointGroupEffortController",
                            "position_controller": "position_controllers/JointGroupPositionController"}[ctrl]
    assert f"/{ctrl}/commands" == robot.command_topic     # the contract's forward-command topic
    rc = _urdf(robot).find("ros2_control")
    with_command = [j.get("name") for j in rc.findall("joint") if j.find("command_interface") is not None
                    and j.get("name") in robot.joint_names]
    assert cfg[ctrl]["ros__parameters"]["joints"] == with_command
    assert cfg["joint_state_broadcaster"]["ros__parameters"]["joints"] == [j.get("name") for j in rc.findall("joint")]


@pytest.mark.parametrize("name", ROBOT_NAMES)
def test_bridge_covers_the_contract_topics_ros2_control_does_not(name):
    robot = load_robot(name)
    entries = yaml.safe_load(paths.resolve(f"config/bridge/{name}.yaml").read_text())
    keys = {"ros_topic_name", "gz_topic_name", "ros_type_name", "gz_type_name", "direction"}
    assert all(set(e) == keys and e["direction"] == "GZ_TO_ROS" for e in entries)
    ros = {e["ros_topic_name"]: e["ros_type_name"] for e in entries}
    # gz_driver republishes /gz/* under the contract's names (the perception node takes images from the driver)
    provided = {t.replace("/gz/", "/", 1): ty for t, ty in ros.items()}
    assert provided["/clock"] == CONTRACT["/clock"]
    need = {"/clock"} | ({"/imu/data"} if robot.imu else set()) | \
        ({"/camera/image_raw", "/camera/camera_info"} if robot.camera else set())
    assert set(provided) == need
    for topic in need:
        assert provided[topic] == CONTRACT[topic]
    # ros2_control carries the rest: the joint states and the command the robot's actuation uses
    assert {"/joint_states", robot.command_topic} <= set(CONTRACT)
    gz_types = {"rosgraph_msgs/msg/Clock": "gz.msgs.Clock", "sensor_msgs/msg/Imu": "gz.msgs.IMU",
                "sensor_msgs/msg/Image": "gz.msgs.Image", "sensor_msgs/msg/CameraInfo": "gz.msgs.CameraInfo"}
    assert all(gz_types[e["ros_type_name"]] == e["gz_type_name"] for e in entries)   # ros_gz_bridge's README table


def test_contract_topics_are_design_md_s():
    design = paths.data_root().parent / "shared" / "DESIGN.md"
    if not design.is_file():
        pytest.skip(f"no {design} here (shared/ lies beside the checkout in sessions and CI)")
    text = design.read_text()
    for topic in CONTRACT:
        if topic != "/clock":
            assert topic in text, topic


@pytest.mark.parametrize("task", sorted({load_robot(n).tasks[0] for n in ROBOT_NAMES}))
def test_world_per_task_has_floor_and_the_task_s_scene(task):
    root = ET.parse(paths.resolve(f"models/worlds/{task}.sdf")).getroot()
    w = root.find("world")
    assert w.get("name") == task
    models = {m.get("name"): m for m in w.findall("model")}
    assert "floor" in models
    plugins = {p.get("filename") for p in w.findall("plugin")}
    assert {"gz-sim-physics-system", "gz-sim-user-commands-system", "gz-sim-scene-broadcaster-system"} <= plugins
    if task == "reach":
        robot = load_robot("jaco")
        assert {"table", "target", "camera"} <= set(models)
        assert "target" not in [c.get("name") for c in models["target"].iter("collision")]
        s = models["camera"].find("link/sensor")
        assert s.get("type") == "camera" and s.find("topic").text == gz.CAMERA_TOPIC
        assert int(s.find("camera/image/width").text) == robot.camera.width
        # the camera looks at the configured point: +x of its pose
        pose = [float(v) for v in models["camera"].find("pose").text.split()]
        _, pitch, yaw = pose[3:]
        ray = np.array([math.cos(pitch) * math.cos(yaw), math.cos(pitch) * math.sin(yaw), -math.sin(pitch)])
        d = np.asarray(robot.camera.lookat) - np.asarray(robot.camera.pos)
        assert np.allclose(ray, d / np.linalg.norm(d))
        assert "gz-sim-sensors-system" in plugins
    else:
        assert "gz-sim-imu-system" in plugins


# -- the launch file, run against stand-ins for launch and launch_ros --

class _Rec:
    def __init__(self, *args, **kw):
        self.args, self.kw = args, kw


class _Opaque:
    def __init__(self, function):
        self.function = function


class _Config:
    def __init__(self, name):
        self.name = name

    def perform(self, context):
        return context[self.name]


@pytest.fixture
def gazebo_launch(monkeypatch):
    mods = {"launch": {"LaunchDescription": list},
            "launch.actions": {n: _Rec for n in ("DeclareLaunchArgument", "IncludeLaunchDescription", "LogInfo",
                                                 "RegisterEventHandler")} | {"OpaqueFunction": _Opaque},
            "launch.event_handlers": {"OnProcessExit": _Rec},
            "launch.launch_description_sources": {"PythonLaunchDescriptionSource": _Rec},
            "launch.substitutions": {"LaunchConfiguration": _Config},
            "launch_ros": {}, "launch_ros.actions": {"Node": _Rec}}
    for name, attrs in mods.items():
        m = types.ModuleType(name)
        m.__dict__.update(attrs)
        monkeypatch.setitem(sys.modules, name, m)
    lf = runpy.run_path(str(paths.resolve("launch/gazebo.launch.py")))

    def run(**args):
        entities = lf["generate_launch_description"]()
        declared = {e.args[0]: e.kw["default_value"] for e in entities if isinstance(e, _Rec)}
        (op,) = [e for e in entities if isinstance(e, _Opaque)]
        return op.function({**declared, **args})
    return run


def _nodes(actions):
    return {a.kw["executable"]: a for a in actions if "executable" in a.kw}


@pytest.mark.parametrize("name", ROBOT_NAMES)
def test_launch_spawns_the_robot_and_the_controllers_the_yaml_declares(gazebo_launch, name):
    robot = load_robot(name)
    actions = gazebo_launch(robot=name)
    nodes = _nodes(actions)
    (handler,) = [a for a in actions if a.args and isinstance(a.args[0], _Rec) and "target_action" in a.args[0].kw]
    spawner = handler.args[0].kw["on_exit"][0]
    assert handler.args[0].kw["target_action"] is nodes["create"]     # controllers once the robot is in
    cfg = yaml.safe_load(paths.resolve(f"config/controllers/{name}.yaml").read_text())
    declared = [k for k, v in cfg["controller_manager"]["ros__parameters"].items() if isinstance(v, dict)]
    spawned = spawner.kw["arguments"][:spawner.kw["arguments"].index("--controller-manager")]
    assert spawned == declared == gz.controller_names(robot)
    create = nodes["create"].kw["arguments"]
    assert create[create.index("-topic") + 1] == "robot_description" and create[create.index("-name") + 1] == name
    assert create[create.index("-world") + 1] == robot.tasks[0]
    z = float(create[create.index("-z") + 1])
    assert (z == 0.0) == (not robot.floating_base) and z < 1.0
    bridge = nodes["parameter_bridge"].kw["parameters"][0]
    assert bridge["config_file"] == str(paths.resolve(f"config/bridge/{name}.yaml")) and bridge["use_sim_time"]
    urdf = nodes["robot_state_publisher"].kw["parameters"][0]["robot_description"]
    assert ET.fromstring(urdf).find("ros2_control") is not None
    assert ET.fromstring(urdf).find("gazebo/plugin/parameters").text == str(paths.resolve(f"config/controllers/{name}.yaml"))
    (gzsim,) = [a for a in actions if a.args and isinstance(a.args[0], _Rec) and "launch_arguments" in a.kw]
    gz_args = dict(gzsim.kw["launch_arguments"])["gz_args"]
    assert gz_args == f"-r -s {paths.resolve(f'models/worlds/{robot.tasks[0]}.sdf')}"


def test_launch_says_which_reality_keys_gazebo_cannot_take(gazebo_launch):
    actions = gazebo_launch(robot="nao", reality=str(paths.resolve("config/reality/nao-old-joints.yaml")))
    logs = [a.kw["msg"] for a in actions if "msg" in a.kw]
    assert logs == ["gazebo: reality dynamics.actuator_lag is not applied in Gazebo",
                    "gazebo: reality dynamics.motor_strength is not applied in Gazebo"]


@pytest.mark.skipif(shutil.which("gz") is None, reason="Gazebo (gz) is not installed here: the SDF is checked "
                    "by parsing only; with gz on PATH `gz sdf -k` checks the world and the generated model")
@pytest.mark.parametrize("name", ROBOT_NAMES)
def test_gz_sdf_accepts_the_world_and_the_model(name, tmp_path):
    robot = load_robot(name)
    model = tmp_path / f"{name}.urdf"
    model.write_text(gz.gazebo_urdf(robot))
    for f in (paths.resolve(f"models/worlds/{robot.tasks[0]}.sdf"), model):
        r = subprocess.run(["gz", "sdf", "-k", str(f)], capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stdout + r.stderr
