"""Joystick teleop on a full ROS 2 install: joy_node -> joy_teleop -> /joy/desired (the mux input).
The keyboard teleop needs a terminal: run `ros2 run sim2real sim2real_node keyboard_teleop`.
robot:= is the graph's option of that name (sim2real.graph.OPTIONS), with its default."""
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from sim2real.graph import OPTIONS


def generate_launch_description():
    robot = LaunchConfiguration("robot")
    return LaunchDescription([
        DeclareLaunchArgument("robot", default_value=OPTIONS["robot"].launch_default,
                              description=OPTIONS["robot"].describe()),
        Node(package="joy", executable="joy_node", output="screen"),
        Node(package="sim2real", executable="sim2real_node", name="joy_teleop", arguments=["joy_teleop"],
             parameters=[{"robot": robot}], output="screen"),
    ])
