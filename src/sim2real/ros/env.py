"""Process-wide settings every ROS entry point applies before rclpy.init."""
from __future__ import annotations

import contextlib
import os
import sys


def setup() -> None:
    # Discovery stays on this host unless the user widens it (a documented choice).
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    os.environ.setdefault("MUJOCO_GL", "egl")
    os.environ.setdefault("RCUTILS_COLORIZED_OUTPUT", "0")
    # dead participants leave the graph after 2 s, not 20 (config/dds/fastdds.xml says why)
    if "FASTDDS_DEFAULT_PROFILES_FILE" not in os.environ:
        from sim2real import paths
        xml = paths.resolve("config/dds/fastdds.xml")
        if xml.is_file():
            os.environ["FASTDDS_DEFAULT_PROFILES_FILE"] = str(xml)
    # Threads (the real-time stepper, the executor) trade the GIL every 0.5 ms, not 5 ms.
    sys.setswitchinterval(0.0005)
    try:
        import torch
        torch.set_num_threads(1)   # more threads on 2 cores pushed control-loop p99 to tens of ms
    except ImportError:
        pass


def domain_id() -> int:
    """ROS_DOMAIN_ID (0 when unset). Pass it explicitly to rclpy.init for a context of our own:
    a non-default context initialised without one reports that domain but discovered nothing of
    other processes here (rclpy kilted, Fast DDS)."""
    try:
        return int(os.environ.get("ROS_DOMAIN_ID", "0") or 0)
    except ValueError:
        return 0


@contextlib.contextmanager
def temporary_node(name: str):
    """A node in a ROS context of its own (this process's domain), shut down on leaving: for
    commands that look at or poke a running graph for a moment (lock reset, graph probes)."""
    setup()
    import rclpy
    ctx = rclpy.Context()
    rclpy.init(context=ctx, domain_id=domain_id())
    try:
        node = rclpy.create_node(name, context=ctx)
        try:
            yield node
        finally:
            node.destroy_node()
    finally:
        rclpy.shutdown(context=ctx)
