"""ROS 2 message definitions as MCAP schemas (encoding `ros2msg`), the way rosbag2 stores them:
the type's .msg text, then each dependency as `MSG: pkg/Type` after a line of 80 '='.

The .msg files are found under <prefix>/share/<pkg>/msg/ for each prefix in AMENT_PREFIX_PATH
(a system ROS 2 install) and the running Python's prefix (the PyPI wheels put them there).
"""
from __future__ import annotations

import os
import re
import sys
from functools import lru_cache
from pathlib import Path

from sim2real.errors import Sim2RealError

PRIMITIVES = {"bool", "byte", "char", "float32", "float64", "int8", "uint8", "int16", "uint16", "int32",
              "uint32", "int64", "uint64", "string", "wstring", "time", "duration"}
SEPARATOR = "=" * 80


def _prefixes() -> list[Path]:
    out = [Path(p) for p in os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep) if p]
    out.append(Path(sys.prefix))
    return out


def _msg_file(pkg: str, name: str) -> Path:
    for prefix in _prefixes():
        p = prefix / "share" / pkg / "msg" / f"{name}.msg"
        if p.is_file():
            return p
    raise Sim2RealError(f"no definition for {pkg}/msg/{name} under {', '.join(map(str, _prefixes()))}")


def _split(type_name: str) -> tuple[str, str]:
    parts = type_name.split("/")
    if len(parts) == 3 and parts[1] == "msg":
        return parts[0], parts[2]
    if len(parts) == 2:
        return parts[0], parts[1]
    raise Sim2RealError(f"not a message type: {type_name!r} (expected pkg/msg/Type)")


def _dependencies(pkg: str, text: str) -> list[str]:
    """Complex field types used in a .msg text, as pkg/Type (constants and primitives skipped)."""
    deps = []
    for line in text.splitlines():
        tokens = line.split("#", 1)[0].split()
        if len(tokens) < 2 or "=" in tokens[1]:   # blank, or a constant `TYPE NAME=VALUE`
            continue
        ftype = re.sub(r"(<=\d+)?(\[.*\])?$", "", tokens[0])
        if ftype in PRIMITIVES or ftype.startswith("string<="):
            continue
        deps.append(ftype if "/" in ftype else f"{pkg}/{ftype}")
    return deps


@lru_cache(maxsize=None)
def schema_text(type_name: str) -> str:
    """The full `ros2msg` schema of e.g. 'sensor_msgs/msg/JointState'."""
    pkg, name = _split(type_name)
    root = _msg_file(pkg, name).read_text()
    parts, seen, todo = [root.strip()], set(), _dependencies(pkg, root)
    while todo:
        dep = todo.pop(0)
        if dep in seen:
            continue
        seen.add(dep)
        dpkg, dname = _split(dep)
        text = _msg_file(dpkg, dname).read_text()
        parts.append(f"{SEPARATOR}\nMSG: {dpkg}/{dname}\n{text.strip()}")
        todo.extend(_dependencies(dpkg, text))
    return "\n".join(parts) + "\n"
