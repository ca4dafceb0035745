"""The web viewer's core (no rclpy): a viser server that draws the robot, the camera image, the
targets, end-effector paths and live plots, fed by plain method calls.

The ROS side (ros/nodes/viewer.py) calls `joint_state`, `imu`, `desired`, `target`, `image` and
`active` from its subscriptions and `render` from a steady timer; nothing here blocks on the
browser: viser queues what changed and its own thread sends it.

What is drawn, and at which rate (`render` decimates, so a 500 Hz /joint_states costs one FK per
render, not per message):
- the robot's geoms from its MuJoCo model, posed by MuJoCo's forward kinematics (view/scene.py),
  at the render rate (default 20 Hz);
- the target (/sim/target, red sphere) and the perceived target (/perception/target, green,
  translucent), as points in the world frame (base_link of a fixed-base robot is the world);
- the end effector's actual path (blue) and the path of the desired state's end effector
  (orange, the same forward kinematics on the desired joint positions), the last `trail` points;
- in the side panel: the camera image (at most 5 Hz), which input the teleop mux selected, and
  two plots over the last `window_s` seconds of message time (sampled at 50 Hz; seconds from
  the first sample, since the twin stamps wall-clock time and lockstep sim time): tracking error
  per joint (desired - actual position, from /controller/desired, else /policy/desired) and the
  measured joint torques (/joint_states effort).
"""
from __future__ import annotations

import threading
import time
from collections import deque

import numpy as np

from sim2real.robots.spec import RobotSpec
from sim2real.view.scene import RobotPoser, geom_mesh

PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
           "#bcbd22", "#17becf")
SAMPLE_HZ = 50.0      # plot samples per second of message time
PLOT_HZ = 4.0         # plot pushes to the browser per wall second
IMAGE_HZ = 5.0        # camera image pushes per wall second
STATUS_HZ = 2.0


class _Ring:
    """Fixed-size time series: (t, rows of values), oldest first."""

    def __init__(self, size: int, width: int):
        self.t = np.full(size, np.nan)
        self.v = np.full((size, width), np.nan)
        self.n = 0
        self.i = 0

    def append(self, t: float, values: np.ndarray) -> None:
        self.t[self.i] = t
        self.v[self.i] = values
        self.i = (self.i + 1) % len(self.t)
        self.n = min(self.n + 1, len(self.t))

    def clear(self) -> None:
        self.n = self.i = 0

    def series(self) -> tuple[np.ndarray, ...]:
        order = np.arange(self.i - self.n, self.i) % len(self.t)
        return (self.t[order], *self.v[order].T)


