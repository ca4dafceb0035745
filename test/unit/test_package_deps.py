"""package.xml names what the nodes import on a full ROS 2 install: every pip-installed key is
defined in rosdep/sim2real.yaml and every package it installs is pinned in requirements.txt."""
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_pip_keys_are_defined_and_pinned():
    deps = {e.text for e in ET.parse(ROOT / "package.xml").getroot().iter("exec_depend")}
    keys = yaml.safe_load((ROOT / "rosdep" / "sim2real.yaml").read_text())
    pinned = {m.group(1).lower() for m in re.finditer(r"^([A-Za-z0-9_.-]+)==", (ROOT / "requirements.txt").read_text(), re.M)}
    pip_deps = {d for d in deps if d.endswith("-pip")}
    assert {"python3-mujoco-pip", "python3-torch-pip", "python3-mcap-pip", "joy"} <= deps
    assert pip_deps <= set(keys), pip_deps - set(keys)
    for key in pip_deps:
        for os_name in ("debian", "ubuntu"):
            for pkg in keys[key][os_name]["pip"]["packages"]:
                assert pkg.lower() in pinned, f"{key}: {pkg} is not pinned in requirements.txt"
