"""The robot as the viewer draws it: geometry from the robot's MuJoCo model (built from its one
URDF by sim/model_builder.py) and poses from MuJoCo's own forward kinematics, since tf2 is not
available here (no robot_state_publisher, no /tf).

No rclpy and no viser here: `RobotPoser` takes joint positions by name (what a JointState
carries) and gives a world pose per geom; `geom_mesh` gives each geom's triangles in its own frame.

A floating-base robot has no pose on the contract topics (/joint_states carries joints only):
its orientation comes from /imu/data when given (the IMU site is on the base link, its frame the
base's), and its position is put where the lowest geom just touches the floor, as
`Simulator.reset` does. A walking robot therefore walks on the spot in the viewer.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

import mujoco
import numpy as np

from sim2real.robots.spec import RobotSpec
from sim2real.sim.model_builder import ROBOT_GROUP, TARGET_BODY, build_model

FLOOR_CLEARANCE = 0.001   # m, as sim/simulator.py
_T = mujoco.mjtGeom


@dataclass(frozen=True)
class GeomInfo:
    index: int              # MuJoCo geom id
    name: str               # scene-tree name: "<body>/<geom or index>"
    moving: bool            # part of the robot (posed every frame) or static scene (table)
    rgb: tuple[int, int, int]


def urdf_link_colors(urdf_path) -> dict[str, tuple[float, float, float]]:
    """link name -> RGB of its first visual's material (named materials resolved), from the URDF.
    The MuJoCo model paints the whole robot in one scene colour; the URDF's colours read better."""
    try:
        root = ET.parse(urdf_path).getroot()
    except (ET.ParseError, OSError):
        return {}

    def rgba_of(mat):
        c = mat.find("color") if mat is not None else None
        if c is None or not c.get("rgba"):
            return None
        v = [float(x) for x in c.get("rgba").split()]
        return tuple(v[:3]) if len(v) >= 3 else None

    named = {m.get("name"): rgba_of(m) for m in root.findall("material")}
    out = {}
    for link in root.iter("link"):
        for vis in link.findall("visual"):
            mat = vis.find("material")
            if mat is None:
                continue
            rgb = rgba_of(mat) or named.get(mat.get("name"))
            if rgb is not None:
                out[link.get("name")] = rgb
                break
    return out


def geom_mesh(model: mujoco.MjModel, g: int) -> tuple[np.ndarray, np.ndarray] | None:
    """(vertices (V, 3) float32, faces (F, 3) uint32) of geom g in its own frame; None for planes
    and types the viewer does not draw (height fields, SDFs)."""
    import trimesh.creation as tc
    t, size = int(model.geom_type[g]), model.geom_size[g]
    if t == _T.mjGEOM_BOX:
        m = tc.box(extents=2 * size)
    elif t == _T.mjGEOM_SPHERE:
        m = tc.icosphere(subdivisions=2, radius=size[0])
    elif t == _T.mjGEOM_CAPSULE:
        m = tc.capsule(height=2 * size[1], radius=size[0], count=[16, 16])
    elif t == _T.mjGEOM_CYLINDER:
        m = tc.cylinder(radius=size[0], height=2 * size[1], sections=24)
    elif t == _T.mjGEOM_ELLIPSOID:
        m = tc.icosphere(subdivisions=2, radius=1.0)
        m.vertices = m.vertices * size
    elif t == _T.mjGEOM_MESH:
        mid = model.geom_dataid[g]
        va, vn = model.mesh_vertadr[mid], model.mesh_vertnum[mid]
        fa, fn = model.mesh_faceadr[mid], model.mesh_facenum[mid]
        # MuJoCo stores a mesh's vertices in the geom's frame (the compiler moved the pose into the geom)
        return (model.mesh_vert[va:va + vn].astype(np.float32),
                model.mesh_face[fa:fa + fn].astype(np.uint32))
    else:
        return None
    return np.asarray(m.vertices, np.float32), np.asarray(m.faces, np.uint32)


