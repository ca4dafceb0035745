"""Subscriptions that know who published each message (the publisher's GID).

rclpy's EventsExecutor (kilted) cannot call a callback with message info, so these are served by a
thread of their own waiting on a wait set, outside any executor: the C++ subscription is created
on the node's handle (remaps and namespaces apply as usual) but never registered with the node,
so the node's executor never takes its messages.

    src = SourcedSubscriptions(node)
    src.add(Float64MultiArray, "/effort_controller/commands", qos, lambda msg, gid: ...)
    src.add_from("driver", JointState, "/joint_states", lambda msg: ...)   # the driver's, newest only
    ...
    src.close()      # in destroy_node, before the node goes

`publishers(topic)` maps the GIDs of the publishers on a topic to their node names, from the ROS
graph, for naming a stranger and for pinning the one source a node accepts.
"""
from __future__ import annotations

import threading

from rclpy.impl.implementation_singleton import rclpy_implementation as _rclpy
from rclpy.node import Node
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.type_support import check_is_valid_msg_type

from sim2real.safety.source import PinnedSource

# control-loop inputs: room for a stranger's messages beside the genuine one; served newest-only
INPUT = QoSProfile(depth=10, history=HistoryPolicy.KEEP_LAST, reliability=ReliabilityPolicy.RELIABLE)


def gid_bytes(gid) -> bytes:
    """A GID as bytes, from message info (dict with 'data') or from the graph (list of ints)."""
    if isinstance(gid, dict):
        gid = gid.get("data", b"")
    return bytes(gid)[:16]


class SourcedSubscriptions:
    WAIT_NS = 100_000_000   # close() is noticed within this

    def __init__(self, node: Node):
        self.node = node
        self._subs: list[tuple[object, type, object]] = []
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def add_from(self, source: str, msg_type, topic: str, callback, on_refused=None, raw: bool = False,
                 qos: QoSProfile = INPUT) -> PinnedSource:
        """Only messages published by node `source` (pinned by GID) count; of those that arrived
        since the last wake, callback(msg) gets the newest (control-loop semantics: no backlog).
        A stranger's messages go to on_refused(its node name) and, unlike a depth-1 queue, cannot
        push the genuine message out (the queue holds INPUT.depth)."""
        gate = PinnedSource(qualified(self.node, source))

        def accept(gid) -> bool:
            ok, who = gate.accept(gid, lambda: publishers(self.node, topic))
            if not ok and on_refused is not None:
                on_refused(who)
            return ok
        self._add(msg_type, topic, qos, lambda msg, gid: callback(msg), raw, accept)
        return gate

    def add(self, msg_type, topic: str, qos: QoSProfile, callback, raw: bool = False) -> None:
        """callback(msg, gid: bytes) for every message, in order, from this object's thread;
        raw: msg is the CDR bytes."""
        self._add(msg_type, topic, qos, callback, raw, None)

    def _add(self, msg_type, topic, qos, callback, raw, accept) -> None:
        check_is_valid_msg_type(msg_type)    # imports the type support, as create_subscription does
        with self.node.handle:
            handle = _rclpy.Subscription(self.node.handle, msg_type, topic, qos.get_c_qos_profile(), None)
        self._subs.append((handle, msg_type, callback, raw, accept))
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=f"{self.node.get_name()}-sourced", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        """Wait, then serve the ready subscriptions in the order they were added (a node that
        adds its state topic first answers a state before a command that came with it)."""
        ctx = self.node.context
        ws, n = None, -1
        while not self._stop.is_set() and ctx.ok():
            subs = list(self._subs)
            try:
                with ctx.handle:
                    if len(subs) != n:
                        ws, n = _rclpy.WaitSet(len(subs), 0, 0, 0, 0, 0, ctx.handle), len(subs)
                    ws.clear_entities()
                    for h, *_ in subs:
                        ws.add_subscription(h)
                    ws.wait(self.WAIT_NS)
                    ready = set(ws.get_ready_entities("subscription"))
            except Exception:  # noqa: BLE001 - the context is going down under us
                if self._stop.is_set() or not ctx.ok():
                    return
                raise
            for h, msg_type, cb, raw, accept in subs:
                if h.pointer not in ready:
                    continue
                newest = None
                while not self._stop.is_set():   # drain what queued since the last wake
                    try:
                        taken = h.take_message(msg_type, raw)
                    except Exception:  # noqa: BLE001
                        if self._stop.is_set() or not ctx.ok():
                            return
                        raise
                    if taken is None:
                        break
                    msg, info = taken
                    gid = gid_bytes(info.get("publisher_gid") or b"")
                    if accept is None:
                        self._call(cb, msg, gid)
                    elif accept(gid):
                        newest = (msg, gid)
                if newest is not None:
                    self._call(cb, *newest)

    def _call(self, cb, msg, gid) -> None:
        try:
            cb(msg, gid)
        except Exception as e:  # noqa: BLE001 - one bad message must not end the thread
            self.node.get_logger().error(f"{type(e).__name__} in a callback: {e}", throttle_duration_sec=1.0)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=1.0)
        for h, *_ in self._subs:
            try:
                h.destroy_when_not_in_use()
            except Exception:  # noqa: BLE001
                pass
        self._subs.clear()


def publishers(node: Node, topic: str) -> dict[bytes, str]:
    """GID -> fully qualified node name of every publisher on `topic` (resolved with the node's remaps)."""
    name = node.resolve_topic_name(topic)
    out = {}
    for info in node.get_publishers_info_by_topic(name):
        if info.node_name == "_NODE_NAME_UNKNOWN_":   # endpoint discovered before its node
            out[gid_bytes(info.endpoint_gid)] = "?"
            continue
        ns = info.node_namespace.rstrip("/")
        out[gid_bytes(info.endpoint_gid)] = f"{ns}/{info.node_name}"
    return out


def qualified(node: Node, name: str) -> str:
    """A node name as a fully qualified one: relative names live in `node`'s namespace."""
    if name.startswith("/"):
        return name
    ns = node.get_namespace().rstrip("/")
    return f"{ns}/{name}"
