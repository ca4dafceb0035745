"""Bring up the sim2real graph on a full ROS 2 install (colcon build; source install/setup.bash).

    ros2 launch sim2real bringup.launch.py robot:=jaco backend:=mujoco
    ros2 launch sim2real bringup.launch.py backend:=twin reality:=config/reality/heavy-sticky.yaml

The nodes, parameters and remappings come from sim2real.graph.build_graph, the same declaration
`sim2real up` composes, so the two never drift apart. robot_state_publisher serves the URDF on
/robot_description for RViz.
"""
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node


def _nodes(context):
    from sim2real import paths
    from sim2real.graph import build_graph
    from sim2real.robots import load_robot

    def arg(name):
        return LaunchConfiguration(name).perform(context)

    robot, backend, reality, record = arg("robot"), arg("backend"), arg("reality"), arg("record")
    spec = load_robot(robot)
    decls = build_graph(robot, backend, reality or None, record=record or None, controller=arg("controller"),
                        controller_checkpoint=arg("controller_checkpoint") or None)
    actions = [Node(package="sim2real", executable="sim2real_node", name=d.name, arguments=[d.kind],
                    parameters=[d.params], remappings=list(d.remaps.items()), output="screen")
               for d in decls]
    urdf = paths.resolve(spec.urdf_path).read_text()
    actions.append(Node(package="robot_state_publisher", executable="robot_state_publisher",
                        parameters=[{"robot_description": urdf, "use_sim_time": backend == "mujoco"}],
                        output="screen"))
    return actions


def generate_launch_description():
    return LaunchDescription([
        DeclareLaunchArgument("robot", default_value="jaco", description="registered robot"),
        DeclareLaunchArgument("backend", default_value="mujoco", description="mujoco | twin | gazebo | hardware"),
        DeclareLaunchArgument("reality", default_value="", description="reality profile YAML (twin)"),
        DeclareLaunchArgument("record", default_value="", description="record to this .mcap"),
        DeclareLaunchArgument("controller", default_value="computed_torque",
                              description="computed_torque | local_linear | nn_prior_lqr | inverse_dynamics"),
        DeclareLaunchArgument("controller_checkpoint", default_value="",
                              description="learned controller modes: checkpoint (default under models/ROBOT/)"),
        OpaqueFunction(function=_nodes),
    ])
