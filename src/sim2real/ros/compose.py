"""`sim2real up`: compose the graph's nodes in one process (ROS 2 manual composition) with the
events executor, or start one process per node (--processes) so topics really cross DDS, under a
supervisor that names a node that dies and restarts it (as launch's respawn)."""
from __future__ import annotations

import importlib
import json
import os
import signal
import subprocess
import sys
import time

from sim2real.errors import ConfigError
from sim2real.graph import NODE_KINDS, NodeDecl
from sim2real.ros import env
from sim2real.ros.signals import StopSignals


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
    """The node `decl` declares. A parameter it was given that the node does not declare (a typo
    in `-p`, in a params file or graph.yaml) is an error naming the node's parameters: rclpy
    would drop it in silence."""
    from rclpy.parameter import Parameter
    params = [Parameter(k, value=v) for k, v in decl.params.items()]
    node = node_class(decl.kind)(parameter_overrides=params, cli_args=ros_args(decl, False),
                                 use_global_arguments=False, context=context)
    unknown = sorted(k for k in decl.params if k not in decl.shared and not node.has_parameter(k))
    if unknown:
        have = sorted(k for k in node._parameters if k != "use_sim_time") + ["use_sim_time"]
        node.destroy_node()
        raise ConfigError(f"node '{decl.name}' ({decl.kind}) has no parameter {', '.join(unknown)}; "
                          f"its parameters: {', '.join(have)}")
    return node


class Composition:
    """The graph's nodes in this process. Use as a context manager; `spin()` runs it."""

    def __init__(self, decls: list[NodeDecl], domain_id: int | None = None, in_process: bool = True):
        """domain_id: a DDS domain of its own. Compose twice in one process on the same domain and
        the new participants keep serving the closed ones until their lease (20 s) runs out, which
        a real-time graph notices (a third of its states go unanswered).

        in_process: the nodes' messages reach each other's control-loop inputs in-process
        (ros/sourced.attach, as rclcpp's intra-process communication), pinned and gated as over
        DDS, which still carries them to every other listener; False: every hop crosses DDS."""
        self.in_process = in_process
        env.setup()
        import rclpy
        from rclpy.experimental import EventsExecutor
        self.rclpy = rclpy
        self.context = rclpy.Context()
        rclpy.init(context=self.context, domain_id=env.domain_id() if domain_id is None else domain_id)
        self.executor = EventsExecutor(context=self.context)
        self.nodes = {}
        try:
            for d in decls:
                self.add(d)
            shared = set().union(*(d.shared for d in decls)) if decls else set()
            nobody = sorted(k for k in shared if not any(n.has_parameter(k) for n in self.nodes.values()))
            if nobody:
                raise ConfigError(f"no node of this graph has a parameter {', '.join(nobody)} "
                                  f"(given to every node: --ros-args -p NAME:=VALUE or a params file's /**)")
        except Exception:
            self.close()
            raise

    def spin(self, until_driver_done: bool = True, timeout_s: float | None = None, until: str = "driver") -> bool:
        """Spin until node `until` calls its on_done (the driver's end of run, the doctor's end of
        experiment), SIGINT/SIGTERM, or timeout_s wall seconds. True when a signal stopped it."""
        from rclpy.task import Future
        fut = Future()
        node = self.nodes.get(until)
        if until_driver_done and node is not None:
            node.on_done = lambda: fut.set_result(True)
        end = None if timeout_s is None else time.monotonic() + timeout_s
        with StopSignals() as stop:   # short waits: the loop notices a signal between them
            while (not fut.done() and not stop.is_set() and self.context.ok()
                   and (end is None or time.monotonic() < end)):
                self.executor.spin_until_future_complete(fut, timeout_sec=0.1)
        return stop.is_set()

    def spin_for(self, seconds: float) -> bool:
        """Spin `seconds` wall seconds or until SIGINT/SIGTERM; True when a signal stopped it."""
        end = time.monotonic() + seconds
        with StopSignals() as stop:
            while time.monotonic() < end and not stop.is_set():
                self.executor.spin_once(timeout_sec=min(0.05, max(0.0, end - time.monotonic())))
        return stop.is_set()

    def remove(self, name: str) -> None:
        """Kill one node (as if its process died)."""
        node = self.nodes.pop(name)
        if self.in_process:
            from sim2real.ros import sourced
            sourced.detach(node)
        self.executor.remove_node(node)
        for _ in range(3):   # let events already queued for it drain before its handles go
            self.executor.spin_once(timeout_sec=0.01)
        node.destroy_node()

    def add(self, decl: NodeDecl) -> None:
        node = self.nodes[decl.name] = make_node(decl, self.context)
        if self.in_process:
            from sim2real.ros import sourced
            sourced.attach(node)
        self.executor.add_node(node)

    def close(self) -> None:
        for node in list(self.nodes.values()):
            try:
                node.destroy_node()
            except Exception as e:  # noqa: BLE001 - keep closing the others
                print(f"sim2real: closing {node.get_name()}: {e}", file=sys.stderr)
        self.nodes.clear()
        from sim2real.ros import sourced
        sourced.stop(self.context)
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


def _node_process() -> None:
    """preexec_fn of a supervised node: dies with the supervisor, and SIGINT/SIGTERM stay pending
    (blocked across exec) until run_node has its handlers: a stop during the interpreter's start-up
    is a clean stop, not a KeyboardInterrupt traceback from site.py."""
    _die_with_parent()
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})


def _how(rc: int) -> str:
    if rc < 0:
        try:
            return f"killed by {signal.Signals(-rc).name}"
        except ValueError:
            return f"killed by signal {-rc}"
    return f"exit status {rc}"


