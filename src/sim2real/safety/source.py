"""Exactly one way to the motors: a driver takes commands from one publisher only, and every
node of the control loop takes its inputs from the one node upstream of it.

The publisher is named by the node that owns it (`expected`, e.g. "safety_filter", or a fully
qualified "/ns/safety_filter"). The first publisher of that node seen on the command topic is
pinned by its GID; any other publisher is refused and named. The pin moves only when the pinned
publisher has left the graph (the filter stopped, or died: a process killed with -9 leaves the
graph when its DDS lease runs out, 2 s with config/dds/fastdds.xml), so a second node that takes
the filter's name while the filter runs is refused too, however it floods. (Plain DDS cannot authenticate a node: on a shared network use
SROS2 to keep strangers off the domain.)
"""
from __future__ import annotations

import time
from typing import Callable

# gid -> fully qualified node name of every publisher on the topic, from the ROS graph
Lookup = Callable[[], dict[bytes, str]]


class PinnedSource:
    REFRESH_S = 0.05    # the graph is looked up again for a refused publisher at most this often

    def __init__(self, expected: str):
        self.expected = expected
        self.pinned: bytes | None = None
        self.refused: dict[str, int] = {}      # node name -> commands refused
        self._names: dict[bytes, str] = {}
        self._looked_at = -1e9

    def _matches(self, node: str) -> bool:
        return node == self.expected if self.expected.startswith("/") else node.rsplit("/", 1)[-1] == self.expected

    def accept(self, gid: bytes, lookup: Lookup) -> tuple[bool, str]:
        """(accepted, publisher's node name or '?')."""
        now = time.monotonic()
        if gid == self.pinned and gid:
            return True, self._names.get(gid, self.expected)
        if gid not in self._names or now - self._looked_at > self.REFRESH_S:
            self._names = lookup()
            self._looked_at = now
        if self.pinned is not None and self.pinned not in self._names:
            self.pinned = None                # the source left the graph: the next one may pin
        name = self._names.get(gid, "?")
        if self.pinned is None and gid and self._matches(name):
            self.pinned = gid
            return True, name
        if self._matches(name):     # the right name, not the pinned publisher: an impostor, or a restart
            name = f"{name} (a second publisher under that name; the first one is still up and pinned)"
        self.refused[name] = self.refused.get(name, 0) + 1
        return False, name
