"""Bring up the sim2real graph on a full ROS 2 install (colcon build; source install/setup.bash).

    ros2 launch sim2real bringup.launch.py robot:=jaco backend:=mujoco
    ros2 launch sim2real bringup.launch.py backend:=twin reality:=config/reality/heavy-sticky.yaml
    ros2 launch sim2real bringup.launch.py --show-args      # every argument, default and help
    ros2 launch sim2real bringup.launch.py rviz:=true       # and RViz with config/rviz/<robot>.rviz
    ros2 launch sim2real bringup.launch.py robot:=go1 backend:=gazebo [gui:=true]   # Gazebo too
    ros2 launch sim2real hardware.launch.py robot:=nao      # the vendor's driver, then this file

The arguments are sim2real.graph.GRAPH_OPTIONS, the options `sim2real up` has (same names,
underscores for dashes, camera:=false for --no-camera, "" for unset), parsed by the same
graph.parse_options; the nodes, parameters and remappings come from graph.build_graph, the
declaration `sim2real up` composes, so the two never drift apart. robot_state_publisher serves
the URDF on /robot_description for RViz. backend:=gazebo also includes gazebo.launch.py (world,
spawn, controllers, bridge; its robot_state_publisher serves the generated gz_ros2_control URDF);
on backend:=hardware the graph's "driver" is the robot's vendor adapter (config/hardware/) and the
vendor's own driver runs beside it (hardware.launch.py starts both). launch and launch_ros are
imported where they are used, so this file imports without them (test/unit/test_launch_options.py
runs it with stand-ins).
"""


def _nodes(context):
    from launch.substitutions import LaunchConfiguration
    from launch_ros.actions import Node

    from sim2real import paths
    from sim2real.graph import GRAPH_OPTIONS, build_graph, graph_kwargs, parse_options
    from sim2real.robots import load_robot

    values = parse_options({o.name: LaunchConfiguration(o.name).perform(context) for o in GRAPH_OPTIONS})
    rviz = LaunchConfiguration("rviz").perform(context).strip().lower() in ("true", "1", "yes", "on")
    decls = build_graph(**graph_kwargs(values))
    actions = [Node(package="sim2real", executable="sim2real_node", name=d.name, arguments=[d.kind],
                    parameters=[d.params], remappings=list(d.remaps.items()), output="screen")
               for d in decls]
    sim_time = any(d.params.get("use_sim_time") for d in decls)
    if values["backend"] == "gazebo":   # Gazebo, its robot_state_publisher (the generated URDF), controllers, bridge
        from launch.actions import IncludeLaunchDescription
        from launch.launch_description_sources import PythonLaunchDescriptionSource
        actions.append(IncludeLaunchDescription(
            PythonLaunchDescriptionSource(str(paths.resolve("launch/gazebo.launch.py"))),
            launch_arguments=[("robot", values["robot"]), ("reality", values["reality"] or ""),
                              ("gui", LaunchConfiguration("gui").perform(context))]))
    else:
        urdf = paths.resolve(load_robot(values["robot"]).urdf_path).read_text()
        actions.append(Node(package="robot_state_publisher", executable="robot_state_publisher",
                            parameters=[{"robot_description": urdf, "use_sim_time": sim_time}],
                            output="screen"))
    if rviz:   # markers RViz shows (end-effector paths, the mux's choice) and RViz itself
        actions.append(Node(package="sim2real", executable="sim2real_node", name="viz_markers",
                            arguments=["viz_markers"], parameters=[{"robot": values["robot"], "use_sim_time": sim_time}],
                            output="screen"))
        actions.append(Node(package="rviz2", executable="rviz2", name="rviz2",
                            arguments=["-d", str(paths.resolve(f"config/rviz/{values['robot']}.rviz"))],
                            parameters=[{"use_sim_time": sim_time}], output="screen"))
    return actions


def generate_launch_description():
    from launch import LaunchDescription
    from launch.actions import DeclareLaunchArgument, OpaqueFunction

    from sim2real.graph import GRAPH_OPTIONS

    return LaunchDescription([
        *(DeclareLaunchArgument(o.name, default_value=o.launch_default, description=o.describe())
          for o in GRAPH_OPTIONS),
        DeclareLaunchArgument("rviz", default_value="false", description="also start RViz (config/rviz/<robot>.rviz)"),
        DeclareLaunchArgument("gui", default_value="false", description="backend:=gazebo: also open Gazebo's GUI"),
        OpaqueFunction(function=_nodes),
    ])
