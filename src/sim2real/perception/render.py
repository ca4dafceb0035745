"""Labelled camera images of the robot's scene for perception: nominal, randomized (Tobin et al.
2017) or as the twin renders them under a reality profile.

A `SceneRenderer` holds one MuJoCo model of the robot's scene (model_builder.build_spec: the URDF,
the task's table and target, the light and the camera of config/robots/<robot>.yaml) and one
offscreen renderer. Per image it draws a joint configuration (the home pose plus
`arm_pose_rad` per joint, within the limits; for half the images then moved by inverse kinematics
so the hand is at or near the target, as while the arm reaches it) and a target position in the task's workspace, and
in `randomized` mode, from the `visuals:` ranges of config/randomization/<robot>.yaml:

  textures       of table, floor, robot and target: flat, gradient, checker or noise, colours
                 from each element's RGB box (table, floor and robot never from the target's box
                 widened by 0.1: its colour family is the one cue that names the target), random
                 repeat, specular and shininess; with `near_target_color_probability` the table
                 takes the target's hue darkened or paled instead (a brown or pink table the red
                 rod barely stands out on: where the rod's foot was found worst)
  lights         how many (up to 8), where (a hemisphere above the workspace), colour, intensity;
                 the headlight's ambient
  camera         pose offset and rotation around the nominal mount, field of view
  distractors    how many, which primitive shape, size, colour, pose (not within 6 cm of the target;
                 a distractor sphere never takes the target's colours)
  payload        sometimes a ball at the hand (size, offset, colour), as a profile's payload is drawn
  image          blur, colour shift, Gaussian pixel noise, JPEG quality (sim2real/image.py, OpenCV)

The model is built once; a draw writes textures (uploaded to the GL context), light, camera and
geom fields of the compiled model in place, so an image costs one render (~3.4 ms at 96 px).
Shadows stay off, as in the robot's camera config: MuJoCo's shadow map costs ~10x (40 ms a
frame with software GL) and would cut the dataset by as much for a cue perception does not need: the rod the target
stands on shows its (x, y) where it meets the table (perception/geometry.py).

Labels: the target position in the robot's base frame (m), the joint positions (rad), the
keypoints' pixels (the target, its stand's foot, the camera's landmarks) and the image's camera.
`render_dataset` spreads chunks of images over processes (each its own GL context), seeded per
chunk, so a seed gives the same dataset whatever the number of processes; it writes one .npz:
images (N, H, W, 3) uint8 RGB, target (N, 3) float32, q (N, n) float32, kp (N, K, 2) float32 (the
keypoints' pixels: target, its stand's foot, the landmarks), camera (N, 13) float32 (each image's
camera, randomized or not), and `config` (JSON: the
generating settings, the visual ranges, the camera, the workspace, versions, wall time).
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sim2real.errors import ConfigError

TEX = 64                  # texture side, px
ELEMENTS = ("table", "floor", "robot", "target")
HIDDEN_GROUP = 5          # geom group the renderer does not draw: inactive distractors
SHAPES = {"box": "mjGEOM_BOX", "sphere": "mjGEOM_SPHERE", "cylinder": "mjGEOM_CYLINDER",
          "capsule": "mjGEOM_CAPSULE", "ellipsoid": "mjGEOM_ELLIPSOID"}
MODES = ("nominal", "randomized")
CHUNK = 32                # images per work item (seeded per chunk)
ARRAYS = ("images", "target", "q", "kp", "camera")   # a dataset's arrays (Sample's fields)
FIELD = {"images": "image", "kp": "keypoints"}


# ---- textures -------------------------------------------------------------------------------
def texture(kind: str, c1, c2, rng: np.random.Generator, size: int = TEX) -> np.ndarray:
    """(size, size, 3) uint8: flat c1; gradient c1 -> c2 along a random direction; checker of
    c1/c2 squares; noise: smooth random blend of c1 and c2 plus fine grain."""
    c1, c2 = np.asarray(c1, np.float32), np.asarray(c2, np.float32)
    if kind == "flat":
        w = np.zeros((size, size), np.float32)
    elif kind == "gradient":
        a = rng.uniform(0, 2 * np.pi)
        u = np.linspace(-1, 1, size, dtype=np.float32)
        w = np.cos(a) * u[None, :] + np.sin(a) * u[:, None]
        w = (w - w.min()) / max(float(np.ptp(w)), 1e-6)
    elif kind == "checker":
        n = int(rng.integers(2, 17))
        i = (np.arange(size) * n // size)
        w = ((i[None, :] + i[:, None]) % 2).astype(np.float32)
    elif kind == "noise":
        import cv2
        k = int(rng.integers(2, 17))
        low = rng.uniform(0, 1, (k, k)).astype(np.float32)
        w = cv2.resize(low, (size, size), interpolation=cv2.INTER_CUBIC)
        w = np.clip(w + rng.normal(0, 0.08, (size, size)).astype(np.float32), 0, 1)
    else:
        raise ValueError(f"unknown texture kind {kind!r}")
    img = c1[None, None] * (1 - w[..., None]) + c2[None, None] * w[..., None]
    return np.clip(img * 255 + 0.5, 0, 255).astype(np.uint8)


def _quat_rpy_deg(rpy) -> np.ndarray:
    import mujoco
    q = np.zeros(4)
    mujoco.mju_euler2Quat(q, np.radians(np.asarray(rpy, float)), "xyz")
    return q


def _random_quat(rng) -> np.ndarray:
    q = rng.normal(size=4)
    return q / np.linalg.norm(q)


# ---- the scene ------------------------------------------------------------------------------
@dataclass
class Sample:
    image: np.ndarray       # (H, W, 3) uint8 RGB
    target: np.ndarray      # (3,) m, base frame
    q: np.ndarray           # (n,) rad
    keypoints: np.ndarray   # (K, 2) px (u right, v down) where these project: the target's centre, its
                            # stand's foot on the table, the table's corners, the camera's landmark
                            # bodies (geometry.py)
    camera: np.ndarray      # (13,) the image's camera: world position (3), rotation matrix (9), fovy deg

    @property
    def uv(self) -> np.ndarray:
        return self.keypoints[0]


class SceneRenderer:
    """One robot scene and its offscreen renderer (make and use it in one thread: EGL)."""

    def __init__(self, robot, mode: str = "randomized", visuals: dict | None = None, profile=None,
                 arm_pose_rad: tuple[float, float] = (-0.9, 0.9), reach_fraction: float = 0.5):
        import mujoco

        from sim2real.sim.model_builder import TARGET_BODY, build_spec, joint_indices
        from sim2real.sim.reality import NOMINAL
        from sim2real.tasks.reach import ReachTask
        if mode not in MODES:
            raise ConfigError(f"render mode {mode!r}: choose one of {', '.join(MODES)}")
        if robot.camera is None:
            raise ConfigError(f"robot '{robot.name}' has no camera (sensors.camera in its config)")
        self.robot, self.mode = robot, mode
        self.profile = profile or NOMINAL
        self.vis = dict(visuals or {}) if mode == "randomized" else {}
        self.arm_pose = tuple(self.vis.get("arm_pose_rad", arm_pose_rad))
        self.task = ReachTask.from_robot(robot)
        self.cam = robot.camera
        spec = build_spec(robot, self.profile)
        if spec.body(TARGET_BODY) is None:
            raise ConfigError(f"robot '{robot.name}': the scene has no target (the reach task's scene)")
        # MuJoCo's URDF import discards "visual" geoms (contype = conaffinity = 0) by default: the
        # target sphere and distractors among them, and unused textures. Keep them.
        spec.compiler.discardvisual = False
        if mode == "randomized":
            self._randomizable(spec, mujoco)
        self.model = spec.compile()
        self.data = mujoco.MjData(self.model)
        m = self.model
        self.qadr, _ = joint_indices(m, robot.joint_names)
        self.grip_adr = joint_indices(m, robot.gripper_joints)[0] if robot.gripper_joints else np.zeros(0, int)
        jids = [mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_JOINT, n) for n in robot.joint_names]
        lim = m.jnt_range[jids]
        limited = m.jnt_limited[jids].astype(bool)
        self.q_lo = np.where(limited, lim[:, 0], -np.inf)
        self.q_hi = np.where(limited, lim[:, 1], np.inf)
        self.home = np.asarray(robot.home, float)
        _, self.dofadr = joint_indices(m, robot.joint_names)
        self.reach_fraction = reach_fraction if robot.end_effector else 0.0
        self.ee_id = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_BODY, robot.end_effector) if robot.end_effector else -1
        self.target_mocap = int(m.body_mocapid[mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_BODY, TARGET_BODY)])
        self.base_id = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_BODY, robot.base_link)
        self.cam_id = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_CAMERA, self.cam.name)
        from sim2real.perception.geometry import table_height
        self.table_z = table_height(self.task)
        from sim2real.perception.geometry import table_corners
        self.corners = table_corners(self.task)
        self.landmark_ids = [mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_BODY, b) for b in self.cam.landmarks]
        if min(self.landmark_ids, default=0) < 0:
            raise ConfigError(f"robot '{robot.name}': camera landmarks {list(self.cam.landmarks)} are not all bodies")
        self.cam_pos0 = m.cam_pos[self.cam_id].copy()
        self.cam_quat0 = m.cam_quat[self.cam_id].copy()
        self.cam_fovy0 = float(m.cam_fovy[self.cam_id])
        self.renderer = mujoco.Renderer(m, height=self.cam.height, width=self.cam.width)
        self.option = mujoco.MjvOption()
        if mode == "randomized":
            self._ids(mujoco)

    # -- build time: materials with their own textures, spare lights, hidden distractor slots --
    def _randomizable(self, spec, mujoco) -> None:
        from sim2real.sim.model_builder import PAYLOAD_BODY, TARGET_BODY, TARGET_STAND
        scene_geoms = {"table": [], "floor": [], "robot": [], "target": []}
        for g in spec.geoms:
            if g.name in ("table", "floor", "target"):
                scene_geoms[g.name].append(g)
            elif g.name == TARGET_STAND:
                scene_geoms["target"].append(g)
            elif g.name.startswith("distractor_"):
                continue
            else:
                b = g.parent
                if b is not None and b.name not in ("world", TARGET_BODY, PAYLOAD_BODY) and b.name:
                    scene_geoms["robot"].append(g)
        for el in ELEMENTS:
            spec.add_texture(name=f"dr_tex_{el}", type=mujoco.mjtTexture.mjTEXTURE_2D, builtin=mujoco.mjtBuiltin.mjBUILTIN_CHECKER,
                             width=TEX, height=TEX, nchannel=3, rgb1=[0.5, 0.5, 0.5], rgb2=[0.5, 0.5, 0.5])
            mat = spec.add_material(name=f"dr_mat_{el}")
            roles = list(mat.textures)
            roles[mujoco.mjtTextureRole.mjTEXROLE_RGB] = f"dr_tex_{el}"
            mat.textures = roles
            mat.texuniform = el in ("table", "floor")
            for g in scene_geoms[el]:
                g.material = f"dr_mat_{el}"
                g.rgba = [1.0, 1.0, 1.0, 1.0]
        lmax = self.vis.get("lights", (1, 1))[1]
        for k in range(1, lmax):
            spec.worldbody.add_light(name=f"dr_light_{k}", pos=[0, 0, 3], dir=[0, 0, -1], castshadow=False)
        if spec.body(PAYLOAD_BODY) is not None:   # a payload at the hand, as a profile's shows (model_builder)
            spec.body(PAYLOAD_BODY).add_geom(name="dr_payload", type=mujoco.mjtGeom.mjGEOM_SPHERE, size=[0.03, 0, 0],
                                             contype=0, conaffinity=0, group=HIDDEN_GROUP, mass=0)
        for k in range(self.vis.get("distractors", (0, 0))[1]):
            b = spec.worldbody.add_body(name=f"dr_distractor_{k}", mocap=True, pos=[0, 0, -5])
            b.add_geom(name=f"dr_distractor_{k}", type=mujoco.mjtGeom.mjGEOM_BOX, size=[0.02, 0.02, 0.02],
                       contype=0, conaffinity=0, group=HIDDEN_GROUP)

    def _ids(self, mujoco) -> None:
        m = self.model
        self.tex = {el: mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_TEXTURE, f"dr_tex_{el}") for el in ELEMENTS}
        self.mat = {el: mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_MATERIAL, f"dr_mat_{el}") for el in ELEMENTS}
        self.lights = [mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_LIGHT, "key")]
        self.lights += [mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_LIGHT, f"dr_light_{k}")
                        for k in range(1, self.vis.get("lights", (1, 1))[1])]
        nd = self.vis.get("distractors", (0, 0))[1]
        self.dgeoms = [mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_GEOM, f"dr_distractor_{k}") for k in range(nd)]
        self.dmocap = [int(m.body_mocapid[mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_BODY, f"dr_distractor_{k}")])
                       for k in range(nd)]
        self.geom_types = {k: getattr(mujoco.mjtGeom, v) for k, v in SHAPES.items()}
        self.payload_geom = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_GEOM, "dr_payload")

    # -- per image ------------------------------------------------------------------------------
    def _u(self, key, rng, size=None, default=None):
        r = self.vis.get(key)
        if r is None:
            return default if size is None else np.full(size, default, float)
        return rng.uniform(r[0], r[1], size)

    def _randomize(self, rng, target) -> dict:
        import mujoco
        m, v = self.model, self.vis
        kinds = v.get("texture_kinds", ("flat",))
        colors = v.get("colors", {})
        tlo, thi = (np.asarray(c) for c in colors.get("target", ((0.55, 0, 0), (1, 0.4, 0.4))))

        def other_color(lo, hi):     # anything but the target's colour family: the one cue that names it
            rgb = rng.uniform(lo, hi)
            for _ in range(50):
                if not np.all((rgb >= tlo - 0.1) & (rgb <= thi + 0.1)):
                    break
                rgb = rng.uniform(lo, hi)
            return rgb

        def near_miss():             # the target's hue, darker or paler: a table the rod barely stands out on
            rgb = rng.uniform(tlo, thi)
            return rgb * rng.uniform(0.3, 0.75) if rng.random() < 0.5 else rgb + (1 - rgb) * rng.uniform(0.35, 0.7)

        p_near = float(v.get("near_target_color_probability", 0.0))
        for el in ELEMENTS:
            lo, hi = colors.get(el, ((0.0,) * 3, (1.0,) * 3))
            kind = kinds[rng.integers(len(kinds))]
            if el == "target":
                c1, c2 = rng.uniform(lo, hi), rng.uniform(lo, hi)
            elif el == "table" and p_near > 0 and rng.random() < p_near:
                c1, c2 = near_miss(), other_color(lo, hi) if kind != "flat" and rng.random() < 0.5 else near_miss()
            else:
                c1, c2 = other_color(lo, hi), other_color(lo, hi)
            t = self.tex[el]
            adr, n = m.tex_adr[t], m.tex_width[t] * m.tex_height[t] * m.tex_nchannel[t]
            m.tex_data[adr:adr + n] = texture(kind, c1, c2, rng).reshape(-1)
            mid = self.mat[el]
            m.mat_texrepeat[mid] = rng.uniform(1, 6, 2) if el in ("table", "floor") else rng.uniform(1, 3, 2)
            m.mat_specular[mid] = rng.uniform(0.0, 0.6)
            m.mat_shininess[mid] = rng.uniform(0.0, 0.8)
        ctx = self.renderer._gl_context
        if ctx is not None:
            ctx.make_current()
        for el in ELEMENTS:
            mujoco.mjr_uploadTexture(m, self.renderer._mjr_context, self.tex[el])
        # lights
        lo, hi = v.get("lights", (1, 1))
        nl = int(rng.integers(lo, hi + 1))
        centre = 0.5 * (self.task.low + self.task.high)
        for k, lid in enumerate(self.lights):
            m.light_active[lid] = k < nl
            el, az, r = rng.uniform(np.radians(25), np.radians(85)), rng.uniform(-np.pi, np.pi), rng.uniform(1.5, 3.5)
            pos = centre + r * np.array([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)])
            d = centre + rng.normal(0, 0.3, 3) - pos
            m.light_pos[lid] = pos
            m.light_dir[lid] = d / np.linalg.norm(d)
            m.light_diffuse[lid] = self._u("light_intensity", rng, None, 0.8) * self._u("light_color", rng, 3, 1.0)
            m.light_specular[lid] = rng.uniform(0.0, 0.5)
        m.vis.headlight.ambient[:] = self._u("ambient", rng, None, 0.3)
        # camera
        m.cam_pos[self.cam_id] = self.cam_pos0 + self._u("camera_offset", rng, 3, 0.0)
        q = np.zeros(4)
        mujoco.mju_mulQuat(q, self.cam_quat0, _quat_rpy_deg(self._u("camera_rpy_deg", rng, 3, 0.0)))
        m.cam_quat[self.cam_id] = q
        m.cam_fovy[self.cam_id] = self.cam_fovy0 + self._u("camera_fovy_deg", rng, None, 0.0)
        # distractors
        lo, hi = v.get("distractors", (0, 0))
        nd = int(rng.integers(lo, hi + 1)) if self.dgeoms else 0
        shapes = v.get("distractor_shapes", ("box",))
        for k, (gid, mc) in enumerate(zip(self.dgeoms, self.dmocap)):
            if k >= nd:
                m.geom_group[gid] = HIDDEN_GROUP
                continue
            shape = shapes[rng.integers(len(shapes))]
            m.geom_group[gid] = 0
            m.geom_type[gid] = self.geom_types[shape]
            m.geom_size[gid] = self._u("distractor_size", rng, 3, 0.02)
            rgb = rng.uniform(0, 1, 3)
            while shape == "sphere" and np.all((rgb >= tlo - 0.1) & (rgb <= thi + 0.1)):
                rgb = rng.uniform(0, 1, 3)     # no second target
            m.geom_rgba[gid] = [*rgb, 1.0]
            for _ in range(20):
                p = rng.uniform([0.05, -0.7, 0.0], [0.95, 0.7, 0.55])
                if np.linalg.norm(p - target) > 0.06 + float(m.geom_size[gid].max()):
                    break
            self.data.mocap_pos[mc] = p
            self.data.mocap_quat[mc] = _random_quat(rng)
        if self.payload_geom >= 0:    # a ball at the hand (a payload), sometimes
            g = self.payload_geom
            shown = rng.uniform() < float(v.get("payload_probability", 0.0))
            m.geom_group[g] = 0 if shown else HIDDEN_GROUP
            m.geom_size[g, 0] = rng.uniform(0.02, 0.04)
            m.geom_pos[g] = rng.uniform([-0.03, -0.03, 0.0], [0.03, 0.03, 0.1])
            rgb = rng.uniform(0, 1, 3)
            while np.all((rgb >= tlo - 0.1) & (rgb <= thi + 0.1)):
                rgb = rng.uniform(0, 1, 3)
            m.geom_rgba[g] = [*rgb, 1.0]
        return {"lights": nl, "distractors": nd}

    def _image_effects(self, img, rng) -> np.ndarray:
        from sim2real.image import effects
        v = self.vis
        q = v.get("jpeg_quality")
        return effects(img, blur_sigma_px=float(self._u("blur_sigma_px", rng, None, 0.0)),
                       color_shift=self._u("color_shift", rng, 3, 0.0) if "color_shift" in v else None,
                       noise_std=float(self._u("pixel_noise", rng, None, 0.0)),
                       jpeg_quality=int(rng.integers(q[0], q[1] + 1)) if q else 100, rng=rng)

    def sample(self, rng: np.random.Generator) -> Sample:
        import mujoco
        m, d = self.model, self.data
        target = rng.uniform(self.task.low, self.task.high)
        q = np.clip(self.home + rng.uniform(self.arm_pose[0], self.arm_pose[1], self.robot.n), self.q_lo, self.q_hi)
        d.qpos[:] = 0.0
        if rng.uniform() < self.reach_fraction:     # the hand at or near the target, as while reaching it
            q = self._reach(q, target + rng.normal(0, 0.04, 3))
        d.qpos[self.qadr] = q
        if len(self.grip_adr):
            d.qpos[self.grip_adr] = rng.uniform(0.0, 1.0, len(self.grip_adr))
        d.mocap_pos[self.target_mocap] = target     # world frame (the base's pose below)
        if self.mode == "randomized":
            self._randomize(rng, target)
        mujoco.mj_forward(m, d)
        self.renderer.update_scene(d, camera=self.cam_id, scene_option=self.option)
        img = self.renderer.render()
        if self.mode == "randomized":
            img = self._image_effects(img, rng)
        elif self.profile.section("visuals"):
            from sim2real.sim.camera import apply_image_effects
            img = apply_image_effects(img, self.profile.section("visuals"))   # as the twin's camera does
        R, p = d.xmat[self.base_id].reshape(3, 3), d.xpos[self.base_id]
        camera = np.concatenate([d.cam_xpos[self.cam_id], d.cam_xmat[self.cam_id], [m.cam_fovy[self.cam_id]]])
        foot = np.array([target[0], target[1], self.table_z])
        points = np.concatenate([target[None], foot[None], self.corners, d.xpos[self.landmark_ids]])
        kp = project(camera, points, self.cam.width, self.cam.height).astype(np.float32)
        return Sample(np.ascontiguousarray(img), (R.T @ (target - p)).astype(np.float32), q.astype(np.float32),
                      kp, camera.astype(np.float32))

    def _reach(self, q, goal, iters: int = 30, damping: float = 0.05) -> np.ndarray:
        """Damped least-squares IK of the end effector toward goal (world), from q, within the limits."""
        import mujoco
        m, d = self.model, self.data
        jac = np.zeros((3, m.nv))
        for _ in range(iters):
            d.qpos[self.qadr] = q
            mujoco.mj_kinematics(m, d)
            mujoco.mj_comPos(m, d)
            err = goal - d.xpos[self.ee_id]
            if np.linalg.norm(err) < 0.005:
                break
            mujoco.mj_jacBody(m, d, jac, None, self.ee_id)
            J = jac[:, self.dofadr]
            dq = J.T @ np.linalg.solve(J @ J.T + damping ** 2 * np.eye(3), err)
            q = np.clip(q + np.clip(dq, -0.3, 0.3), self.q_lo, self.q_hi)
        return q

    def close(self) -> None:
        if getattr(self, "renderer", None) is not None:
            self.renderer.close()
            self.renderer = None


def project(camera: np.ndarray, points_world, width: int, height: int) -> np.ndarray:
    """(N, 2) pixel coordinates (x right, y down) of world points in a Sample's camera (13,)."""
    from sim2real.perception.geometry import Camera
    return Camera.from_array(camera, width, height).project(points_world)


