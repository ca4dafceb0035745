"""Fault injection on the graph as `ros2 launch` runs it: one process per node (`sim2real up
--processes`), watched by a foreign process's observer; scenarios report `Outcome`s (see
ros/fault_outcome.py for what counts as unsafe)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from sim2real.ros.fault_outcome import DEAD_DRIFT, LOCK_DRIFT, OVERSPEED, OVERTRAVEL, Outcome, domains


class _Observer:
    """A foreign process's view of a running graph: true joint states (nominal twin), diagnostics."""

    def __init__(self, domain: int):
        import rclpy
        from diagnostic_msgs.msg import DiagnosticArray
        from rclpy.executors import SingleThreadedExecutor
        from sensor_msgs.msg import JointState
        self.ctx = rclpy.Context()
        rclpy.init(context=self.ctx, domain_id=domain)
        self.node = rclpy.create_node("observer", context=self.ctx)
        self.lock = threading.Lock()
        self.states: list[tuple[float, np.ndarray, np.ndarray]] = []
        self.stamps: list[tuple[float, float]] = []          # (wall receipt, state stamp s)
        self.diags: list[str] = []
        self.driver_moving: list[float] = []                 # wall times the driver was not holding
        self.node.create_subscription(JointState, "/joint_states", self._on_js, 100)
        self.node.create_subscription(DiagnosticArray, "/diagnostics", self._on_diag, 50)
        from std_msgs.msg import String

        from sim2real.ros.qos import LATCHED
        self.policy_since: float | None = None    # wall time the policy took control
        self.node.create_subscription(String, "/teleop/active", self._on_active, LATCHED)
        self.ex = SingleThreadedExecutor(context=self.ctx)
        self.ex.add_node(self.node)
        self.th = threading.Thread(target=self._spin, daemon=True)
        self.th.start()

    def _spin(self):
        while self.ctx.ok():
            try:
                self.ex.spin_once(timeout_sec=0.05)
            except Exception:  # noqa: BLE001
                return

    def _on_js(self, msg):
        now = time.monotonic()
        with self.lock:
            self.states.append((now, np.array(msg.position[:7]), np.array(msg.velocity[:7])))
            self.stamps.append((now, msg.header.stamp.sec + 1e-9 * msg.header.stamp.nanosec))

    def _on_active(self, msg):
        if msg.data == "policy" and self.policy_since is None:
            self.policy_since = time.monotonic()

    def _on_diag(self, msg):
        from diagnostic_msgs.msg import DiagnosticStatus
        now = time.monotonic()
        for st in msg.status:
            with self.lock:
                if st.level != DiagnosticStatus.OK:
                    self.diags.append(f"{st.name}: {st.message}")
                if st.name == "sim2real/driver" and "holding" not in st.message:
                    self.driver_moving.append(now)

    def since(self, t0: float):
        with self.lock:
            return [s for s in self.states if s[0] >= t0]

    def close(self):
        import rclpy
        self.ex.shutdown()
        self.node.destroy_node()
        if self.ctx.ok():
            rclpy.shutdown(context=self.ctx)


def _motion(states, q0, robot) -> tuple[float, float, float]:
    """Over observed states (wall, q, qd): the largest move from q0 (rad), the largest speed as a
    share of the joint's velocity limit, and the furthest past a hard position limit (rad)."""
    drift = max(float(np.max(np.abs(q - q0))) for _, q, _ in states)
    speed = max(float(np.max(np.abs(qd) / robot.velocity_limit)) for _, _, qd in states)
    travel = max(float(np.max(np.maximum(q - robot.position_upper, robot.position_lower - q))) for _, q, _ in states)
    return drift, speed, travel


def _unsafe_motion(states, q0, robot, drift_limit: float, while_: str) -> list[str]:
    """What was unsafe in the observed states `while_` the fault lasted (empty: nothing)."""
    if not states:
        return [f"no joint states {while_}"]
    drift, speed, travel = _motion(states, q0, robot)
    out = []
    if speed > OVERSPEED:
        out.append(f"joint at {speed:.2f}x its velocity limit {while_}")
    if travel > OVERTRAVEL:
        out.append(f"joint {travel:.3f} rad past a hard limit {while_}")
    if drift > drift_limit:
        out.append(f"the arm moved {drift:.2f} rad {while_}")
    return out


