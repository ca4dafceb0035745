"""Gazebo for the `gazebo` backend: the task's world, the robot spawned from its generated URDF,
gz_ros2_control's controllers and ros_gz_bridge. The graph on top comes from bringup.launch.py,
which includes this file for backend:=gazebo (one entry point):

    ros2 launch sim2real bringup.launch.py robot:=go1 backend:=gazebo [reality:=...] [gui:=true]
    ros2 launch sim2real gazebo.launch.py robot:=jaco      # Gazebo alone (then `sim2real doctor --backend gazebo`)

What it starts (names as the packages document them; robots/gazebo.py cites the sources):
  - gz sim with models/worlds/<task>.sdf (ros_gz_sim's gz_sim.launch.py, gz_args "-r [-s] WORLD");
  - robot_state_publisher with the URDF that robots/gazebo.py generates from urdf/<robot>.urdf (+ the
    reality profile's masses, friction, damping, payload, ground friction): /robot_description,
    which ros_gz_sim's `create` spawns and gz_ros2_control's controller manager reads;
  - ros_gz_sim create -topic robot_description -name ROBOT -z HEIGHT (above the floor for legged robots);
  - ros_gz_bridge parameter_bridge with config/bridge/<robot>.yaml (/clock, IMU, camera);
  - controller_manager spawner for config/controllers/<robot>.yaml's controllers, once the robot is
    spawned (joint_state_broadcaster, effort_controller or position_controller, gripper_controller).
The reality keys Gazebo cannot apply are logged at start. launch / launch_ros are imported where
used, so this file imports without them (test/unit/test_gazebo_files.py runs it with stand-ins).
"""

ARGS = {
    "robot": ("jaco", "registered robot"),
    "reality": ("", "reality profile YAML (masses, friction, damping, payload in the model; the rest in gz_driver)"),
    "gui": ("false", "also open Gazebo's GUI (needs a display)"),
}


def _actions(context):
    from launch.actions import IncludeLaunchDescription, LogInfo, RegisterEventHandler
    from launch.event_handlers import OnProcessExit
    from launch.launch_description_sources import PythonLaunchDescriptionSource
    from launch.substitutions import LaunchConfiguration
    from launch_ros.actions import Node

    from sim2real import paths
    from sim2real.robots import load_robot
    from sim2real.robots.gazebo import controller_names, gazebo_urdf, spawn_height, unsupported_keys, world_name
    from sim2real.sim.reality import NOMINAL, load_profile

    arg = {k: LaunchConfiguration(k).perform(context) for k in ARGS}
    robot = load_robot(arg["robot"])
    profile = load_profile(paths.user_path(arg["reality"])) if arg["reality"] else NOMINAL
    gui = arg["gui"].strip().lower() in ("true", "1", "yes", "on")
    world = paths.resolve(f"models/worlds/{world_name(robot)}.sdf")
    controllers = paths.resolve(f"config/controllers/{robot.name}.yaml")
    urdf = gazebo_urdf(robot, profile, controllers)
    actions = [LogInfo(msg=f"gazebo: reality {k} is not applied in Gazebo") for k in unsupported_keys(robot, profile)]
    try:
        from ament_index_python.packages import get_package_share_directory
        gz_sim_launch = f"{get_package_share_directory('ros_gz_sim')}/launch/gz_sim.launch.py"
    except Exception:  # noqa: BLE001 - no ros_gz_sim installed: name where it would be
        gz_sim_launch = "ros_gz_sim/launch/gz_sim.launch.py"
    actions.append(IncludeLaunchDescription(
        PythonLaunchDescriptionSource(gz_sim_launch),
        launch_arguments=[("gz_args", f"-r {'' if gui else '-s '}{world}"), ("on_exit_shutdown", "true")]))
    actions.append(Node(package="robot_state_publisher", executable="robot_state_publisher",
                        parameters=[{"robot_description": urdf, "use_sim_time": True}], output="screen"))
    spawn = Node(package="ros_gz_sim", executable="create", output="screen",
                 arguments=["-world", world_name(robot), "-topic", "robot_description", "-name", robot.name,
                            "-z", f"{spawn_height(robot):.4f}"])
    actions.append(spawn)
    actions.append(Node(package="ros_gz_bridge", executable="parameter_bridge", name="ros_gz_bridge", output="screen",
                        parameters=[{"config_file": str(paths.resolve(f"config/bridge/{robot.name}.yaml")),
                                     "use_sim_time": True}]))
    spawner = Node(package="controller_manager", executable="spawner", output="screen",
                   arguments=[*controller_names(robot), "--controller-manager", "/controller_manager",
                              "--controller-manager-timeout", "120"])
    actions.append(RegisterEventHandler(OnProcessExit(target_action=spawn, on_exit=[spawner])))
    return actions


def generate_launch_description():
    from launch import LaunchDescription
    from launch.actions import DeclareLaunchArgument, OpaqueFunction

    return LaunchDescription([
        *(DeclareLaunchArgument(k, default_value=d, description=h) for k, (d, h) in ARGS.items()),
        OpaqueFunction(function=_actions),
    ])
