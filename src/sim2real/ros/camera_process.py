"""The twin's camera in a process of its own (real time): no GIL and no CPU time shared with the
500 Hz loop.

Rendering a 256 px frame in software GL takes ~8 ms of CPU, plus the image effects and the
message's serialization, all Python or GIL-holding work. In the driver's process that work
competed with the control thread and the controller's executor for the interpreter, and it cost
the 500 Hz loop ~1% of its deadlines (issue 16). Here the driver only writes the pose of every
step into shared memory (a seqlock, ~2 us); this process reads the latest pose at the camera's
rate, renders it, and publishes /camera/image_raw and /camera/camera_info itself, at a lower CPU
priority (nice) than the control loop.

The driver (parent) starts it with `CameraProcess.start(...)`: the model (pickled, with the
profile's visual changes already in it), the camera and the resolved topic names go down the
child's stdin, which then stays open; the child stops when that pipe closes (the driver ended or
died), when the shared stop flag is set, or on SIGINT/SIGTERM. Lockstep keeps its in-process
thread: there the frame is rendered in step and waited for, deterministically.
"""
from __future__ import annotations

import mmap
import os
import pickle
import signal
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np

_HEAD = 3   # float64 slots before the pose: sequence number, stamp (s), stop flag


def camera_node_name(driver: str) -> str:
    """The camera process's node name, beside its driver's: the publisher of /camera/image_raw
    that perception's `image_source` names (graph.py) when the twin runs in real time."""
    return f"{driver}_camera"


class PoseShare:
    """The latest pose (qpos, mocap_pos) and its stamp in shared memory, one writer, one reader.

    A seqlock: the writer makes the sequence number odd, writes, makes it even again; a reader
    copies and retries when the number was odd or changed while it copied. A file descriptor (an
    unlinked file in /dev/shm) is what the child inherits: nothing is left behind."""

    def __init__(self, fd: int, nq: int, nmocap: int, owner: bool):
        self.fd, self.nq, self.nmocap, self.owner = fd, nq, nmocap, owner
        size = 8 * (_HEAD + nq + 3 * nmocap)
        if owner:
            os.ftruncate(fd, size)
        self._mm = mmap.mmap(fd, size)
        self.buf = np.frombuffer(self._mm, dtype=np.float64)
        self._q = self.buf[_HEAD:_HEAD + nq]
        self._m = self.buf[_HEAD + nq:].reshape(nmocap, 3)

    @classmethod
    def create(cls, nq: int, nmocap: int) -> "PoseShare":
        shm = "/dev/shm" if os.path.isdir("/dev/shm") else None
        fd, path = tempfile.mkstemp(prefix="sim2real-camera-", dir=shm)
        os.unlink(path)      # the descriptor keeps it alive, for this process and the child only
        return cls(fd, nq, nmocap, owner=True)

    def write(self, qpos: np.ndarray, mocap_pos: np.ndarray, stamp: float) -> None:
        b = self.buf
        if b is None:        # closed (the driver is going down)
            return
        b[0] += 1.0          # odd: writing
        self._q[:] = qpos
        if self.nmocap:
            self._m[:] = mocap_pos
        b[1] = stamp
        b[0] += 1.0          # even: consistent

    def read(self, qpos: np.ndarray, mocap_pos: np.ndarray, tries: int = 100) -> tuple[float, float] | None:
        """Copies the latest pose into qpos and mocap_pos; returns (sequence, stamp), or None when
        nothing was written yet (or no consistent copy in `tries`)."""
        b = self.buf
        for _ in range(tries):
            s1 = b[0]
            if s1 == 0.0:
                return None
            if int(s1) % 2:
                time.sleep(0)
                continue
            qpos[:] = self._q
            if self.nmocap:
                mocap_pos[:] = self._m
            stamp = b[1]
            if b[0] == s1:
                return s1, stamp
        return None

    @property
    def stop(self) -> bool:
        return self.buf[2] != 0.0

    def request_stop(self) -> None:
        self.buf[2] = 1.0

    def close(self) -> None:
        self.buf = self._q = self._m = None
        try:
            self._mm.close()
        except BufferError:   # a view still alive somewhere: the mapping goes with the process
            pass
        if self.owner:
            os.close(self.fd)


