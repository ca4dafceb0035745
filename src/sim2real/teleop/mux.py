"""Teleop mux with twist_mux semantics, for any message type.

Inputs have a priority and a timeout: the highest-priority input whose last message is fresher
than its timeout wins; when it goes stale, the next one takes over (release returns control to
the policy). Locks have a priority: a lock that is set blocks every input of lower priority. A
lock with timeout 0 holds until released; with timeout > 0 it also engages when its heartbeat
goes stale (as twist_mux does).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sim2real.errors import ConfigError


@dataclass
class _Source:
    name: str
    topic: str
    priority: int
    timeout_s: float
    stamp: float | None = None
    value: Any = None


class Mux:
    def __init__(self, inputs: dict[str, dict], locks: dict[str, dict]):
        def parse(d, kind):
            out = {}
            for name, c in d.items():
                try:
                    out[name] = _Source(name, str(c["topic"]), int(c["priority"]), float(c["timeout_s"]))
                except (KeyError, TypeError, ValueError) as e:
                    raise ConfigError(f"mux.{kind}.{name}: needs topic, priority, timeout_s ({e})") from None
            return out
        self.inputs = parse(inputs, "inputs")
        self.locks = parse(locks, "locks")

    def update_input(self, name: str, value: Any, now: float) -> None:
        src = self.inputs[name]
        src.value, src.stamp = value, now

    def update_lock(self, name: str, locked: bool, now: float) -> None:
        src = self.locks[name]
        src.value, src.stamp = bool(locked), now

    def lock_priority(self, now: float) -> int:
        """Priority of the highest engaged lock, -1 when none."""
        best = -1
        for lk in self.locks.values():
            stale = lk.timeout_s > 0 and (lk.stamp is None or now - lk.stamp > lk.timeout_s)
            if lk.value or stale:
                best = max(best, lk.priority)
        return best

    def select(self, now: float) -> _Source | None:
        """The winning input now, or None (nothing fresh, or everything locked)."""
        lock = self.lock_priority(now)
        best = None
        for src in self.inputs.values():
            if src.stamp is None or now - src.stamp > src.timeout_s or src.priority <= lock:
                continue
            if best is None or src.priority > best.priority:
                best = src
        return best
