"""config/rviz/<robot>.rviz, checked statically (RViz itself needs a full ROS 2 install): one per
registered robot, fixed to its base link, and every display on a topic the graph publishes."""
import pytest
import yaml

from sim2real import paths
from sim2real.robots import load_robot
from sim2real.robots.registry import ROBOTS

WANTED = {   # display class -> topic
    "rviz_default_plugins/RobotModel": "/robot_description",
    "rviz_default_plugins/Image": "/camera/image_raw",
    "rviz_default_plugins/Marker": "/viz/teleop_active",
}
POINTS = {"/sim/target", "/perception/target", "/viz/ee_actual", "/viz/ee_desired"}
LATCHED = {"/robot_description", "/sim/target", "/viz/teleop_active"}   # published transient local


@pytest.mark.parametrize("name", sorted(ROBOTS))
def test_rviz_config(name):
    robot = load_robot(name)
    cfg = yaml.safe_load(paths.resolve(f"config/rviz/{name}.rviz").read_text())
    vm = cfg["Visualization Manager"]
    assert vm["Global Options"]["Fixed Frame"] == robot.base_link
    displays = vm["Displays"]
    by_class = {}
    for d in displays:
        by_class.setdefault(d["Class"], []).append(d)
    assert "rviz_default_plugins/TF" in by_class
    for cls, t in WANTED.items():
        assert [d for d in by_class[cls] if d.get("Topic", d.get("Description Topic"))["Value"] == t], (cls, t)
    assert {d["Topic"]["Value"] for d in by_class["rviz_default_plugins/PointStamped"]} == POINTS
    for d in displays:
        topic = d.get("Topic") or d.get("Description Topic")
        if topic and topic["Value"] in LATCHED:   # a late RViz still gets the latched message
            assert topic["Durability Policy"] == "Transient Local", topic["Value"]
    image = by_class["rviz_default_plugins/Image"][0]
    assert image["Enabled"] == (robot.camera is not None)
