import os
import random

import pytest

os.environ.setdefault("MUJOCO_GL", "egl")
# A private DDS domain per test session: parallel runs on one host never hear each other.
os.environ.setdefault("ROS_DOMAIN_ID", str(random.randint(1, 100)))
os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")


@pytest.fixture(scope="session")
def jaco():
    from sim2real.robots import load_robot
    return load_robot("jaco")
