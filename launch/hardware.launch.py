"""The `hardware` backend in one command: the robot vendor's ROS 2 driver (where the robot needs
one) and the graph (bringup.launch.py backend:=hardware), whose "driver" is the robot's adapter.

    ros2 launch sim2real hardware.launch.py robot:=nao vendor_args:="nao_ip:=10.0.0.5"
    ros2 launch sim2real hardware.launch.py robot:=jaco vendor_driver:=false   # your driver runs already
    ros2 launch sim2real hardware.launch.py robot:=go1    # Unitree: the robot itself speaks DDS

config/hardware/<robot>.yaml names the vendor's launch file (vendor_launch: package, file, fixed
arguments, remappings: naoqi_driver's /joint_states goes to /naoqi/joint_states, the graph owns
/joint_states). Every other argument (policy:=, controller:=, record:=, rviz:=, ...) reaches
bringup.launch.py as given. Start with the robot safe: see README, "Run it on your robot".
launch / launch_ros are imported where used, so this file imports without them.
"""

ARGS = {
    "robot": ("jaco", "registered robot (config/hardware/<robot>.yaml says its driver)"),
    "vendor_driver": ("true", "also start the vendor's driver (config/hardware/<robot>.yaml vendor_launch)"),
    "vendor_args": ("", "extra arguments for the vendor's launch file, 'name:=value name:=value'"),
}


def _actions(context):
    from launch.actions import GroupAction, IncludeLaunchDescription, LogInfo
    from launch.launch_description_sources import PythonLaunchDescriptionSource
    from launch.substitutions import LaunchConfiguration
    from launch_ros.actions import SetRemap

    from sim2real import paths
    from sim2real.hardware import load_hardware
    from sim2real.robots import load_robot

    arg = {k: LaunchConfiguration(k).perform(context) for k in ARGS}
    robot = load_robot(arg["robot"])
    hw = load_hardware(robot)
    actions = []
    vl = hw.vendor_launch
    if arg["vendor_driver"].strip().lower() in ("true", "1", "yes", "on") and vl:
        from ament_index_python.packages import get_package_share_directory
        extra = dict(a.split(":=", 1) for a in arg["vendor_args"].split() if ":=" in a)
        source = f"{get_package_share_directory(vl['package'])}/launch/{vl['file']}"
        actions.append(GroupAction([   # remaps scoped to the vendor's nodes
            *(SetRemap(src=a, dst=b) for a, b in vl["remappings"].items()),
            IncludeLaunchDescription(PythonLaunchDescriptionSource(source),
                                     launch_arguments=list({**vl["arguments"], **extra}.items())),
        ], scoped=True))
    elif not vl:
        actions.append(LogInfo(msg=f"hardware: {robot.name} needs no driver process (config/hardware/{robot.name}.yaml)"))
    actions.append(IncludeLaunchDescription(
        PythonLaunchDescriptionSource(str(paths.resolve("launch/bringup.launch.py"))),
        launch_arguments=[("robot", robot.name), ("backend", "hardware")]))
    return actions


def generate_launch_description():
    from launch import LaunchDescription
    from launch.actions import DeclareLaunchArgument, OpaqueFunction

    return LaunchDescription([
        *(DeclareLaunchArgument(k, default_value=d, description=h) for k, (d, h) in ARGS.items()),
        OpaqueFunction(function=_actions),
    ])
