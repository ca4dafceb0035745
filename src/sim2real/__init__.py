"""sim2real: take robot control policies learned in simulation to real robots (ROS 2)."""
import os

# MuJoCo picks its GL backend at import: offscreen EGL unless the user chose otherwise.
os.environ.setdefault("MUJOCO_GL", "egl")

__version__ = "0.1.0"