class RobotPoser:
    """Forward kinematics of the robot's MuJoCo model, for drawing."""

    def __init__(self, robot: RobotSpec):
        self.robot = robot
        m = self.model = build_model(robot)
        self.data = mujoco.MjData(m)
        self._desired = mujoco.MjData(m)
        self.adr = {m.joint(j).name: int(m.jnt_qposadr[j]) for j in range(m.njnt)
                    if int(m.jnt_type[j]) in (int(mujoco.mjtJoint.mjJNT_HINGE), int(mujoco.mjtJoint.mjJNT_SLIDE))}
        self._free = None
        if robot.floating_base:
            self._free = int(m.joint("base").qposadr[0])
        floor = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_GEOM, "floor")
        self._floor_z = float(m.geom_pos[floor, 2]) if floor >= 0 else 0.0
        self._ee = m.body(robot.end_effector).id if robot.end_effector else None
        colors = urdf_link_colors(robot.urdf_path)
        target = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_BODY, TARGET_BODY)
        self.geoms: list[GeomInfo] = []
        for g in range(m.ngeom):
            if int(m.geom_type[g]) == _T.mjGEOM_PLANE or m.geom_bodyid[g] == target and target >= 0:
                continue   # the floor is a grid; the target is drawn from /sim/target
            body = m.body(m.geom_bodyid[g]).name or "world"
            moving = bool(m.geom_contype[g] & ROBOT_GROUP)
            rgb = colors.get(body, tuple(m.geom_rgba[g, :3])) if moving else tuple(m.geom_rgba[g, :3])
            rgb = tuple(int(round(255 * float(c))) for c in rgb)
            self.geoms.append(GeomInfo(g, f"{body}/{m.geom(g).name or g}", moving, rgb))
        self.set_positions({n: float(q) for n, q in zip(robot.joint_names, robot.home)})

    @property
    def floor_z(self) -> float:
        return self._floor_z

    def _pose(self, d: mujoco.MjData, positions: dict[str, float], base_wxyz=None) -> None:
        d.qpos[:] = self.model.qpos0
        if self.robot.gripper_joints:
            for n, q in zip(self.robot.gripper_joints, self.robot.gripper_hold):
                d.qpos[self.adr[n]] = q
        for n, q in positions.items():
            a = self.adr.get(n)
            if a is not None and np.isfinite(q):
                d.qpos[a] = q
        for n, (leader, mult, off) in self.robot.mimic.items():
            if n not in positions and leader in self.adr and n in self.adr:
                d.qpos[self.adr[n]] = off + mult * d.qpos[self.adr[leader]]
        if self._free is not None:
            f = self._free
            quat = np.asarray(base_wxyz if base_wxyz is not None else (1.0, 0.0, 0.0, 0.0), float)
            norm = np.linalg.norm(quat)
            d.qpos[f + 3:f + 7] = quat / norm if norm > 1e-9 and np.all(np.isfinite(quat)) else (1, 0, 0, 0)
            d.qpos[f:f + 3] = 0.0
            mujoco.mj_kinematics(self.model, d)
            d.qpos[f + 2] = self._floor_z - self._lowest_point(d) + FLOOR_CLEARANCE
        mujoco.mj_kinematics(self.model, d)

    def _lowest_point(self, d: mujoco.MjData) -> float:
        """z of the lowest point of the robot's geoms (oriented bounding boxes)."""
        low = np.inf
        for gi in self.geoms:
            if not gi.moving:
                continue
            g = gi.index
            R = d.geom_xmat[g].reshape(3, 3)
            a = self.model.geom_aabb[g]
            z = d.geom_xpos[g, 2] + R[2] @ a[:3]
            low = min(low, z - float(np.abs(R[2]) @ a[3:]))
        return float(low) if np.isfinite(low) else self._floor_z

    def set_positions(self, positions: dict[str, float], base_wxyz=None) -> None:
        """Pose the drawn robot: joint name -> position (rad or m). Joints not named stay at the
        model's reference pose (grippers at their hold value, mimic joints follow their leader);
        names the model lacks and non-finite values are ignored. base_wxyz: a floating base's
        orientation (w, x, y, z)."""
        self._pose(self.data, positions, base_wxyz)

    def geom_poses(self) -> tuple[np.ndarray, np.ndarray]:
        """(positions (G, 3), wxyz quaternions (G, 4)) of self.geoms in the world."""
        d = self.data
        idx = [g.index for g in self.geoms]
        pos = d.geom_xpos[idx].copy()
        quat = np.zeros((len(idx), 4))
        for k, g in enumerate(idx):
            mujoco.mju_mat2Quat(quat[k], d.geom_xmat[g])
        return pos, quat

    def ee_position(self) -> np.ndarray | None:
        return None if self._ee is None else self.data.xpos[self._ee].copy()

    def ee_position_at(self, positions: dict[str, float], base_wxyz=None) -> np.ndarray | None:
        """End-effector position for other joint positions (a desired state), the drawn pose untouched."""
        if self._ee is None:
            return None
        self._pose(self._desired, positions, base_wxyz)
        return self._desired.xpos[self._ee].copy()

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Axis-aligned (low, high) corners of the robot in its current pose."""
        pts = []
        for gi in self.geoms:
            g = gi.index
            R = self.data.geom_xmat[g].reshape(3, 3)
            a = self.model.geom_aabb[g]
            c = self.data.geom_xpos[g] + R @ a[:3]
            h = np.abs(R) @ a[3:]
            pts += [c - h, c + h]
        pts = np.array(pts)
        return pts.min(axis=0), pts.max(axis=0)
