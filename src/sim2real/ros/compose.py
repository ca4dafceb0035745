"""`sim2real up`: compose the graph's nodes in one process (ROS 2 manual composition) with the
events executor, or start one process per node (--processes) so topics really cross DDS."""
from __future__ import annotations

import importlib
import json
import os
import signal
import subprocess
import sys
import time

from sim2real.graph import NODE_KINDS, NodeDecl
from sim2real.ros import env


def node_class(kind: str):
    module, cls = NODE_KINDS[kind].split(":")
    return getattr(importlib.import_module(module), cls)


def ros_args(decl: NodeDecl, with_params: bool) -> list[str]:
    args = ["--ros-args", "-r", f"__node:={decl.name}"]
    for a, b in decl.remaps.items():
        args += ["-r", f"{a}:={b}"]
    if with_params:
        for k, v in decl.params.items():
            args += ["-p", f"{k}:={json.dumps(v)}"]
    return args


def make_node(decl: NodeDecl, context=None):
    from rclpy.parameter import Parameter
    params = [Parameter(k, value=v) for k, v in decl.params.items()]
    return node_class(decl.kind)(parameter_overrides=params, cli_args=ros_args(decl, False),
                                 use_global_arguments=False, context=context)


class Composition:
    """The graph's nodes in this process. Use as a context manager; `spin()` runs it."""

    def __init__(self, decls: list[NodeDecl], domain_id: int | None = None):
        """domain_id: a DDS domain of its own. Compose twice in one process on the same domain and
        the new participants keep serving the closed ones until their lease (20 s) runs out, which
        a real-time graph notices (a third of its states go unanswered)."""
        env.setup()
        import rclpy
        from rclpy.experimental import EventsExecutor
        self.rclpy = rclpy
        self.context = rclpy.Context()
        rclpy.init(context=self.context, domain_id=domain_id)
        self.executor = EventsExecutor(context=self.context)
        self.nodes = {}
        try:
            for d in decls:
                self.nodes[d.name] = make_node(d, self.context)
                self.executor.add_node(self.nodes[d.name])
        except Exception:
            self.close()
            raise

    def spin(self, until_driver_done: bool = True, timeout_s: float | None = None, until: str = "driver") -> None:
        """Spin until node `until` calls its on_done (the driver's end of run, the doctor's end of
        experiment), Ctrl-C, or timeout_s wall seconds."""
        from rclpy.task import Future
        fut = Future()
        node = self.nodes.get(until)
        if until_driver_done and node is not None:
            node.on_done = lambda: fut.set_result(True)
        end = None if timeout_s is None else time.monotonic() + timeout_s
        try:   # short waits: the events executor only notices Ctrl-C between them
            while not fut.done() and self.context.ok() and (end is None or time.monotonic() < end):
                self.executor.spin_until_future_complete(fut, timeout_sec=0.2)
        except KeyboardInterrupt:
            pass

    def spin_for(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.executor.spin_once(timeout_sec=min(0.05, max(0.0, end - time.monotonic())))

    def remove(self, name: str) -> None:
        """Kill one node (as if its process died)."""
        node = self.nodes.pop(name)
        self.executor.remove_node(node)
        for _ in range(3):   # let events already queued for it drain before its handles go
            self.executor.spin_once(timeout_sec=0.01)
        node.destroy_node()

    def add(self, decl: NodeDecl) -> None:
        self.nodes[decl.name] = make_node(decl, self.context)
        self.executor.add_node(self.nodes[decl.name])

    def close(self) -> None:
        for node in list(self.nodes.values()):
            try:
                node.destroy_node()
            except Exception as e:  # noqa: BLE001 - keep closing the others
                print(f"sim2real: closing {node.get_name()}: {e}", file=sys.stderr)
        self.nodes.clear()
        try:
            self.executor.shutdown()
        except Exception:  # noqa: BLE001
            pass
        if self.context.ok():
            self.rclpy.shutdown(context=self.context)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _die_with_parent() -> None:
    """Linux: a node process gets SIGTERM when `sim2real up` dies, so none is left orphaned."""
    try:
        import ctypes
        ctypes.CDLL("libc.so.6").prctl(1, signal.SIGTERM)   # PR_SET_PDEATHSIG
    except OSError:
        pass


def run_processes(decls: list[NodeDecl], duration_s: float | None = None) -> int:
    """One OS process per node; Ctrl-C (or duration_s) stops them all."""
    env.setup()
    procs = []
    for d in decls:
        cmd = [sys.executable, "-m", "sim2real.ros.run_node", d.kind, *ros_args(d, True)]
        procs.append(subprocess.Popen(cmd, env=os.environ.copy(), preexec_fn=_die_with_parent))
    try:
        end = None if duration_s is None else time.monotonic() + duration_s
        while all(p.poll() is None for p in procs) and (end is None or time.monotonic() < end):
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGINT)
    rc = 0
    for p in procs:
        try:
            rc = rc or (p.wait(timeout=5) or 0)
        except subprocess.TimeoutExpired:
            p.kill()
    return rc
