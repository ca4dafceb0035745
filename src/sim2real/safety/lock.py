"""The teleop lock as the set of sources holding it: it fails safe.

A source (a publisher, named by its GID) sets the lock with True and releases only its own hold
with False; another publisher's False releases nothing. A source that vanishes keeps its hold.
`reset()` is the explicit release of every hold (the /teleop/lock_reset topic).
"""
from __future__ import annotations


class Lock:
    def __init__(self):
        self.holders: set[bytes] = set()

    @property
    def locked(self) -> bool:
        return bool(self.holders)

    def update(self, source: bytes, locked: bool) -> str | None:
        """Apply one message; returns what happened when it matters ('set', 'released',
        'refused: ...'), None when nothing changed."""
        if locked:
            if source in self.holders:
                return None
            self.holders.add(source)
            return "set"
        if source in self.holders:
            self.holders.discard(source)
            return "released" if not self.holders else None
        if self.holders:
            return "refused: release from a source that does not hold the lock"
        return None

    def reset(self) -> bool:
        """Release every hold; True if the lock was set."""
        was = self.locked
        self.holders.clear()
        return was
