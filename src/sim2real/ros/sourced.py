"""Subscriptions that know who published each message (the publisher's GID).

rclpy's EventsExecutor (kilted) cannot call a callback with message info, so these are served by a
thread of their own waiting on a wait set, outside any executor: the C++ subscription is created
on the node's handle (remaps and namespaces apply as usual) but never registered with the node,
so the node's executor never takes its messages.

    src = SourcedSubscriptions(node)
    src.add(Float64MultiArray, "/effort_controller/commands", qos, lambda msg, gid: ...)
    ...
    src.close()      # in destroy_node, before the node goes

`publishers(topic)` maps the GIDs of the publishers on a topic to their node names, from the ROS
graph, for naming a stranger and for pinning the one source a node accepts.
"""
from __future__ import annotations

import threading

from rclpy.impl.implementation_singleton import rclpy_implementation as _rclpy
from rclpy.node import Node
from rclpy.qos import QoSProfile
from rclpy.type_support import check_is_valid_msg_type


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

    def add(self, msg_type, topic: str, qos: QoSProfile, callback) -> None:
        """callback(msg, gid: bytes), called from this object's thread."""
        check_is_valid_msg_type(msg_type)    # imports the type support, as create_subscription does
        with self.node.handle:
            handle = _rclpy.Subscription(self.node.handle, msg_type, topic, qos.get_c_qos_profile(), None)
        self._subs.append((handle, msg_type, callback))
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=f"{self.node.get_name()}-sourced", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        ctx = self.node.context
        while not self._stop.is_set() and ctx.ok():
            subs = list(self._subs)
            try:
                with ctx.handle:
                    ws = _rclpy.WaitSet(len(subs), 0, 0, 0, 0, 0, ctx.handle)
                    ws.clear_entities()
                    for h, _, _ in subs:
                        ws.add_subscription(h)
                    ws.wait(self.WAIT_NS)
                    ready = set(ws.get_ready_entities("subscription"))
            except Exception:  # noqa: BLE001 - the context is going down under us
                if self._stop.is_set() or not ctx.ok():
                    return
                raise
            for h, msg_type, cb in subs:
                if h.pointer not in ready:
                    continue
                while not self._stop.is_set():   # drain: keep-last queues hold at most their depth
                    try:
                        taken = h.take_message(msg_type, False)
                    except Exception:  # noqa: BLE001
                        if self._stop.is_set() or not ctx.ok():
                            return
                        raise
                    if taken is None:
                        break
                    msg, info = taken
                    try:
                        cb(msg, gid_bytes(info.get("publisher_gid") or b""))
                    except Exception as e:  # noqa: BLE001 - one bad message must not end the thread
                        self.node.get_logger().error(f"{type(e).__name__} in a callback: {e}",
                                                     throttle_duration_sec=1.0)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=1.0)
        for h, _, _ in self._subs:
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
        ns = info.node_namespace.rstrip("/")
        out[gid_bytes(info.endpoint_gid)] = f"{ns}/{info.node_name}"
    return out