class _ClockWatch:
    """The supervisor's ear on /clock, so a restarted lockstep driver resumes the sim time."""

    def __init__(self):
        import threading

        import rclpy
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.qos import qos_profile_sensor_data
        from rosgraph_msgs.msg import Clock
        self.t = 0.0
        self.context = rclpy.Context()
        rclpy.init(context=self.context, domain_id=env.domain_id())
        self.node = rclpy.create_node("sim2real_supervisor", context=self.context)
        self.node.create_subscription(Clock, "/clock", self._on_clock, qos_profile_sensor_data)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._spin, daemon=True)
        self._thread.start()

    def _on_clock(self, msg) -> None:
        self.t = max(self.t, msg.clock.sec + 1e-9 * msg.clock.nanosec)

    def _spin(self) -> None:
        while not self._stop.is_set():
            self.executor.spin_once(timeout_sec=0.1)

    def close(self) -> None:
        import rclpy
        self._stop.set()
        self._thread.join(timeout=2.0)
        self.executor.shutdown()
        self.node.destroy_node()
        if self.context.ok():
            rclpy.shutdown(context=self.context)


def run_processes(decls: list[NodeDecl], respawn: bool = True, max_restarts: int = 5, log=print) -> int:
    """One OS process per node, supervised. A node that dies is named and restarted (up to
    max_restarts times each; a restarted lockstep driver resumes the sim clock); the driver
    ending its run (--duration, in sim seconds) ends the graph. SIGINT/SIGTERM stop every node
    with SIGINT, in order, and return 0; a node that stays dead returns 1."""
    env.setup()
    lockstep = any(d.kind == "driver" and d.params.get("mode") == "lockstep" for d in decls)
    clock = _ClockWatch() if lockstep else None

    def spawn(d: NodeDecl, extra: list[str] = ()) -> subprocess.Popen:
        cmd = [sys.executable, "-m", "sim2real.ros.run_node", d.kind, *ros_args(d, True), *extra]
        # a process group of its own: a terminal's Ctrl-C reaches the supervisor only, which stops
        # the nodes in order (the driver last); PR_SET_PDEATHSIG still ends them if it dies
        return subprocess.Popen(cmd, env=os.environ.copy(), preexec_fn=_node_process, process_group=0)

    procs = {d.name: spawn(d) for d in decls}
    restarts = {d.name: 0 for d in decls}
    rc = 0
    started = time.monotonic()
    try:
        with StopSignals() as stop:
            while not stop.is_set():
                time.sleep(0.1)
                finished = False
                for d in decls:
                    code = procs[d.name].poll()
                    if code is None or stop.is_set():
                        continue
                    if code == 0 and d.kind == "driver":
                        finished = True        # the run's duration is over
                        break
                    if code == 0:              # stopped on purpose (SIGINT/SIGTERM): not a crash
                        if restarts[d.name] >= 0:
                            log(f"sim2real up: node '{d.name}' stopped (exit status 0); not restarted", file=sys.stderr)
                            restarts[d.name] = -1
                        continue
                    log(f"sim2real up: node '{d.name}' died ({_how(code)})", file=sys.stderr)
                    if not respawn or restarts[d.name] >= max_restarts:
                        log(f"sim2real up: '{d.name}' stays down after {restarts[d.name]} restarts; stopping the graph",
                            file=sys.stderr)
                        rc = 1
                        finished = True
                        break
                    restarts[d.name] += 1
                    extra = []
                    if d.kind == "driver" and clock is not None:
                        # past the last /clock (every 20 ms) and what was in flight: no stamp goes back
                        extra = ["-p", f"start_time_s:={clock.t + 0.1:.6f}"]
                    log(f"sim2real up: restarting '{d.name}' ({restarts[d.name]}/{max_restarts})"
                        + (f", resuming the clock at {clock.t:.3f} s" if extra else ""), file=sys.stderr)
                    procs[d.name] = spawn(d, extra)
                if finished:
                    break
            drivers = [d.name for d in decls if d.kind == "driver"]
            try:
                for group in ([n for n in procs if n not in drivers], drivers):   # the driver last: it holds the arm
                    for n in group:
                        if procs[n].poll() is None:
                            procs[n].send_signal(signal.SIGINT)
                    for n in group:
                        try:
                            procs[n].wait(timeout=5)
                        except subprocess.TimeoutExpired:
                            log(f"sim2real up: '{n}' did not stop within 5 s; killed", file=sys.stderr)
                            procs[n].kill()
            except KeyboardInterrupt:   # a second Ctrl-C: no more waiting
                log("sim2real up: second interrupt: killing every node", file=sys.stderr)
                for p in procs.values():
                    if p.poll() is None:
                        p.kill()
                rc = 130
    except KeyboardInterrupt:   # a second Ctrl-C before the stop sequence began
        log("sim2real up: second interrupt: killing every node", file=sys.stderr)
        for p in procs.values():
            if p.poll() is None:
                p.kill()
        rc = 130
    finally:
        if clock is not None:
            clock.close()
            wall = time.monotonic() - started
            driver = next((d for d in decls if d.kind == "driver"), None)
            if clock.t > 0 and driver is not None:   # lockstep: the steps the sim clock counted (/clock every 20 ms)
                from sim2real.robots import load_robot
                steps = clock.t / load_robot(driver.params.get("robot", "jaco")).dt
                log(f"ran ~{steps:.0f} control steps ({clock.t:.2f} sim s) in {wall:.1f} s "
                    f"({steps / max(wall, 1e-9):.0f} steps/s, start-up included)")
    return rc