def _children(pid: int) -> dict[str, int]:
    """run_node kind -> pid among the descendants of `pid`."""
    out = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
            cmd = (d / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == pid and b"sim2real.ros.run_node" in cmd:
            out[cmd[cmd.index(b"sim2real.ros.run_node") + 1].decode()] = int(d.name)
    return out


RESUME_GRACE_S = 10.0     # beyond settle_s: how long a restarted graph may take to move again


def node_deaths(kinds=("safety", "controller", "policy", "mux", "driver"), settle_s: float = 6.0) -> list[Outcome]:
    """`sim2real up --backend twin --processes`; kill -9 each node in turn, watch the arm meanwhile."""
    from sim2real.robots import load_robot
    robot = load_robot("jaco")
    domain = next(domains) % 232
    up, log = _start_up(["--backend", "twin", "--processes", "--no-camera", "--targets", "1"], domain)
    obs = _Observer(domain)
    outcomes = []
    try:
        _wait_settled(obs)                           # the reach is done; the arm holds the target
        for kind in kinds:
            pid = _children(up.pid).get(kind)
            if pid is None:
                outcomes.append(Outcome(f"kill -9 {kind}", "-", [f"no '{kind}' process found"]))
                continue
            before = obs.since(time.monotonic() - 0.2)
            q0 = before[-1][1] if before else None
            t_kill = time.monotonic()
            os.kill(pid, signal.SIGKILL)
            time.sleep(settle_s)
            after = obs.since(t_kill)
            unsafe = []
            if q0 is not None and after:
                pre_restart = [s for s in after if kind != "driver" or s[0] < t_kill + 0.5]
                if pre_restart:
                    drift, speed, _ = _motion(pre_restart, q0, robot)
                    if drift > DEAD_DRIFT:
                        unsafe.append(f"arm drifted {drift:.2f} rad")
                    if speed > OVERSPEED:
                        unsafe.append(f"joint at {speed:.2f}x its velocity limit")
            deadline = t_kill + settle_s + RESUME_GRACE_S    # a cold restart (imports, model, discovery)
            while True:                                          # on a loaded machine can take longer
                with obs.lock:
                    resumed = any(t > t_kill + 1.0 for t in obs.driver_moving)
                if resumed or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            if not resumed:
                unsafe.append(f"graph did not resume within {settle_s + RESUME_GRACE_S:.0f} s (the driver kept holding)")
            log.flush()
            text = Path(log.name).read_text()
            named = [ln.strip() for ln in text.splitlines() if "died" in ln and f"'{_name_of(kind)}'" in ln]
            restarted = [ln.strip() for ln in text.splitlines() if "restarting" in ln and f"'{_name_of(kind)}'" in ln]
            with obs.lock:
                diag = [d for d in obs.diags[-200:] if "holding" in d or "watchdog" in d][:1]
            outcomes.append(Outcome(f"kill -9 {_name_of(kind)} (twin, processes)", "1 kill", unsafe,
                                    named[-1:] + restarted[-1:] + diag))
    finally:
        obs.close()
        rc = _stop_up(up)
    if rc != 0:
        outcomes.append(Outcome("Ctrl-C after the kills", "SIGINT", [f"sim2real up exited {rc}"]))
    return outcomes


def _wait_settled(obs: "_Observer", limit_s: float = 90.0) -> None:
    """Until the policy drives the arm and the arm has been at rest for a second after its reach:
    processes start in several seconds here, and a reach takes a few."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit_s:
        time.sleep(0.2)
        with obs.lock:
            driving = obs.policy_since is not None and time.monotonic() - obs.policy_since > 2.0
        recent = obs.since(time.monotonic() - 1.0)
        if driving and len(recent) > 100 and max(float(np.max(np.abs(qd))) for _, _, qd in recent) < 0.02:
            return


def _start_up(args: list[str], domain: int, cwd: str | None = None):
    env = {**os.environ, "ROS_DOMAIN_ID": str(domain)}
    log = tempfile.NamedTemporaryFile("w+", suffix=".log", delete=False)
    up = subprocess.Popen([sys.executable, "-m", "sim2real.cli", "up", *args], env=env, cwd=cwd,
                          stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    return up, log


def _stop_up(up) -> int:
    if up.poll() is None:
        os.killpg(up.pid, signal.SIGINT)
    try:
        return up.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(up.pid, signal.SIGKILL)
        return -9


FLOODER = """
import sys, time
from sim2real.ros import env; env.setup()
import rclpy
from sensor_msgs.msg import JointState
from sim2real.ros import convert
from sim2real.robots import load_robot
rclpy.init(domain_id=int(sys.argv[1]))
node = rclpy.create_node("flooder")
robot = load_robot("jaco")
pubs = [node.create_publisher(JointState, t, 10) for t in ("/teleop/desired", "/policy/desired")]
q = robot.home + 0.6
time.sleep(1.0)                                   # discovery
period, seconds, n = 1.0 / float(sys.argv[2]), float(sys.argv[3]), 0
t0 = time.perf_counter()
while time.perf_counter() - t0 < seconds:
    msg = convert.joint_state(time.time(), robot.joint_names, q)     # wall-clock stamps: the twin's clock
    for p in pubs:
        p.publish(msg)
    n += 1
    time.sleep(max(0.0, t0 + n * period - time.perf_counter()))
print(n / seconds, flush=True)
"""


def flood_realtime(rate_hz: float = 5000.0, seconds: float = 3.0) -> Outcome:
    """The real-time twin, one process per node; a foreign process floods /teleop/desired and
    /policy/desired with valid desired states (0.6 rad away) at rate_hz; the arm must stay within
    its limits and keep the policy's pose (the flood never takes the mux)."""
    from sim2real.robots import load_robot
    robot = load_robot("jaco")
    domain = next(domains) % 232
    up, log = _start_up(["--backend", "twin", "--processes", "--no-camera", "--targets", "1"], domain)
    obs = _Observer(domain)
    unsafe, diags, injected = [], [], "-"
    try:
        _wait_settled(obs)                            # the reach is done: the arm holds the target
        q0 = obs.since(time.monotonic() - 0.2)[-1][1]
        env = {**os.environ, "ROS_DOMAIN_ID": str(domain)}
        t_flood = time.monotonic()
        fl = subprocess.run([sys.executable, "-c", FLOODER, str(domain), str(rate_hz), str(seconds)], env=env,
                            capture_output=True, text=True, timeout=60)
        reached = float(fl.stdout.strip().splitlines()[-1]) if fl.stdout.strip() else 0.0
        injected = f"{reached * seconds * 2:.0f} messages ({reached:.0f}/s on 2 topics)"
        time.sleep(1.0)
        unsafe += _unsafe_motion(obs.since(t_flood), q0, robot, DEAD_DRIFT, "during the flood")
        with obs.lock:
            diags = [d for d in obs.diags if "flood" in d or "without a fresh command" in d or "holding" in d]
        diags = list(dict.fromkeys(d.split(";")[0] if "teleop_mux" not in d else d for d in diags))[:3]
    finally:
        obs.close()
        _stop_up(up)
    return Outcome(f"{rate_hz / 1e3:g} kHz flood on the desired topics (twin, processes)", injected, unsafe, diags)


def lock_slow_loop(reality: str = "config/reality/laggy-noisy.yaml", seconds: float = 4.0) -> Outcome:
    """The teleop lock on the real-time twin of a slow loop (laggy-noisy: 14 ms of transport, 20 ms
    of actuator lag), one process per node: the filter's hold must keep the arm where it was. With
    gains set for a fast loop it threw joints to 14-25 rad/s."""
    from std_msgs.msg import Bool

    from sim2real import paths
    from sim2real.robots import load_robot
    from sim2real.ros.qos import LATCHED
    robot = load_robot("jaco")
    domain = next(domains) % 232
    up, log = _start_up(["--backend", "twin", "--reality", str(paths.resolve(reality)), "--processes",
                         "--no-camera", "--targets", "1"], domain)
    obs = _Observer(domain)
    unsafe, diags, injected = [], [], "-"
    try:
        lock = obs.node.create_publisher(Bool, "/teleop/lock", LATCHED)     # as a teleop node's
        _wait_settled(obs)
        before = obs.since(time.monotonic() - 0.2)
        if not before:
            raise RuntimeError("no joint states from the graph within 90 s: is the machine overloaded?")
        q0 = before[-1][1]
        t_lock = time.monotonic()
        lock.publish(Bool(data=True))
        injected = f"lock for {seconds:g} s"
        time.sleep(seconds)
        # from 0.1 s on: the lock's first states on their way
        unsafe += _unsafe_motion(obs.since(t_lock + 0.1), q0, robot, LOCK_DRIFT, "under the lock")
        lock.publish(Bool(data=False))
        with obs.lock:
            diags = list(dict.fromkeys(d.split(";")[0] for d in obs.diags if "lock" in d))[:2]
    finally:
        obs.close()
        _stop_up(up)
    name = Path(reality).stem
    return Outcome(f"teleop lock on a slow loop ({name} twin, processes)", injected, unsafe, diags)


def recording_kill(settle_s: float = 3.0) -> Outcome:
    """`sim2real up --processes --record F` (lockstep); kill -9 the recorder mid-run; the supervisor
    restarts it (into F.part2.mcap); `sim2real data recover F` must give a file every MCAP reader opens."""
    from mcap.reader import make_reader
    from mcap_ros2.reader import read_ros2_messages

    from sim2real.data.recover import recover
    domain = next(domains) % 232
    work = Path(tempfile.mkdtemp(prefix="sim2real-faults-"))
    rec = work / "run.mcap"
    up, log = _start_up(["--processes", "--no-camera", "--record", str(rec), "--duration", "120"], domain)
    obs = _Observer(domain)
    unsafe, diags, lost = [], [], "-"
    try:
        t0 = time.monotonic()
        while time.monotonic() - t0 < 60 and (not rec.exists() or rec.stat().st_size < 20_000):
            time.sleep(0.2)
        time.sleep(settle_s)
        pid = _children(up.pid).get("recorder")
        if pid is None:
            return Outcome("kill -9 recorder while recording", "-", ["no recorder process found"])
        os.kill(pid, signal.SIGKILL)
        t_kill = time.monotonic()
        with obs.lock:
            sim_kill = max((st for w, st in obs.stamps if w <= t_kill), default=0.0)
        time.sleep(settle_s)
        rc = _stop_up(up)
        if rc != 0:
            unsafe.append(f"sim2real up exited {rc} after Ctrl-C")
        r = recover(rec, work / "run.recovered.mcap")
        with open(r.output, "rb") as f:
            n_indexed = sum(1 for _ in make_reader(f).iter_messages())
        n_ros2 = sum(1 for _ in read_ros2_messages(str(r.output)))
        if not (n_indexed == n_ros2 == r.messages > 0):
            unsafe.append(f"recovered file unreadable (indexed {n_indexed}, mcap_ros2 {n_ros2}, kept {r.messages})")
        part2 = rec.with_name("run.part2.mcap")
        if part2.exists():
            with open(part2, "rb") as f:
                n2 = sum(1 for _ in make_reader(f).iter_messages())
            diags.append(f"restarted recorder: {part2.name} ({n2} messages, closed cleanly on Ctrl-C)")
        else:
            unsafe.append("the restarted recorder wrote nothing")
        tail = sim_kill - r.end_ns * 1e-9 if r.end_ns else float("nan")
        lost = f"{tail:.2f} s sim at the tear"
        text = Path(log.name).read_text()
        diags = [ln.strip() for ln in text.splitlines() if "'recorder' died" in ln][:1] + diags
        diags.append(r.lines()[0].split(": ", 1)[-1])
    finally:
        obs.close()
        _stop_up(up)
    return Outcome("kill -9 recorder while recording", "1 kill", unsafe, diags, lost)


def _name_of(kind: str) -> str:
    return {"safety": "safety_filter", "mux": "teleop_mux"}.get(kind, kind)