# ---- datasets -------------------------------------------------------------------------------
def _chunk_seed(seed: int, chunk: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, chunk]))


_WORKER: dict = {}


def _worker_init(robot_name: str, mode: str, visuals: dict, profile_path: str | None) -> None:
    from sim2real.robots import load_robot
    from sim2real.sim.reality import load_profile
    os.environ.setdefault("MUJOCO_GL", "egl")
    robot = load_robot(robot_name)
    _WORKER["r"] = SceneRenderer(robot, mode, visuals, load_profile(profile_path) if profile_path else None)


def _worker_chunk(args) -> tuple:
    chunk, n, seed = args
    r = _WORKER["r"]
    rng = _chunk_seed(seed, chunk)
    out = [r.sample(rng) for _ in range(n)]
    return (chunk, {k: np.stack([getattr(s, FIELD.get(k, k)) for s in out]) for k in ARRAYS})


def render_images(robot, n: int, mode: str = "randomized", visuals: dict | None = None, seed: int = 0,
                  profile_path: str | None = None, workers: int | None = None, progress: bool = True,
                  desc: str = "render") -> dict:
    """n labelled images: {'images', 'target', 'q', 'kp', 'camera'} (chunks of CHUNK seeded by (seed, chunk))."""
    from tqdm import tqdm
    if n < 1:
        raise ConfigError(f"--n must be >= 1, got {n}")
    workers = max(1, min(workers or os.cpu_count() or 1, (n + CHUNK - 1) // CHUNK))
    jobs = [(c, min(CHUNK, n - c * CHUNK), seed) for c in range((n + CHUNK - 1) // CHUNK)]
    h, w = robot.camera.height, robot.camera.width
    k = 6 + len(robot.camera.landmarks)
    arrays = {"images": np.zeros((n, h, w, 3), np.uint8), "target": np.zeros((n, 3), np.float32),
              "q": np.zeros((n, robot.n), np.float32), "kp": np.zeros((n, k, 2), np.float32),
              "camera": np.zeros((n, 13), np.float32)}
    bar = tqdm(total=n, desc=desc, unit="img", disable=not progress)
    init = (robot.name, mode, visuals or {}, profile_path)

    def put(res):
        c, got = res
        sl = slice(c * CHUNK, c * CHUNK + len(got["images"]))
        for key, v in got.items():
            arrays[key][sl] = v
        bar.update(len(got["images"]))

    if workers == 1:
        _worker_init(*init)
        try:
            for j in jobs:
                put(_worker_chunk(j))
        finally:
            _WORKER.pop("r").close()
    else:
        import multiprocessing as mp
        with mp.get_context("spawn").Pool(workers, initializer=_worker_init, initargs=init) as pool:
            for res in pool.imap_unordered(_worker_chunk, jobs):
                put(res)
    bar.close()
    return arrays


def render_dataset(robot, n: int, out: str | Path, mode: str = "randomized", seed: int = 0,
                   profile_path: str | None = None, workers: int | None = None, progress: bool = True,
                   force: bool = False) -> dict:
    """Render n images and write them with their generating config to `out` (.npz); returns the config."""
    import mujoco

    from sim2real import __version__ as VERSION
    from sim2real.sim.randomize import load_randomization
    from sim2real.tasks.reach import ReachTask
    out = Path(out)
    if out.suffix != ".npz":
        out = out.with_name(out.name + ".npz")
    if out.exists() and not force:
        raise ConfigError(f"{out}: exists; pass --force to overwrite it (or --out elsewhere)")
    visuals = load_randomization(robot).visuals if mode == "randomized" else {}
    if mode == "randomized" and not visuals:
        raise ConfigError(f"config/randomization/{robot.name}.yaml has no visuals: section to randomize from")
    t0 = time.perf_counter()
    d = render_images(robot, n, mode, visuals, seed, profile_path, workers, progress, desc=f"render {mode}")
    wall = time.perf_counter() - t0
    task = ReachTask.from_robot(robot)
    cam = robot.camera
    config = {"kind": "perception_dataset", "robot": robot.name, "joint_names": list(robot.joint_names),
              "n": n, "mode": mode, "seed": seed, "profile": profile_path, "chunk": CHUNK,
              "visuals": _jsonable(visuals), "shadows": False,
              "camera": {"name": cam.name, "width": cam.width, "height": cam.height, "fovy_deg": cam.fovy_deg,
                         "pos": list(cam.pos), "lookat": list(cam.lookat)},
              "workspace": {"low": task.low.tolist(), "high": task.high.tolist()},
              "labels": {"target": "target position, m, robot base frame", "q": "joint positions, rad",
                         "kp": "pixels (u right, v down) of: target, stand foot, table corners, " + ", ".join(cam.landmarks),
                         "camera": "per image: position (3), rotation (9, row-major), fovy deg"},
              "wall_s": round(wall, 2), "sim2real": VERSION, "mujoco": mujoco.__version__,
              "created": time.strftime("%Y-%m-%dT%H:%M:%S")}
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, **d, config=np.array(json.dumps(config)))
    config["path"] = str(out)
    config["bytes"] = out.stat().st_size
    return config


def _jsonable(v):
    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    return v


def load_dataset(path: str | Path, robot=None) -> tuple[dict, dict]:
    """(arrays {'images', 'target', 'q', 'kp', 'camera'}, config) of a dataset file;
    ConfigError naming the file."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such dataset (render one with `sim2real data render`)")
    try:
        with np.load(path, allow_pickle=False) as z:
            missing = [k for k in ARRAYS if k not in z.files]
            if missing:
                raise ValueError(f"no {', '.join(missing)} (rendered before keypoint labels: render it again)")
            arrays = {k: z[k] for k in ARRAYS}
            config = json.loads(str(z["config"]))
    except Exception as e:  # noqa: BLE001 - any unreadable file is the same user error
        raise ConfigError(f"{path}: not a perception dataset ({type(e).__name__}: {e})") from None
    im = arrays["images"]
    if im.dtype != np.uint8 or im.ndim != 4 or im.shape[-1] != 3 or len(arrays["target"]) != len(im):
        raise ConfigError(f"{path}: images must be (N, H, W, 3) uint8 with N targets, got {im.shape} {im.dtype}")
    if robot is not None and config.get("robot") != robot.name:
        raise ConfigError(f"{path}: rendered for robot {config.get('robot')!r}, not {robot.name!r}")
    return arrays, config
