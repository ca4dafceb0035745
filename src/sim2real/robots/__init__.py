from sim2real.robots.actuation import pd_torque  # noqa: F401
from sim2real.robots.registry import ROBOTS, load_robot, robot_configs  # noqa: F401
from sim2real.robots.spec import RobotSpec  # noqa: F401
