#!/usr/bin/env bash
# The ROS install, then the workspace (sim2real, launch files, share/), then the venv's Python.
set -e
source "/opt/ros/${ROS_DISTRO:-kilted}/setup.bash"
source /ws/install/setup.bash
export PATH="${VENV:-/opt/sim2real-venv}/bin:${PATH}"
exec "$@"
