"""`sim2real view`: the graph in a browser (viser), for machines without RViz.

scene.py: geometry and forward kinematics from the robot's MuJoCo model; app.py: the viser
server and what it draws; cli.py: the command's options and entry point. The ROS side (the
subscriptions) is ros/nodes/viewer.py: no rclpy here.
"""
