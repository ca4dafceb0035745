"""Freshness of stamped messages judged against the receiver's own clock, so no single message can
poison it.

A message stamped further than `max_future_s` ahead of the receiver's clock is refused (one state
stamped an hour ahead once made every genuine state "out of order" forever). A stamp older than
the newest accepted one is out of order, but only while the newest is not itself ahead of the
clock by more than `slack_s` (the most the clock may trail genuine stamps): a newest stamp in
the clock's future is not trusted to order others (a spoof within max_future_s, or the clock
went back: a restarted lockstep driver, a replayed bag), so the gate starts over from the next
plausible stamp. A stamp older than `max_age_s` behind the clock is stale.

Clocks: sim time in lockstep (/clock, published every few steps, so it may trail the state
stamps a little), ROS time in real time. A receiver whose clock has not started (sim time 0
before the first /clock) judges order only.
"""
from __future__ import annotations

FUTURE = "stamp ahead of the clock"
STALE = "stale stamp"
ORDER = "out-of-order stamp"


class StampGate:
    def __init__(self, max_future_s: float = 0.5, max_age_s: float = 1.0, ordered: bool = True,
                 slack_s: float = 0.1):
        """ordered=False: judge against the clock only (inputs merged from several sources).
        slack_s: lockstep nodes hear /clock every 20 ms of sim time and read it every 10 states,
        so their clock trails genuine stamps by up to ~40 ms."""
        self.ordered = ordered
        self.slack_s = slack_s
        self.max_future_s = max_future_s
        self.max_age_s = max_age_s
        self.newest: float | None = None

    def check(self, t: float, now: float) -> str | None:
        """None and t adopted as the newest, or the reason t is refused. t, now in s."""
        clock = now > 0.0
        if clock and t > now + self.max_future_s:
            return FUTURE
        if clock and t < now - self.max_age_s:
            return STALE
        if self.ordered and self.newest is not None and t < self.newest:
            if not (clock and self.newest > now + self.slack_s):
                return ORDER
        self.newest = t
        return None