class CameraProcess:
    """The parent's handle: the shared pose, and the child rendering and publishing from it."""

    def __init__(self, share: PoseShare, proc: subprocess.Popen):
        self.share, self.proc = share, proc

    @classmethod
    def start(cls, model, cam, visuals: dict, seed: int, image_topic: str, info_topic: str,
              domain_id: int, node_name: str = "driver_camera", namespace: str = "/",
              nice: int = 10) -> "CameraProcess":
        share = PoseShare.create(model.nq, model.nmocap)
        cfg = {"model": model, "cam": cam, "visuals": visuals, "seed": seed, "fd": share.fd,
               "nq": model.nq, "nmocap": model.nmocap, "image_topic": image_topic,
               "info_topic": info_topic, "domain_id": domain_id, "nice": nice,
               "node": node_name, "namespace": namespace}
        proc = subprocess.Popen([sys.executable, "-m", "sim2real.ros.camera_process"], stdin=subprocess.PIPE,
                                pass_fds=[share.fd], start_new_session=False)
        try:
            proc.stdin.write(pickle.dumps(cfg))
            proc.stdin.flush()
        except BrokenPipeError:
            pass             # it died at start: its stderr says why; exit_code tells the driver
        return cls(share, proc)

    def write(self, qpos, mocap_pos, stamp: float) -> None:
        self.share.write(qpos, mocap_pos, stamp)

    @property
    def exit_code(self) -> int | None:
        """None while it runs."""
        return self.proc.poll()

    def stop(self, timeout_s: float = 3.0) -> None:
        self.share.request_stop()
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=timeout_s)
        self.share.close()


def _child() -> int:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):      # Ctrl-C reaches the whole process group:
        signal.signal(sig, lambda *_: stop.set())   # the driver stops us; leave quietly either way
    cfg = pickle.load(sys.stdin.buffer)

    def parent_gone():   # the pipe closes when the driver ends or dies (no orphan keeps rendering)
        try:    # the raw descriptor: a buffered reader's lock held here aborts the interpreter's exit
            while os.read(0, 4096):
                pass
        except OSError:
            pass
        stop.set()
    threading.Thread(target=parent_gone, daemon=True).start()
    try:   # SCHED_IDLE: the CPU only when nothing else wants it (threads made later, GL's, inherit it)
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    except (AttributeError, OSError):
        try:
            os.nice(int(cfg["nice"]))
        except OSError:
            pass

    from sim2real.ros import env
    env.setup()
    import mujoco
    import rclpy
    from rclpy.node import Node
    from rclpy.signals import SignalHandlerOptions
    from sensor_msgs.msg import CameraInfo, Image

    from sim2real.ros import convert
    from sim2real.sim.camera import Camera

    share = PoseShare(cfg["fd"], cfg["nq"], cfg["nmocap"], owner=False)
    model, cam = cfg["model"], cfg["cam"]
    data = mujoco.MjData(model)
    camera = Camera(model, cam, cfg["visuals"], cfg["seed"])
    ctx = rclpy.Context()
    rclpy.init(context=ctx, domain_id=cfg["domain_id"], signal_handler_options=SignalHandlerOptions.NO)
    node = Node(cfg["node"], namespace=cfg["namespace"], context=ctx, start_parameter_services=False)
    pub_img = node.create_publisher(Image, cfg["image_topic"], 2)
    pub_info = node.create_publisher(CameraInfo, cfg["info_topic"], 2)
    frame = cam.name + "_optical_frame"
    period = 1.0 / cam.rate_hz
    next_t = time.perf_counter()
    last_seq = None
    try:
        while not stop.is_set() and not share.stop:
            got = share.read(data.qpos, data.mocap_pos)
            if got is not None and got[0] != last_seq:     # a new pose (the driver still steps)
                last_seq, stamp = got
                mujoco.mj_kinematics(model, data)
                mujoco.mj_comPos(model, data)       # cameras and lights are placed from these
                mujoco.mj_camlight(model, data)
                rgb = camera.render(data)
                pub_img.publish(convert.image(stamp, frame, rgb))
                pub_info.publish(convert.camera_info(stamp, frame, cam.width, cam.height, cam.fovy_deg))
            next_t += period
            now = time.perf_counter()
            if next_t < now:          # rendering took longer than a period: skip, don't catch up
                next_t = now
            stop.wait(next_t - now)
    finally:
        camera.close()
        node.destroy_node()
        try:
            ctx.try_shutdown()
        except Exception:  # noqa: BLE001 - going away anyway
            pass
        share.close()
    return 0


if __name__ == "__main__":
    sys.exit(_child())
