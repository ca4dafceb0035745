from sim2real.robots.registry import ROBOTS, load_robot  # noqa: F401
from sim2real.robots.spec import RobotSpec  # noqa: F401
