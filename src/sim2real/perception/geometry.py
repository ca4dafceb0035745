"""Perception's geometry: the camera model, the target from two image points, and the camera's pose
calibrated against the arm's forward kinematics. numpy, scipy and MuJoCo only (no rclpy, no torch).

The CNN (perception/net.py) finds keypoints in the image: the target's centre, the foot of the rod it
stands on (where the rod meets the table: config/tasks/reach.yaml, `scene.target.stand`), and known
points: the table's four top corners (the task's scene: the robot is mounted on it) and the origins
of a few arm bodies (the camera's `landmarks` in the robot config). Geometry does the rest:

  locate       the foot's ray meets the table's plane at the target's (x, y); the target is the point
               of the vertical line there closest to the target's ray (its height). One camera, 3D,
               no learned depth.
  calibrate    the camera's pose and field of view that best project the known points (the table's
               corners, the landmarks' forward kinematics) onto where the CNN found them (robust least squares over many
               frames, pulled toward the nominal mount by a weak prior). A camera knocked a few
               centimetres or degrees off its mount is found from the arm itself, as a hand-eye
               calibration would, with no calibration target.

Conventions: world = the robot's base frame (a fixed base at the origin, REP-103 axes). A `Camera`
is MuJoCo's: position, rotation whose columns are the camera's x (right), y (up) and z (backward:
it looks along -z), vertical field of view; pixels (u right, v down) are continuous with pixel k
covering [k, k + 1), as MuJoCo's renderer draws them.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

REFERENCE_HEIGHT_PX = 128     # pixel thresholds here (spreads, robust scales, margins) are in pixels of a
                              # camera this many rows high, where they were tuned; Camera.px_scale turns
                              # them into the camera's own (a 256 px camera: twice as many)
TARGET, FOOT, KNOWN = 0, 1, 2   # keypoint order: target, foot, then the known points (KNOWN on):
                                # the table's four top corners, the camera's landmark bodies


@dataclass
class Camera:
    pos: np.ndarray              # (3,) m
    R: np.ndarray                # (3, 3) columns: right, up, backward
    fovy_deg: float
    width: int
    height: int

    @property
    def px_scale(self) -> float:
        """The camera's pixels per pixel of a REFERENCE_HEIGHT_PX-high camera of the same view."""
        return self.height / REFERENCE_HEIGHT_PX

    @property
    def f(self) -> float:
        return 0.5 * self.height / np.tan(np.radians(self.fovy_deg) / 2)

    def project(self, points) -> np.ndarray:
        """(N, 2) pixels of world points (N, 3); points behind the camera land far outside."""
        pc = (np.asarray(points, float).reshape(-1, 3) - self.pos) @ self.R
        depth = np.maximum(-pc[:, 2], 1e-6)
        return np.stack([self.width / 2 + self.f * pc[:, 0] / depth, self.height / 2 - self.f * pc[:, 1] / depth], 1)

    def rays(self, uv) -> np.ndarray:
        """(N, 3) unit world directions through pixels (N, 2)."""
        uv = np.asarray(uv, float).reshape(-1, 2)
        d = np.stack([(uv[:, 0] - self.width / 2) / self.f, (self.height / 2 - uv[:, 1]) / self.f,
                      -np.ones(len(uv))], 1) @ self.R.T
        return d / np.linalg.norm(d, axis=1, keepdims=True)

    def as_array(self) -> np.ndarray:
        """(13,): position, rotation (row-major), fovy: the renderer's per-image camera label."""
        return np.concatenate([self.pos, self.R.reshape(-1), [self.fovy_deg]])

    @classmethod
    def from_array(cls, a, width: int, height: int) -> "Camera":
        a = np.asarray(a, float)
        return cls(a[:3].copy(), a[3:12].reshape(3, 3).copy(), float(a[12]), width, height)

    def to_dict(self) -> dict:
        return {"pos": [round(float(v), 5) for v in self.pos], "R": [[round(float(v), 6) for v in r] for r in self.R],
                "fovy_deg": round(float(self.fovy_deg), 4), "width": self.width, "height": self.height}


def look_at(pos, lookat, fovy_deg: float, width: int, height: int) -> Camera:
    """A camera at pos looking at lookat with world z up (as model_builder mounts the robot's)."""
    pos, lookat = np.asarray(pos, float), np.asarray(lookat, float)
    back = pos - lookat
    back /= np.linalg.norm(back)
    right = np.cross([0.0, 0.0, 1.0], back)
    right /= np.linalg.norm(right)
    up = np.cross(back, right)
    return Camera(pos, np.stack([right, up, back], 1), float(fovy_deg), width, height)


