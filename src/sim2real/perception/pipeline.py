"""What the perception node does with one camera frame, without ROS: keypoints from the CNN (stage 1
on the frame resized to its input; stage 2, perception/refine.py, on crops of the camera's own
pixels at the target and its foot, where its checkpoint exists and it is confident), the
camera calibrated online against the known points (the table's corners, the arm's landmarks at the
joint state of the frame's stamp), the target located through the calibrated camera, and one
tracked estimate (geometry.TargetTracker) kept through noise and occlusion by the arm.

The node (ros/nodes/perception.py) feeds it decoded frames and the joint state nearest each stamp;
`sim2real eval perception --replay` (and tests) feed it renders of a recording. One place for the
per-frame logic, so what is measured offline is what runs.

Occlusion, from forward kinematics through the calibrated camera:
  hidden    the wrist-to-hand segment lies in front of the target's or its foot's keypoint: the CNN
            may see the hand there, so the frame does not join the estimate (it can still count
            toward a new target elsewhere: a new target behind the arm must be taken).
  arm_near  any part of the arm (base to hand) lies in front of the measured target, the estimate's
            target or their feet. A ball the arm covers reads LOWER (its keypoint slides down the
            visible rod), never higher, so the estimate's height only goes down on frames with the
            whole arm clear (geometry.TargetTracker.update). And a measurement elsewhere whose
            target pixel is where the estimate projects (its foot alone moved) with the arm about
            is a foot misread behind the arm, not a moved target: it is left out.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim2real.perception.geometry import FOOT, KNOWN, TARGET, Landmarks, OnlineCalibration, TargetTracker, near_arm
from sim2real.perception.net import Localizer, confidence
from sim2real.perception.refine import Refiner

MIN_POINTS = 12         # landmark points before the first calibration
SAME_RAY_PX = 3.0       # the target's pixel this close to the estimate's: the target has not moved
                        # (pixels of a 128 px camera: geometry.REFERENCE_HEIGHT_PX; Camera.px_scale)


@dataclass
class FrameResult:
    target: np.ndarray | None      # the tracked estimate (3,) m, None when nothing is published
    measured: np.ndarray | None    # this frame's own measurement
    confidence: float
    hidden: bool = False
    arm_near: bool = False
    problem: str | None = None
    foot_misread: bool = False     # left out: the target's pixel stayed, its foot's moved behind the arm
    refined: int = 0               # of the target and its foot, how many stage 2 placed


def image_problem(img, width: int, height: int) -> str | None:
    """What is wrong with a decoded frame for a width x height camera (None: nothing): (H, W, 3)
    uint8, not empty, the camera's aspect ratio (any scale: stage 1 resizes; stage 2 needs the
    camera's own size and is skipped at another)."""
    if not isinstance(img, np.ndarray) or img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
        what = f"{img.shape} {img.dtype}" if isinstance(img, np.ndarray) else type(img).__name__
        return f"image must be (H, W, 3) uint8 RGB, got {what}"
    h, w = img.shape[:2]
    if h == 0 or w == 0:
        return f"empty image ({w}x{h})"
    if abs(h * width - w * height) > max(h, w):
        return f"image is {w}x{h}, the camera {width}x{height} (another aspect ratio)"
    return None


