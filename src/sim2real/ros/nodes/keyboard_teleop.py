"""Keyboard teleop in a terminal (works in tmux): jogs publish /teleop/desired, space locks.

While keys come in, the desired state is republished at 20 Hz; stop typing and it goes quiet,
the mux times the input out and control returns to the policy.
"""
from __future__ import annotations

import os
import select
import sys
import termios
import threading
import time
import tty

import numpy as np
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile
from sensor_msgs.msg import JointState
from std_msgs.msg import Bool

from sim2real.config_io import load_yaml
from sim2real.control.nominal_model import NominalModel
from sim2real.robots import load_robot
from sim2real.ros import convert
from sim2real.ros.params import declare
from sim2real.teleop import config_path as teleop_config
from sim2real.teleop.keyboard import KeyboardJog

PARAMS = {"robot": ("jaco", "registered robot name"),
          "active_s": (1.0, "keep publishing this long after the last key press")}
HELP = ("keyboard teleop: 1-7 pick joint, w/s jog; c = Cartesian mode (i/k x, j/l y, u/o z); "
        "h home; SPACE lock (e-stop), r release; q quit")


class KeyboardTeleopNode(Node):
    def __init__(self, **kwargs):
        super().__init__("keyboard_teleop", **kwargs)
        p = self.p = declare(self, PARAMS)
        self.robot = load_robot(p.robot)
        cfg = load_yaml(teleop_config(self.robot)).get("keyboard", {})
        self.jog = KeyboardJog(self.robot.n, float(cfg.get("joint_step", 0.05)), float(cfg.get("cartesian_step", 0.01)))
        self.model = NominalModel(self.robot)
        self.map = convert.JointMap(self.robot.joint_names)
        self.q_meas = None
        self.q_des = None
        self.last_key = 0.0
        self.pub = self.create_publisher(JointState, "/teleop/desired", 10)
        self.pub_lock = self.create_publisher(Bool, "/teleop/lock",
                                              QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL))
        self.create_subscription(JointState, "/joint_states", self._on_state, 10)
        self.create_timer(0.05, self._publish)
        print(HELP, flush=True)
        threading.Thread(target=self._read_keys, daemon=True).start()

    def _on_state(self, msg):
        q, _, problem = self.map.extract(msg)
        if not problem:
            # desired states carry the robot's clock (sim or wall time, whichever the graph runs on)
            self.q_meas, self.t_meas = q, convert.from_time(msg.header.stamp)

    def _publish(self):
        if self.q_des is not None and time.monotonic() - self.last_key < self.p.active_s:
            self.pub.publish(convert.joint_state(self.t_meas, self.robot.joint_names, self.q_des, np.zeros(self.robot.n)))

    def on_key(self, key: str) -> None:
        if self.q_meas is None:
            print("no /joint_states yet", flush=True)
            return
        if self.q_des is None or time.monotonic() - self.last_key > self.p.active_s:
            self.q_des = self.q_meas.copy()     # start from where the arm is
        self.q_des, action = self.jog.apply(key, self.q_des, self.model.ee_jacobian, self.robot.home)
        self.last_key = time.monotonic()
        if action in ("lock", "unlock"):
            self.pub_lock.publish(Bool(data=action == "lock"))
        elif action == "quit":
            os.kill(os.getpid(), 2)
        print(f"\r[{self.jog.mode} j{self.jog.joint + 1}] {np.array2string(self.q_des, precision=2)}   ", end="", flush=True)

    def _read_keys(self):
        if not sys.stdin.isatty():
            print("keyboard teleop needs a terminal", file=sys.stderr)
            return
        fd = sys.stdin.fileno()
        old = termios.tcgetattr(fd)
        try:
            tty.setcbreak(fd)
            while self.context.ok():
                if select.select([fd], [], [], 0.1)[0]:
                    key = os.read(fd, 3).decode(errors="ignore")
                    self.on_key(key)
        finally:
            termios.tcsetattr(fd, termios.TCSADRAIN, old)