def nominal_camera(robot) -> Camera:
    """The robot's camera as mounted in its config (no profile offsets), as MuJoCo places it."""
    import mujoco

    from sim2real.sim.model_builder import build_spec
    cam = robot.camera
    m = build_spec(robot).compile()
    d = mujoco.MjData(m)
    mujoco.mj_kinematics(m, d)
    mujoco.mj_camlight(m, d)
    cid = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_CAMERA, cam.name)
    return Camera(d.cam_xpos[cid].copy(), d.cam_xmat[cid].reshape(3, 3).copy(), float(m.cam_fovy[cid]),
                  cam.width, cam.height)


def table_height(task) -> float:
    """z of the table's top (m, base frame): where the target's stand meets it."""
    t = task.scene.get("table")
    if not t:
        from sim2real.errors import ConfigError
        raise ConfigError("the reach task's scene has no table: perception locates the target's stand on it")
    return float(t["pos"][2]) + float(t["size"][2]) / 2


def locate(cam: Camera, uv_target, uv_foot, table_z: float) -> np.ndarray:
    """(N, 3) target positions from its pixel and its stand's foot pixel (N, 2 each)."""
    rt, rf = cam.rays(uv_target), cam.rays(uv_foot)
    s = (table_z - cam.pos[2]) / np.where(np.abs(rf[:, 2]) < 1e-6, -1e-6, rf[:, 2])
    foot = cam.pos + s[:, None] * rf              # on the table
    # the vertical line x = foot_xy: the point of it closest to the target's ray
    # minimise |c + t r - (f + z e_z)| over t, z: two linear equations
    c_f = cam.pos[None] - foot
    a, b = np.einsum("ij,ij->i", rt, rt), rt[:, 2]
    d1, d2 = np.einsum("ij,ij->i", rt, c_f), c_f[:, 2]
    det = a - b * b                               # > 0 unless the ray is vertical
    t = (b * d2 - d1) / np.maximum(det, 1e-9)
    z = d2 + t * b
    out = foot.copy()
    out[:, 2] = table_z + z
    return out


# ---- calibration -------------------------------------------------------------------------------
def _rotvec_to_R(w) -> np.ndarray:
    import cv2
    R, _ = cv2.Rodrigues(np.asarray(w, float).reshape(3, 1))
    return R


PRIOR_POS_M = 0.05          # the weak prior's scale: a few cm and degrees off the mount is expected
PRIOR_ROT_DEG = 3.0
PRIOR_FOVY_DEG = 3.0


def calibrate(cam0: Camera, uv, xyz, weights=None, loss_px: float = 2.0) -> tuple[Camera, dict]:
    """The camera (pose and fovy) projecting world points xyz (M, 3) onto pixels uv (M, 2) best:
    robust (soft-L1 at loss_px) weighted least squares, started at and weakly pulled toward cam0.
    Returns (camera, report: points, rms and median reprojection error in px, change from cam0)."""
    from scipy.optimize import least_squares
    uv, xyz = np.asarray(uv, float).reshape(-1, 2), np.asarray(xyz, float).reshape(-1, 3)
    w = np.ones(len(uv)) if weights is None else np.asarray(weights, float)
    sw = np.sqrt(np.clip(w, 0, None))[:, None]

    def cam_of(p):
        return Camera(cam0.pos + p[:3], cam0.R @ _rotvec_to_R(p[3:6]), cam0.fovy_deg + p[6], cam0.width, cam0.height)

    prior = np.array([PRIOR_POS_M] * 3 + [np.radians(PRIOR_ROT_DEG)] * 3 + [PRIOR_FOVY_DEG])

    def resid(p):
        r = (cam_of(p).project(xyz) - uv) * sw
        return np.concatenate([r.reshape(-1), p / prior])

    if len(uv) == 0:
        return cam0, {"points": 0, "rms_px": float("nan"), "median_px": float("nan"), "moved_m": 0.0, "turned_deg": 0.0}
    sol = least_squares(resid, np.zeros(7), loss="soft_l1", f_scale=loss_px, x_scale=prior, max_nfev=200)
    cam = cam_of(sol.x)
    e = np.linalg.norm(cam.project(xyz) - uv, axis=1)
    return cam, {"points": int(len(uv)), "rms_px": float(np.sqrt(np.mean(e ** 2))), "median_px": float(np.median(e)),
                 "moved_m": float(np.linalg.norm(sol.x[:3])), "turned_deg": float(np.degrees(np.linalg.norm(sol.x[3:6]))),
                 "fovy_change_deg": float(sol.x[6])}


