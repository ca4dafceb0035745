"""ament_python entry for colcon builds on a full ROS 2 install.

Installs launch/, config/, urdf/ and models/ under share/sim2real, where
`sim2real.paths` finds them through ament_index.
"""
import os
from glob import glob

from setuptools import find_packages, setup

PACKAGE = "sim2real"


def tree(folder):
    """(install dir, [files]) pairs for every file below folder."""
    out = []
    for root, _, files in os.walk(folder):
        if files:
            out.append((os.path.join("share", PACKAGE, root), [os.path.join(root, f) for f in files]))
    return out


setup(
    name=PACKAGE,
    version="0.1.0",
    package_dir={"": "src"},
    packages=find_packages("src"),
    data_files=[
        ("share/ament_index/resource_index/packages", ["resource/" + PACKAGE]),
        ("share/" + PACKAGE, ["package.xml"]),
        *tree("launch"), *tree("config"), *tree("urdf"), *tree("models"),
    ],
    zip_safe=True,
    entry_points={"console_scripts": [
        "sim2real = sim2real.cli:main",
        "sim2real_node = sim2real.ros.run_node:main",
    ]},
)
