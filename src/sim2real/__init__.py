"""sim2real: take robot control policies learned in simulation to real robots (ROS 2)."""
__version__ = "0.1.0"