class TargetPipeline:
    def __init__(self, localizer: Localizer, robot, calibrate: bool = True, min_confidence: float = 0.3,
                 refiner: Refiner | None = None):
        self.loc = localizer
        self.refiner = refiner
        self.size = (robot.camera.width, robot.camera.height) if robot.camera else None
        self.min_confidence = float(min_confidence)
        self.tracker = TargetTracker()
        self.cal = OnlineCalibration(localizer.camera0)
        self.calibration_problem: str | None = None
        self.landmarks = Landmarks(robot) if calibrate and robot.camera and robot.camera.landmarks else None

    @property
    def calibrating(self) -> bool:
        return self.landmarks is not None

    def frame(self, img: np.ndarray, q: np.ndarray | None = None) -> FrameResult:
        """One frame (H, W, 3) uint8 RGB at the camera's size (another scale of its aspect ratio:
        stage 1 only); q the measured joint positions at its stamp (None: no calibration points, no
        occlusion check from this frame). A malformed frame is a FrameResult with its problem."""
        if self.size is not None:
            problem = image_problem(img, *self.size)
            if problem:
                return FrameResult(None, None, float("nan"), problem=problem)
        kp, spread, used = self.keypoints(img)
        refined = int(used.sum())
        known = None
        if q is not None and self.landmarks is not None:
            known = self.landmarks(q)
            self.cal.add(kp[0, KNOWN:], spread[0, KNOWN:], known)
            if self.cal.camera is None and self.recalibrate():
                self.tracker = TargetTracker()     # the first calibration: what the mount gave goes
        target, sigma = self.loc.locate(kp, spread)
        xyz, s = target[0], float(sigma[0])
        if not (np.all(np.isfinite(xyz)) and np.isfinite(s)):
            return FrameResult(None, None, float("nan"), problem="non-finite network output", refined=refined)
        conf = float(confidence(s, self.loc.tol_m))
        if conf < self.min_confidence:
            return FrameResult(None, xyz, conf, problem=f"target below min_confidence {self.min_confidence}",
                               refined=refined)
        hidden = arm_near = False
        if known is not None:
            hidden, arm_near = self._occlusion(kp[0], xyz, known)
        est = self.tracker.estimate
        if (arm_near and est is not None and np.linalg.norm(xyz[:2] - est[:2]) > self.tracker.gate_m
                and np.linalg.norm(kp[0, TARGET] - self.loc.camera.project(est)[0]) <= SAME_RAY_PX * self.loc.camera.px_scale):
            # the target's own pixel has not moved, only the foot's, with the arm about: the foot
            # was misread behind the arm (the measurement slid along the target's ray); not a move
            return FrameResult(est, xyz, conf, hidden, arm_near, foot_misread=True, refined=refined)
        est = self.tracker.update(xyz, hidden=hidden, arm_near=arm_near)
        return FrameResult(est, xyz, conf, hidden, arm_near, refined=refined)

    def keypoints(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(keypoints (N, K, 2), spread (N, K), refined (N, 2) bool), camera px, of frames
        (N, H, W, 3) or (H, W, 3): stage 1, then stage 2 where there is one (frames at the
        camera's own size only). What the node runs and `sim2real eval perception` measures."""
        kp, spread = self.loc.keypoints(images)
        if self.refiner is None:
            return kp, spread, np.zeros((len(kp), 2), bool)
        return self.refiner.refine(images, kp, spread)

    def _occlusion(self, kp: np.ndarray, xyz: np.ndarray, known: np.ndarray) -> tuple[bool, bool]:
        cam, table_z = self.loc.camera, self.loc.table_z
        landmarks = known[len(known) - len(self.landmarks.ids):]
        chain = np.concatenate([[[0.0, 0.0, 0.0]], landmarks])       # the base, then the landmark bodies
        hand = landmarks[-2:]                                         # the wrist and the hand

        def behind(chain_xyz, uv, point) -> bool:
            return near_arm(cam, chain_xyz, uv, float(np.linalg.norm(point - cam.pos)))

        foot = np.array([*xyz[:2], table_z])
        hidden = behind(hand, kp[TARGET], xyz) or behind(hand, kp[FOOT], foot)
        points = [(kp[TARGET], xyz), (kp[FOOT], foot)]
        est = self.tracker.estimate
        if est is not None:
            est_foot = np.array([*est[:2], table_z])
            uv = cam.project(np.stack([est, est_foot]))
            points += [(uv[0], est), (uv[1], est_foot)]
        arm_near = hidden or any(behind(chain, uv, p) for uv, p in points)
        return hidden, arm_near

    def recalibrate(self) -> bool:
        """Refit the camera where there are new points; whether it did. A failed fit keeps the last
        camera and says why in `calibration_problem` (None after a good fit)."""
        if len(self.cal.uv) >= MIN_POINTS and (self.cal.added_since_fit >= MIN_POINTS or self.cal.camera is None):
            try:
                self.loc.camera = self.cal.fit()
            except Exception as e:  # noqa: BLE001 - a bad set of points must not stop the stream
                self.cal.added_since_fit = 0
                self.calibration_problem = f"calibration failed: {type(e).__name__}: {e}"
                return False
            self.calibration_problem = None
            return True
        return False