class ViewerApp:
    """One robot in a browser: http://HOST:PORT (see `url`)."""

    def __init__(self, robot: RobotSpec, host: str = "127.0.0.1", port: int = 8080, window_s: float = 10.0,
                 trail: int = 100, verbose: bool = False):
        import viser
        self.robot = robot
        self.poser = RobotPoser(robot)
        self.names = robot.joint_names
        self._lock = threading.Lock()
        # latest inputs (written by callbacks, read by render)
        self._q: dict[str, float] | None = None
        self._q_new = False
        self._base_wxyz = None
        self._desired: np.ndarray | None = None       # in robot.joint_names order
        self._desired_src: str | None = None
        self._desired_new = False
        self._targets: dict[str, np.ndarray] = {}
        self._targets_new: set[str] = set()
        self._image: np.ndarray | None = None
        self._active: str | None = None
        self._counts = {"joint_states": 0, "images": 0, "desired": 0}
        # plot buffers
        size = int(window_s * SAMPLE_HZ)
        self._err = _Ring(size, robot.n)
        self._eff = _Ring(size, robot.n)
        self._last_sample = -np.inf
        self._t0 = 0.0
        self._has_effort = False
        self._next = {"plot": 0.0, "image": 0.0, "status": 0.0}

        self.server = viser.ViserServer(host=host, port=port, label=f"sim2real view: {robot.name}", verbose=verbose)
        sc = self.server.scene
        sc.set_up_direction("+z")
        with self.server.atomic():
            sc.add_grid("/floor", width=4.0, height=4.0, cell_size=0.25, section_size=1.0,
                        position=(0.0, 0.0, self.poser.floor_z), plane_opacity=0.15, plane_color=(180, 180, 180))
            self._geoms = []
            pos, quat = self.poser.geom_poses()
            for k, g in enumerate(self.poser.geoms):
                mesh = geom_mesh(self.poser.model, g.index)
                if mesh is None:
                    continue
                h = sc.add_mesh_simple(f"/{'robot' if g.moving else 'scene'}/{g.name}", mesh[0], mesh[1],
                                       color=g.rgb, position=pos[k], wxyz=quat[k], flat_shading=False)
                if g.moving:
                    self._geoms.append((k, h))
            self._target_h = {
                "sim": sc.add_icosphere("/targets/sim", radius=0.03, color=(220, 30, 30), visible=False),
                "perceived": sc.add_icosphere("/targets/perceived", radius=0.04, color=(30, 200, 60),
                                              opacity=0.5, visible=False),
            }
            n = max(2, trail)
            self._trail = {"actual": deque(maxlen=n), "desired": deque(maxlen=n)}
            self._trail_h = {}
            if self.poser.ee_position() is not None:
                for key, rgb in (("actual", (40, 90, 220)), ("desired", (255, 140, 0))):
                    self._trail_h[key] = sc.add_line_segments(
                        f"/paths/{key}", points=np.zeros((n - 1, 2, 3), np.float32), colors=rgb,
                        thickness=0.004, visible=False)
        self._frame_camera()

        gui = self.server.gui
        self._status = gui.add_markdown(self._status_text())
        cam = robot.camera
        blank = np.zeros((cam.height if cam else 96, cam.width if cam else 96, 3), np.uint8)
        self._image_h = gui.add_image(blank, label="/camera/image_raw", format="jpeg", jpeg_quality=85)
        axes = ({"label": "t [s] from the first joint state"}, {"label": ""})
        joint_series = tuple({"label": n, "stroke": PALETTE[i % len(PALETTE)], "width": 1.5}
                             for i, n in enumerate(self.names))
        empty = (np.zeros(0),) * (robot.n + 1)
        scales = {"x": {"time": False}}     # message time in s, not a date
        self._plot_err = gui.add_uplot(empty, ({"label": "t [s]"}, *joint_series),
                                       title="tracking error: desired - actual [rad]", axes=axes, scales=scales,
                                       aspect=1.6)
        self._plot_eff = gui.add_uplot(empty, ({"label": "t [s]"}, *joint_series),
                                       title="joint torques, measured [N m]", axes=axes, scales=scales, aspect=1.6)

    # -- where it is ------------------------------------------------------------------------------
    @property
    def port(self) -> int:
        return self.server.get_port()

    @property
    def url(self) -> str:
        host = self.server.get_host()
        return f"http://{'localhost' if host in ('0.0.0.0', '::', '') else host}:{self.port}"

    def _frame_camera(self) -> None:
        cam = self.robot.camera
        if cam is not None and self.robot.end_effector:   # an arm's own camera frames its workspace
            pos, look = np.asarray(cam.pos, float), np.asarray(cam.lookat, float)
        else:
            lo, hi = self.poser.bounds()
            look = (lo + hi) / 2
            r = max(float(np.max(hi - lo)), 0.4)
            pos = look + np.array([1.4, -1.8, 0.9]) * r
        ic = self.server.initial_camera
        ic.position = tuple(float(v) for v in pos)
        ic.look_at = tuple(float(v) for v in look)

    # -- inputs (any thread) -----------------------------------------------------------------------
    def joint_state(self, t: float, names, positions, efforts=None) -> None:
        """A /joint_states message: stamp (s), names, positions, efforts (may be empty)."""
        names = list(names)
        q = np.asarray(positions, float)
        if q.size != len(names):
            return
        with self._lock:
            self._counts["joint_states"] += 1
            self._q = dict(zip(names, q.tolist()))
            self._q_new = True
            if t < self._last_sample - 0.5:        # the clock went back (a restarted graph)
                self._err.clear()
                self._eff.clear()
                self._last_sample = -np.inf
            if t - self._last_sample < 0.95 / SAMPLE_HZ:    # 0.95: float stamps of a 500 Hz stream
                return
            if self._err.n == 0:
                self._t0 = t                        # plots count seconds from the first sample
            self._last_sample = t
            actual = np.array([self._q.get(n, np.nan) for n in self.names])
            err = self._desired - actual if self._desired is not None else np.full(self.robot.n, np.nan)
            self._err.append(t - self._t0, err)
            e = np.asarray(efforts if efforts is not None else (), float)
            if e.size == len(names):
                self._has_effort = True
                idx = {n: i for i, n in enumerate(names)}
                self._eff.append(t - self._t0, np.array([e[idx[n]] if n in idx else np.nan for n in self.names]))
            else:
                self._eff.append(t - self._t0, np.full(self.robot.n, np.nan))

    def imu(self, wxyz) -> None:
        """A floating base's orientation (w, x, y, z) from /imu/data."""
        with self._lock:
            self._base_wxyz = np.asarray(wxyz, float)
            self._q_new = True

    def desired(self, names, positions, source: str = "desired") -> None:
        """A desired state (/controller/desired or /policy/desired): the robot's joints by name."""
        q = np.asarray(positions, float)
        names = list(names)
        if q.size != len(names):
            return
        idx = {n: i for i, n in enumerate(names)}
        with self._lock:
            self._desired = np.array([q[idx[n]] if n in idx else np.nan for n in self.names])
            self._desired_src = source
            self._desired_new = True
            self._counts["desired"] += 1

    def target(self, which: str, xyz) -> None:
        """which: 'sim' (/sim/target) or 'perceived' (/perception/target); xyz in the world frame."""
        p = np.asarray(xyz, float)
        if which not in self._target_h or p.shape != (3,) or not np.all(np.isfinite(p)):
            return
        with self._lock:
            self._targets[which] = p
            self._targets_new.add(which)

    def image(self, rgb: np.ndarray) -> None:
        with self._lock:
            self._image = rgb
            self._counts["images"] += 1

    def active(self, name: str) -> None:
        """Which input the teleop mux selected (/teleop/active; empty = none)."""
        with self._lock:
            self._active = name

    # -- output (the render timer) -----------------------------------------------------------------
    def render(self) -> None:
        now = time.monotonic()
        with self._lock:
            q = self._q if self._q_new else None
            base = self._base_wxyz
            self._q_new = False
            desired = self._desired if self._desired_new else None
            self._desired_new = False
            targets = {k: self._targets[k] for k in self._targets_new}
            self._targets_new = set()
            image = None
            if self._image is not None and now >= self._next["image"]:
                image, self._image = self._image, None
                self._next["image"] = now + 1.0 / IMAGE_HZ
            plots = None
            if now >= self._next["plot"]:
                self._next["plot"] = now + 1.0 / PLOT_HZ
                plots = (self._err.series(), self._eff.series())
        with self.server.atomic():
            if q is not None:
                self.poser.set_positions(q, base)
                pos, quat = self.poser.geom_poses()
                for k, h in self._geoms:
                    h.position = pos[k]
                    h.wxyz = quat[k]
                ee = self.poser.ee_position()
                if ee is not None:
                    self._add_trail("actual", ee)
            if desired is not None and self._trail_h:
                ok = np.isfinite(desired)
                ee_d = self.poser.ee_position_at(
                    {n: float(v) for n, v, k in zip(self.names, desired, ok) if k}, base)
                if ee_d is not None:
                    self._add_trail("desired", ee_d)
            for k, p in targets.items():
                h = self._target_h[k]
                h.position = p
                h.visible = True
        if image is not None:
            self._image_h.image = image
        if plots is not None:
            self._plot_err.data = plots[0]
            if self._has_effort:
                self._plot_eff.data = plots[1]
        if now >= self._next["status"]:
            self._next["status"] = now + 1.0 / STATUS_HZ
            self._status.content = self._status_text()

    def _add_trail(self, key: str, p: np.ndarray) -> None:
        tr = self._trail[key]
        if tr and np.linalg.norm(tr[-1] - p) < 1e-3:
            return
        tr.append(p)
        if len(tr) < 2:
            return
        pts = np.array(tr, np.float32)
        pts = np.concatenate([np.repeat(pts[:1], tr.maxlen - len(pts), axis=0), pts])   # fixed size
        h = self._trail_h[key]
        h.points = np.stack([pts[:-1], pts[1:]], axis=1)
        h.visible = True

    def _status_text(self) -> str:
        c = self._counts
        active = self._active if self._active is not None else "(no /teleop/active yet)"
        tgt = ", ".join(f"{k} ({v[0]:+.3f}, {v[1]:+.3f}, {v[2]:+.3f}) m" for k, v in sorted(self._targets.items()))
        return (f"**{self.robot.name}** &nbsp; joint states: {c['joint_states']} &nbsp; images: {c['images']}\n\n"
                f"teleop active: `{active or 'none (locked or no fresh input)'}`\n\n"
                f"desired: {self._desired_src or 'none yet'} ({c['desired']})\n\n"
                f"targets: {tgt or 'none yet'}")

    def close(self) -> None:
        self.server.stop()
