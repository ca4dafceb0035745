"""Subscriptions that know who published each message (the publisher's GID).

rclpy's EventsExecutor (kilted) cannot call a callback with message info, so these are served
outside any executor by one hub thread per ROS context, which waits on all of them (a wait set
and a guard condition) and takes each message with its info: the C++ subscription is created on
the node's handle (remaps and namespaces apply as usual) but never registered with the node, so
the node's executor never takes its messages. One thread for every node in a composition keeps
a lockstep chain on one thread, as the executor would (a thread per node cost ~3x in hand-offs).

    src = SourcedSubscriptions(node)
    src.add(Float64MultiArray, "/effort_controller/commands", qos, lambda msg, gid: ...)
    src.add_from("driver", JointState, "/joint_states", lambda msg: ...)   # the driver's, newest only
    ...
    src.close()      # in destroy_node, before the node goes

`publishers(topic)` maps the GIDs of the publishers on a topic to their node names, from the ROS
graph, for naming a stranger and for pinning the one source a node accepts.
"""
from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass

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


@dataclass(eq=False)
class _Entry:
    node: Node
    handle: object
    msg_type: type
    callback: object      # callback(msg, gid)
    raw: bool
    accept: object        # None: every message in order; else accept(gid) -> bool, newest accepted only


class _Hub:
    """The thread that serves every sourced subscription of one context."""
    WAIT_NS = 200_000_000
    _hubs: dict[int, "_Hub"] = {}
    _hubs_lock = threading.Lock()

    @classmethod
    def of(cls, context) -> "_Hub":
        with cls._hubs_lock:
            hub = cls._hubs.get(id(context))
            if hub is None or not hub.thread.is_alive():
                hub = cls._hubs[id(context)] = cls(context)
            return hub

    @classmethod
    def stop_for(cls, context) -> None:
        """End the context's hub before the context shuts down (a thread left waiting on a dead
        context aborts the process at exit)."""
        with cls._hubs_lock:
            hub = cls._hubs.pop(id(context), None)
        if hub is not None:
            hub.stopping = True
            hub.wake.trigger_guard_condition()
            if threading.current_thread() is not hub.thread:
                hub.thread.join(timeout=2.0)

    def __init__(self, context):
        self.context = context
        self.stopping = False
        self.entries: list[_Entry] = []
        self.lock = threading.Lock()        # held while serving: removing an entry waits for it
        with context.handle:
            self.wake = _rclpy.GuardCondition(context.handle)
        self.thread = threading.Thread(target=self._run, name="sim2real-sourced", daemon=True)
        self.thread.start()

    def add(self, e: _Entry) -> None:
        with self.lock:
            self.entries.append(e)
        self.wake.trigger_guard_condition()

    def remove(self, entries: list[_Entry]) -> None:
        self.wake.trigger_guard_condition()
        if threading.current_thread() is self.thread:   # closing from one of our own callbacks
            self.entries = [e for e in self.entries if e not in entries]
            return
        with self.lock:
            self.entries = [e for e in self.entries if e not in entries]

    def _run(self) -> None:
        ctx = self.context
        ws, n = None, -1
        while ctx.ok() and not self.stopping:
            with self.lock:
                entries = list(self.entries)
            try:
                with contextlib.ExitStack() as using:   # a handle in use is destroyed only after
                    using.enter_context(ctx.handle)
                    for e in entries:
                        using.enter_context(e.handle)
                    if len(entries) != n:
                        ws, n = _rclpy.WaitSet(len(entries), 1, 0, 0, 0, 0, ctx.handle), len(entries)
                    ws.clear_entities()
                    ws.add_guard_condition(self.wake)
                    for e in entries:
                        ws.add_subscription(e.handle)
                    ws.wait(self.WAIT_NS)
                    ready = set(ws.get_ready_entities("subscription"))
            except Exception:  # noqa: BLE001 - the context or a subscription is going down
                if not ctx.ok() or self.stopping:
                    return
                continue
            if not ready or self.stopping:
                continue
            with self.lock:
                live = set(map(id, self.entries))
                for e in entries:
                    if id(e) in live and e.handle.pointer in ready:
                        self._serve(e)

    def _serve(self, e: _Entry) -> None:
        newest = None
        while True:      # drain what queued since the last wake
            try:
                with e.handle:
                    taken = e.handle.take_message(e.msg_type, e.raw)
            except Exception:  # noqa: BLE001 - the subscription or context went down
                return
            if taken is None:
                break
            msg, info = taken
            gid = gid_bytes(info.get("publisher_gid") or b"")
            if e.accept is None:
                self._call(e, msg, gid)
            elif e.accept(gid):
                newest = (msg, gid)
        if newest is not None:
            self._call(e, *newest)

    @staticmethod
    def _call(e: _Entry, msg, gid) -> None:
        try:
            e.callback(msg, gid)
        except Exception as err:  # noqa: BLE001 - one bad message must not end the thread
            e.node.get_logger().error(f"{type(err).__name__} in a callback: {err}", throttle_duration_sec=1.0)


class SourcedSubscriptions:
    """One node's sourced subscriptions (served by its context's hub)."""

    def __init__(self, node: Node):
        self.node = node
        self._entries: list[_Entry] = []

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
        """callback(msg, gid: bytes) for every message, in order, from the hub thread;
        raw: msg is the CDR bytes."""
        self._add(msg_type, topic, qos, callback, raw, None)

    def _add(self, msg_type, topic, qos, callback, raw, accept) -> None:
        check_is_valid_msg_type(msg_type)    # imports the type support, as create_subscription does
        with self.node.handle:
            handle = _rclpy.Subscription(self.node.handle, msg_type, topic, qos.get_c_qos_profile(), None)
        e = _Entry(self.node, handle, msg_type, callback, raw, accept)
        self._entries.append(e)
        _Hub.of(self.node.context).add(e)

    def close(self) -> None:
        if self._entries:
            _Hub.of(self.node.context).remove(self._entries)
        for e in self._entries:
            try:
                e.handle.destroy_when_not_in_use()
            except Exception:  # noqa: BLE001
                pass
        self._entries.clear()


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


def stop(context) -> None:
    """Stop the thread serving `context`'s sourced subscriptions; call before rclpy.shutdown."""
    _Hub.stop_for(context)
