"""Keyboard jog mapping (no terminal or ROS here): a key -> a change of the desired joint state.

Joint mode: keys 1..7 pick a joint, w/s jog it by joint_step rad. Cartesian mode: arrows or
i/k (x), j/l (y), u/o (z) move the end effector by cartesian_step m through the Jacobian's
damped pseudo-inverse. 'c' toggles the mode, space sends the lock (e-stop), 'r' releases it,
'h' goes home, q quits.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

CARTESIAN_KEYS = {"i": (0, +1), "k": (0, -1), "j": (1, +1), "l": (1, -1), "u": (2, +1), "o": (2, -1),
                  "\x1b[A": (0, +1), "\x1b[B": (0, -1), "\x1b[D": (1, +1), "\x1b[C": (1, -1)}


@dataclass
class KeyboardJog:
    n: int
    joint_step: float
    cartesian_step: float
    mode: str = "joint"
    joint: int = 0
    events: list = field(default_factory=list)

    def apply(self, key: str, q_des: np.ndarray, jacobian=None, home=None) -> tuple[np.ndarray, str | None]:
        """(new desired q, action) where action is None, 'lock', 'unlock' or 'quit'."""
        q = np.array(q_des, float)
        if key == "q":
            return q, "quit"
        if key == " ":
            return q, "lock"
        if key == "r":
            return q, "unlock"
        if key == "c":
            self.mode = "cartesian" if self.mode == "joint" else "joint"
        elif key == "h" and home is not None:
            q = np.array(home, float)
        elif self.mode == "joint":
            if key.isdigit() and 1 <= int(key) <= self.n:
                self.joint = int(key) - 1
            elif key in ("w", "s"):
                q[self.joint] += self.joint_step * (1 if key == "w" else -1)
        elif key in CARTESIAN_KEYS and jacobian is not None:
            axis, sign = CARTESIAN_KEYS[key]
            dx = np.zeros(3)
            dx[axis] = sign * self.cartesian_step
            J = jacobian(q)
            q = q + J.T @ np.linalg.solve(J @ J.T + 1e-4 * np.eye(3), dx)
        return q, None