def table_corners(task) -> np.ndarray:
    """(4, 3) m: the table's top corners (x-, y-), (x-, y+), (x+, y-), (x+, y+)."""
    t = task.scene["table"]
    c, h = np.asarray(t["pos"], float), np.asarray(t["size"], float) / 2
    z = table_height(task)
    return np.array([[c[0] + sx * h[0], c[1] + sy * h[1], z] for sx in (-1, 1) for sy in (-1, 1)])


TABLE_CORNERS = ("table_corner_0", "table_corner_1", "table_corner_2", "table_corner_3")


def known_point_names(robot) -> list[str]:
    return [*TABLE_CORNERS, *robot.camera.landmarks]


class Landmarks:
    """World positions of the known points at joint positions q: the table's corners (fixed), then
    the camera's landmark bodies (forward kinematics of the robot's nominal model; a fixed base at
    the origin). Their order is the keypoints' from KNOWN on."""

    def __init__(self, robot):
        import mujoco

        from sim2real.errors import ConfigError
        from sim2real.sim.model_builder import build_spec, joint_indices
        from sim2real.tasks.reach import ReachTask
        self.names = tuple(known_point_names(robot)) if robot.camera else ()
        self.fixed = table_corners(ReachTask.from_robot(robot))
        self.m = build_spec(robot).compile()
        self.d = mujoco.MjData(self.m)
        self.qadr, _ = joint_indices(self.m, robot.joint_names)
        bodies = tuple(robot.camera.landmarks) if robot.camera else ()
        self.ids = [mujoco.mj_name2id(self.m, mujoco.mjtObj.mjOBJ_BODY, n) for n in bodies]
        missing = [n for n, i in zip(bodies, self.ids) if i < 0]
        if missing:
            raise ConfigError(f"robot '{robot.name}': camera landmarks {missing} are not bodies of its model")
        self._mj = mujoco

    def __call__(self, q) -> np.ndarray:
        """(4 + L, 3) m for q (n,); (N, 4 + L, 3) for q (N, n)."""
        q = np.asarray(q, float)
        if q.ndim == 2:
            return np.stack([self(x) for x in q])
        self.d.qpos[self.qadr] = q
        self._mj.mj_kinematics(self.m, self.d)
        return np.concatenate([self.fixed, self.d.xpos[self.ids]])


@dataclass
class OnlineCalibration:
    """Landmark observations gathered while the robot moves, and the camera they give.

    add(): one frame's landmark pixels, their spreads (px: the CNN's own uncertainty) and the
    landmarks' FK positions; observations with a spread above max_spread_px are dropped. fit():
    recalibrate from the newest `keep` observations (pose diversity comes from the arm's motion)."""
    cam0: Camera
    max_spread_px: float = 3.0
    keep: int = 600
    uv: list = field(default_factory=list)
    xyz: list = field(default_factory=list)
    w: list = field(default_factory=list)
    camera: Camera | None = None
    report: dict = field(default_factory=dict)
    added_since_fit: int = 0

    def add(self, uv, spread, xyz) -> int:
        k = self.cam0.px_scale               # max_spread_px and the weights' 1.5 px: reference pixels
        ok = np.isfinite(spread) & (np.asarray(spread) <= self.max_spread_px * k)
        ok &= np.all(np.isfinite(uv), 1) & np.all(np.isfinite(xyz), 1)
        for a, s, x in zip(np.asarray(uv)[ok], np.asarray(spread)[ok], np.asarray(xyz)[ok]):
            self.uv.append(a)
            self.xyz.append(x)
            self.w.append(1.0 / (1.0 + (s / (1.5 * k)) ** 2))
        if len(self.uv) > self.keep:
            del self.uv[:-self.keep], self.xyz[:-self.keep], self.w[:-self.keep]
        self.added_since_fit += int(ok.sum())
        return int(ok.sum())

    def fit(self) -> Camera:
        self.camera, self.report = calibrate(self.cam0, np.array(self.uv), np.array(self.xyz), np.array(self.w),
                                             loss_px=2.0 * self.cam0.px_scale)
        self.added_since_fit = 0
        return self.camera


