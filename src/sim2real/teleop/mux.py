"""Teleop mux with twist_mux semantics, for any message type.

Inputs have a priority and a timeout: the highest-priority input whose last message is fresher
than its timeout wins; when it goes stale, the next one takes over (release returns control to
the policy). Locks have a priority: a lock that is set blocks every input of lower priority. A
lock with timeout 0 holds until released; with timeout > 0 it also engages when its heartbeat
goes stale (as twist_mux does). A lock is held per source (safety/lock.py): only the source that
set it releases it, or `reset_locks()`.

Each input has a token bucket: `max_rate_hz` (default 200) with a burst of FLOOD_BURST messages.
An input that empties it is flooding: its messages are refused and it cannot win until it has
kept under its rate for FLOOD_HOLD_S, so a flood holds control for at most its first burst
(garbage never counts as fresh at all: callers validate before `update_input`). An input may
name its `source` node (the policy's): the node refuses other publishers on that topic before
they count, so a stranger on /policy/desired can neither drive nor make the policy "flood".
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sim2real.errors import ConfigError
from sim2real.safety.lock import Lock

FLOOD = "flooding"
FLOOD_BURST = 5        # messages an input may send at once (the clock may tick in 20 ms steps)
FLOOD_HOLD_S = 1.0     # s under its rate before a flooding input may win again


@dataclass
class _Source:
    name: str
    topic: str
    priority: int
    timeout_s: float
    max_rate_hz: float = 200.0
    source: str | None = None          # the only node whose messages count (e.g. the policy); None: any
    stamp: float | None = None
    value: Any = None
    tokens: float = FLOOD_BURST
    refilled: float | None = None
    flooding_until: float = -1.0
    lock: Lock = field(default_factory=Lock)


class Mux:
    def __init__(self, inputs: dict[str, dict], locks: dict[str, dict]):
        def parse(d, kind):
            out = {}
            for name, c in d.items():
                try:
                    out[name] = _Source(name, str(c["topic"]), int(c["priority"]), float(c["timeout_s"]),
                                        float(c.get("max_rate_hz", 200.0)), c.get("source"))
                except (KeyError, TypeError, ValueError) as e:
                    raise ConfigError(f"mux.{kind}.{name}: needs topic, priority, timeout_s ({e})") from None
            return out
        self.inputs = parse(inputs, "inputs")
        self.locks = parse(locks, "locks")

    def update_input(self, name: str, value: Any, now: float, limit: bool = True) -> str | None:
        """Take a (valid) message of input `name` at time now; FLOOD when refused for its rate
        (limit=False: no rate limit, for an input pinned to one trusted node)."""
        src = self.inputs[name]
        if not limit:
            src.value, src.stamp = value, now
            return None
        if src.refilled is not None:
            src.tokens = min(FLOOD_BURST, src.tokens + (now - src.refilled) * src.max_rate_hz)
        src.refilled = now
        if src.tokens < 1.0:
            src.flooding_until = now + FLOOD_HOLD_S
            return FLOOD
        src.tokens -= 1.0
        src.value, src.stamp = value, now
        return None

    def update_lock(self, name: str, locked: bool, now: float, source: bytes = b"") -> str | None:
        """One lock message from `source` (its publisher); what happened (see Lock.update)."""
        src = self.locks[name]
        src.stamp = now
        what = src.lock.update(source, bool(locked))
        src.value = src.lock.locked
        return what

    def reset_locks(self) -> bool:
        """Release every hold of every lock; True if one was set."""
        was = False
        for lk in self.locks.values():
            was = lk.lock.reset() or was
            lk.value = False
        return was

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
            if (src.stamp is None or now - src.stamp > src.timeout_s or src.priority <= lock
                    or now < src.flooding_until):
                continue
            if best is None or src.priority > best.priority:
                best = src
        return best