def near_arm(cam: Camera, arm_xyz, uv, depth_m: float, margin_px: float = 8.0) -> bool:
    """Whether pixel uv (a point depth_m from the camera) may be hidden by the arm: within margin_px
    (reference pixels: REFERENCE_HEIGHT_PX) of the arm drawn as a chain through arm_xyz (the base, then the landmark bodies: FK of the
    measured joints) at a part of it nearer the camera. The CNN then finds the hand, not the
    target behind it."""
    pts = np.asarray(arm_xyz, float).reshape(-1, 3)
    px = cam.project(pts)
    dist = np.linalg.norm(pts - cam.pos, axis=1)
    uv = np.asarray(uv, float)
    for a, b, da, db in zip(px[:-1], px[1:], dist[:-1], dist[1:]):
        ab = b - a
        t = float(np.clip(np.dot(uv - a, ab) / max(float(np.dot(ab, ab)), 1e-9), 0.0, 1.0))
        if np.linalg.norm(a + t * ab - uv) <= margin_px * cam.px_scale and da + t * (db - da) < depth_m + 0.05:
            return True
    return False


@dataclass
class TargetTracker:
    """One target estimate from a stream of noisy, sometimes occluded, measurements.

    Its (x, y) comes from the rod's foot on the table, which the hand rarely hides; its height from
    the target's own keypoint, which slides down the rod when the hand covers the ball. So: a
    measurement within `gate_m` of the estimate joins the window the estimate is the median of;
    one at the same (x, y) with another height does not, unless `switch_after` in a row (not behind
    the hand) agree on it, when they re-form the estimate; `switch_after` in a row that agree with
    each other at another (x, y) start a new one (the target moved). A measurement behind the hand
    (`hidden`) only ever counts toward a new (x, y) — unless the estimate itself was formed from
    such frames (`provisional`: a new target first seen behind the hand): then hidden frames join
    it as well (they are as good as what formed it) and the first frame in the open that agrees
    replaces them all. A lower height re-forms only from frames with the whole arm clear of the
    target (`arm_near` False): a covered ball reads low, never high."""
    gate_m: float = 0.04
    window: int = 9
    switch_after: int = 3
    recent: list = field(default_factory=list)
    pending: list = field(default_factory=list)
    pending_height: list = field(default_factory=list)
    pending_hidden: bool = False
    provisional: bool = False
    estimate: np.ndarray | None = None

    @staticmethod
    def _agree(run: list, p, gate: float) -> bool:
        return not run or np.linalg.norm(p - np.median(run, 0)) <= gate

    def update(self, p, hidden: bool = False, arm_near: bool = False) -> np.ndarray:
        p = np.asarray(p, float)
        if self.estimate is None:
            self.recent, self.estimate, self.provisional = [p], p, hidden
            return self.estimate
        moved = np.linalg.norm(p[:2] - self.estimate[:2]) > self.gate_m
        if not moved:
            self.pending.clear()
            if hidden and not self.provisional:
                return self.estimate
            if abs(p[2] - self.estimate[2]) <= self.gate_m:
                if self.provisional and not hidden:
                    self.recent, self.provisional = [], False      # seen in the open: it replaces them
                self.recent.append(p)
                del self.recent[:-self.window]
                self.pending_height.clear()
            elif hidden:
                pass                                # another height behind the hand: never counts
            elif arm_near and p[2] < self.estimate[2]:
                self.pending_height.clear()         # read low with the arm about: the ball is covered
            else:
                if not self._agree(self.pending_height, p, self.gate_m / 2):
                    self.pending_height.clear()
                self.pending_height.append(p)
                if len(self.pending_height) >= self.switch_after:
                    self.recent, self.pending_height, self.provisional = list(self.pending_height), [], False
        else:
            self.pending_height.clear()
            if not self._agree(self.pending, p, self.gate_m):
                self.pending.clear()
                self.pending_hidden = False
            self.pending.append(p)
            self.pending_hidden |= hidden
            if len(self.pending) >= self.switch_after:
                self.recent, self.pending, self.provisional = list(self.pending), [], self.pending_hidden
                self.pending_hidden = False
        self.estimate = np.median(np.array(self.recent), 0)
        return self.estimate
