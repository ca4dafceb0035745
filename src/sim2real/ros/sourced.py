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

In-process delivery (`attach(node)`, called by ros/compose.py for every composed node, as
rclcpp's intra-process communication): a message that a composed node publishes reaches the
sourced subscriptions of the same context directly, through the hub's queue (CDR bytes, as DDS
would carry them, taken in the order published; newest only where the input is pinned), with the
publisher's own GID, so pinning and refusals judge it exactly as they judge a DDS sample. DDS still
carries it whenever anyone else listens (another process, a recorder, `ros2 topic echo`), and the
sourced subscriptions then drop that second copy. Strangers, other processes and latched
(transient local) inputs go through DDS as before.

`publishers(topic)` maps the GIDs of the publishers on a topic to their node names, from the ROS
graph, for naming a stranger and for pinning the one source a node accepts.

What a wake costs is what a lockstep step pays three times (state, effort, command), so the hub
does per wake only what waiting needs: every handle is held in use from registration until the
hub has stopped waiting on it (not entered and left per wake), the wait set is rebuilt only when
the registrations change (per wake it is refilled, as rcl_wait requires), the ready entries come
back in registration order and are looked up by pointer, and they are served under one lock.
"""
from __future__ import annotations

import collections
import itertools
import struct
import threading
import time

from rclpy.impl.implementation_singleton import rclpy_implementation as _rclpy
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.serialization import deserialize_message, serialize_message
from rclpy.type_support import check_is_valid_msg_type

from sim2real.safety.source import PinnedSource

# control-loop inputs: room for a stranger's messages beside the genuine one; served newest-only
INPUT = QoSProfile(depth=10, history=HistoryPolicy.KEEP_LAST, reliability=ReliabilityPolicy.RELIABLE)


def gid_bytes(gid) -> bytes:
    """A GID as bytes, from message info (dict with 'data') or from the graph (list of ints)."""
    if isinstance(gid, dict):
        gid = gid.get("data", b"")
    return bytes(gid)[:16]


def _info_gid(info: dict) -> bytes:
    """The publisher's GID from a take's message info (the common case without conversions)."""
    g = info.get("publisher_gid")
    if g.__class__ is dict:
        data = g.get("data")
        if data.__class__ is bytes and len(data) == 16:
            return data
    return gid_bytes(g or b"")


class _Entry:
    """One sourced subscription. `held`: the hub's use of its handle, from registration until the
    hub no longer waits on it; left once, by the hub (or by remove() when the hub has ended)."""
    __slots__ = ("hub", "node", "handle", "ptr", "msg_type", "raw", "callback", "with_gid", "accept",
                 "removed", "held", "topic", "local_ok", "reliable", "local_gids", "latest", "parked")

    def __init__(self, node, handle, msg_type, callback, with_gid: bool, raw: bool, accept, qos: QoSProfile):
        self.hub: _Hub | None = None
        self.node = node
        self.handle = handle
        self.ptr = handle.pointer
        self.msg_type = msg_type
        self.raw = raw
        self.callback = callback      # callback(msg, gid) when with_gid, else callback(msg)
        self.with_gid = with_gid
        self.accept = accept          # None: every message in order; else accept(gid) -> bool, newest accepted only
        self.removed = False
        self.held = False
        self.topic = handle.get_topic_name()      # resolved: remaps and namespace applied
        # in-process delivery only where DDS would deliver the same: volatile (no late joiners'
        # history to replay) and a reliability any publisher matches
        self.local_ok = (qos.durability != DurabilityPolicy.TRANSIENT_LOCAL)
        self.reliable = (qos.reliability == ReliabilityPolicy.RELIABLE)
        self.local_gids: set[bytes] = set()       # publishers delivering here in-process: drop their DDS copies
        self.latest = 0                           # sequence number of the newest in-process message posted
        # a latched (transient-local) input's newest message from a publisher the graph did not list
        # yet: (msg, gid), judged again once it does (it is sent once: refused, it was lost)
        self.parked: tuple | None = None

    def release(self) -> None:       # under the hub's `members` lock
        if self.held:
            self.held = False
            try:
                self.handle.__exit__(None, None, None)   # destroys it now if its owner asked already
            except Exception:  # noqa: BLE001 - the context is going down
                pass


class _Hub:
    """The thread that serves every sourced subscription of one context."""
    WAIT_NS = 200_000_000
    _hubs: dict[int, "_Hub"] = {}
    _hubs_lock = threading.Lock()

    @classmethod
    def of(cls, context) -> "_Hub":
        with cls._hubs_lock:
            hub = cls._hubs.get(id(context))
            if hub is None or hub.ended or not hub.thread.is_alive():
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
        self.ended = False                     # the thread has let go of every handle
        self.entries: tuple[_Entry, ...] = ()  # registration order; replaced on change, never mutated
        self.generation = 0                    # bumped on every change of `entries`
        self.retired: list[_Entry] = []        # removed; their handles still held until the next rebuild
        self.members = threading.Lock()        # guards the five above and every entry's `held`
        self.lock = threading.Lock()           # held while serving: removing an entry waits for it
        # in-process messages: (entry, seq, CDR bytes, publisher GID), served by this thread in order
        self.pending: collections.deque = collections.deque()
        self.parked: set = set()     # entries holding a parked message (see _Entry.parked)
        self.post_lock = threading.Lock()      # orders seq numbers with each entry's `latest`
        self._seq = itertools.count(1)
        self._routes: tuple[int, dict] = (-1, {})
        with context.handle:
            self.wake = _rclpy.GuardCondition(context.handle)
        self.thread = threading.Thread(target=self._run, name="sim2real-sourced", daemon=True)
        self.thread.start()

    def add(self, e: _Entry) -> None:
        with self.members:
            e.hub = self
            if not self.ended:           # else a hub stopped meanwhile: nothing will serve it
                e.handle.__enter__()     # in use until the hub no longer waits on it
                e.held = True
                self.entries = (*self.entries, e)
                self.generation += 1
        self.wake.trigger_guard_condition()

    def remove(self, entries: list[_Entry]) -> None:
        with self.members:
            for e in entries:
                e.removed = True         # checked under `lock` before each serve
            self.entries = tuple(e for e in self.entries if not e.removed)
            self.generation += 1
            if self.ended:
                for e in entries:
                    e.release()
            else:
                self.retired.extend(entries)
        self.wake.trigger_guard_condition()
        if threading.current_thread() is not self.thread:
            with self.lock:       # a wake being served ends first: no callback of these after this
                pass

    def _run(self) -> None:
        ctx = self.context
        try:
            with ctx.handle:      # in use while the hub may wait on it
                self._loop(ctx)
        except Exception:  # noqa: BLE001 - the context is going down
            pass
        finally:
            with self.members:
                self.ended = True
                for e in (*self.retired, *self.entries):
                    e.release()
                self.retired = []

    def _loop(self, ctx) -> None:
        ws, ws_size = None, -1
        gen = -1
        handles: tuple = ()
        by_ptr: dict[int, _Entry] = {}
        wake = self.wake
        wakes = 0
        while not self.stopping:
            # the context's state (a lock and a C call) every 32nd wake and whenever a wake finds
            # nothing ready: a wait on a context that went down raises or times out meanwhile
            wakes += 1
            if wakes & 31 == 1 and not ctx.ok():
                return
            try:
                if self.generation != gen:       # registrations changed
                    with self.members:
                        entries, gen = self.entries, self.generation
                        retired, self.retired = self.retired, []
                    handles = tuple(e.handle for e in entries)
                    by_ptr = {e.ptr: e for e in entries}
                    with self.members:           # no wait is in progress, and the next one leaves them out
                        for e in retired:
                            e.release()
                if ws_size != len(handles):
                    ws, ws_size = _rclpy.WaitSet(len(handles), 1, 0, 0, 0, 0, ctx.handle), len(handles)
                ws.clear_entities()              # rcl_wait leaves only the ready ones: refill
                ws.add_guard_condition(wake)
                for h in handles:
                    ws.add_subscription(h)
                ws.wait(0 if self.pending else self.WAIT_NS)   # in-process messages waiting: only a look
                ready = ws.get_ready_entities("subscription")   # in the order they were added
            except Exception:  # noqa: BLE001 - the context or a subscription is going down
                if not ctx.ok() or self.stopping:
                    return
                continue
            if self.stopping:
                return
            if ready:
                with self.lock:
                    for p in ready:
                        e = by_ptr.get(p)
                        if e is not None and not e.removed:
                            self._serve(e)
            if self.pending:
                self._drain()
            elif not ready and not ctx.ok():
                return
            if self.parked:
                self._retry_parked()

    def routes(self, topic: str, msg_type, best_effort: bool) -> tuple[_Entry, ...]:
        """The sourced subscriptions of this context that a publisher on `topic` reaches
        in-process (any thread; cached until the registrations change)."""
        gen, cache = self._routes
        if gen != self.generation:
            gen, cache = self._routes = (self.generation, {})
        key = (topic, msg_type, best_effort)
        r = cache.get(key)
        if r is None:
            r = cache[key] = tuple(e for e in self.entries
                                   if e.local_ok and e.topic == topic and e.msg_type is msg_type
                                   and not (best_effort and e.reliable))
        return r

    def post(self, entries: tuple[_Entry, ...], data: bytes, gid: bytes) -> None:
        """Queue one in-process message (CDR bytes) for `entries`; wakes this thread unless it is
        the caller (a callback publishing: served once that callback returns)."""
        with self.post_lock:
            for e in entries:
                seq = next(self._seq)
                e.latest = seq
                self.pending.append((e, seq, data, gid))
        if threading.get_ident() != self.thread.ident:
            self.wake.trigger_guard_condition()

    # in-process messages are served for at most DRAIN_S of wall time (and DRAIN messages) between
    # two looks at DDS: a lockstep chain never empties the queue, and a look is an rcl_wait over
    # every subscription of the context (~85 us here with Fast DDS and 17 subscriptions; taken every
    # 64 messages it cost ~5% of a NAO lockstep step). Real time empties the queue every step.
    DRAIN, DRAIN_S = 512, 0.005

    def _drain(self) -> None:
        pending = self.pending
        until = time.monotonic() + self.DRAIN_S
        clock = time.monotonic
        with self.lock:
            for i in range(self.DRAIN):
                if i & 7 == 7 and clock() > until:
                    return
                try:
                    e, seq, data, gid = pending.popleft()
                except IndexError:
                    return
                if e.removed:
                    continue
                if e.accept is not None and (seq != e.latest or not e.accept(gid)):
                    continue          # pinned input: newest only, and the gate judges the publisher
                if e.raw:
                    msg = data
                else:
                    try:
                        msg = deserialize_message(data, e.msg_type)
                    except Exception as err:  # noqa: BLE001
                        e.node.get_logger().error(f"in-process message on {e.topic}: {err}", throttle_duration_sec=1.0)
                        continue
                self._call(e, msg, gid)

    def _retry_parked(self) -> None:
        """Judge each parked message again: delivered once the graph names its publisher as the
        pinned source, dropped when it names another (a cold start on a loaded machine took longer
        than 2 s to name the driver: a time limit lost the first target again)."""
        with self.lock:
            for e in list(self.parked):
                if e.removed or e.parked is None:
                    self.parked.discard(e)
                    continue
                msg, gid = e.parked
                if e.accept(gid):
                    e.parked = None
                    self.parked.discard(e)
                    self._call(e, msg, gid)
                elif not getattr(e.accept, "unnamed", False):   # named now, and not the source: a stranger's
                    e.parked = None
                    self.parked.discard(e)

    def _serve(self, e: _Entry) -> None:
        take, msg_type, raw, accept, local = e.handle.take_message, e.msg_type, e.raw, e.accept, e.local_gids
        newest = None
        while True:      # drain what queued since the last wake
            try:
                taken = take(msg_type, raw)     # the handle is held: no enter/exit per take
            except Exception:  # noqa: BLE001 - the subscription or context went down
                return
            if taken is None:
                break
            msg, info = taken
            gid = _info_gid(info)
            if local and gid in local:
                continue      # delivered in-process already (DDS carried it for another listener)
            if accept is None:
                self._call(e, msg, gid)
                if e.removed:    # closed by its own callback
                    return
            elif accept(gid):
                newest = (msg, gid)
            elif not e.local_ok and getattr(accept, "unnamed", False):
                e.parked = (msg, gid)      # latched, from a publisher not listed yet
                self.parked.add(e)
        if newest is not None:
            if e.parked is not None:     # a newer message from the source: the parked one is stale
                e.parked = None
                self.parked.discard(e)
            self._call(e, *newest)

    @staticmethod
    def _call(e: _Entry, msg, gid) -> None:
        try:
            if e.with_gid:
                e.callback(msg, gid)
            else:
                e.callback(msg)
        except Exception as err:  # noqa: BLE001 - one bad message must not end the thread
            e.node.get_logger().error(f"{type(err).__name__} in a callback: {err}", throttle_duration_sec=1.0)


UNNAMED_GRACE_S = 2.0   # a publisher whose data arrives before the graph lists it is refused without
                        # a report for this long: discovery at start-up (Fast DDS here: < 1 s)


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
        node = self.node
        lookup = lambda: publishers(node, topic)   # noqa: E731
        unnamed: dict[bytes, float] = {}     # publishers the graph does not list yet: first seen (monotonic s)

        def accept(gid) -> bool:
            if gid == gate.pinned and gid:    # the pinned publisher: gate.accept's first answer, sooner
                accept.unnamed = False
                return True
            ok, who = gate.accept(gid, lookup)
            accept.unnamed = who == "?"       # refused for now: the graph does not list the publisher yet
            if not ok and on_refused is not None:
                if who == "?":
                    # its data came before its discovery (every start-up: the genuine upstream
                    # node too): refused unheard-of, reported only once that lasts
                    now = time.monotonic()
                    first = unnamed.setdefault(gid, now)
                    if now - first < UNNAMED_GRACE_S:
                        return ok
                    who = f"? (a publisher the ROS graph has not listed for {now - first:.0f} s)"
                on_refused(who)
            return ok
        accept.unnamed = False
        self._add(msg_type, topic, qos, callback, False, raw, accept)
        return gate

    def add(self, msg_type, topic: str, qos: QoSProfile, callback, raw: bool = False) -> None:
        """callback(msg, gid: bytes) for every message, in order, from the hub thread;
        raw: msg is the CDR bytes."""
        self._add(msg_type, topic, qos, callback, True, raw, None)

    def _add(self, msg_type, topic, qos, callback, with_gid, raw, accept) -> None:
        check_is_valid_msg_type(msg_type)    # imports the type support, as create_subscription does
        with self.node.handle:
            handle = _rclpy.Subscription(self.node.handle, msg_type, topic, qos.get_c_qos_profile(), None)
        e = _Entry(self.node, handle, msg_type, callback, with_gid, raw, accept, qos)
        self._entries.append(e)
        _Hub.of(self.node.context).add(e)

    def close(self) -> None:
        """Stop serving this node's subscriptions: no callback of them runs after this returns
        (unless called from one). Each handle is destroyed once no hub waits on it."""
        for hub in {e.hub for e in self._entries if e.hub is not None}:
            hub.remove([e for e in self._entries if e.hub is hub])
        for e in self._entries:
            try:
                e.handle.destroy_when_not_in_use()
            except Exception:  # noqa: BLE001
                pass
        self._entries.clear()


class _InProcess:
    """A composed node's publisher, as `publish`: to this context's sourced subscriptions on its
    topic through the hub's queue, and over DDS too when anyone else listens."""

    RETRY_S = 0.5     # its own GID not in the graph yet: look again at most this often
    COUNT_S = 0.02    # how long a count of the topic's subscriptions is taken as current (a C call
                      # per publish cost ~5% of a lockstep step; a listener that matched meanwhile
                      # hears this publisher at most that much later)

    def __init__(self, pub, node: Node, hub: _Hub):
        self.pub, self.node, self.hub = pub, node, hub
        self.dds = pub.publish                   # the class's publish, bound
        self.topic, self.msg_type = pub.topic_name, pub.msg_type
        self.best_effort = pub.qos_profile.reliability == ReliabilityPolicy.BEST_EFFORT
        self.volatile = pub.qos_profile.durability == DurabilityPolicy.VOLATILE
        self.gid: bytes | None = None
        self.entries: tuple[_Entry, ...] = ()
        self._gen = -1
        self._retry_at = 0.0
        self._count, self._count_until = 0, -1.0

    def _refresh(self) -> None:
        hub = self.hub
        gen = hub.generation
        if self.gid is None:
            now = time.monotonic()
            if now < self._retry_at:
                return
            self._retry_at = now + self.RETRY_S
            self.gid = own_gid(self.node, self.pub)
            if self.gid is None:
                self.entries = ()
                return
        self.entries = () if hub.ended else hub.routes(self.topic, self.msg_type, self.best_effort)
        for e in self.entries:
            e.local_gids.add(self.gid)
        self._gen = gen

    def __call__(self, msg) -> None:
        hub = self.hub
        if hub.generation != self._gen or hub.ended:
            self._refresh()
        entries = self.entries
        if not entries or hub.ended:
            if self.volatile and not self._subscriptions():
                return                           # nobody to hear it, nobody to replay it to later
            self.dds(msg)
            return
        if msg.__class__ is bytes:
            data = msg
        elif isinstance(msg, self.msg_type):
            data = serialize_message(msg)        # a snapshot: the publisher may reuse its message
        else:
            self.dds(msg)                        # rclpy's TypeError
            return
        hub.post(entries, data, self.gid)
        if self._subscriptions() > len(entries):
            self.dds(data)                       # another listener (process, recorder, plain subscription)

    def heard(self) -> bool:
        """Whether anyone would hear a message published now (a sourced input of this context, or
        any subscription): a caller can skip building one that nobody hears."""
        hub = self.hub
        if hub.generation != self._gen or hub.ended:
            self._refresh()
        return bool(self.entries) or self._subscriptions() > 0 or not self.volatile

    def _subscriptions(self) -> int:
        now = time.monotonic()
        if now >= self._count_until:
            self._count, self._count_until = self.pub.get_subscription_count(), now + self.COUNT_S
        return self._count


def attach(node: Node) -> None:
    """In-process delivery for `node`'s publishers (those it has now): what they publish reaches
    the sourced subscriptions of the same context through the hub, judged by the same gates.
    A node on sim time hears /clock through the hub too (its TimeSource's subscription moves
    there: a lockstep driver's /clock then costs each composed node a call, not a DDS sample and
    an executor event); `detach(node)` before destroying it."""
    hub = _Hub.of(node.context)
    for pub in list(node.publishers):
        if not isinstance(pub.__dict__.get("publish"), _InProcess):
            pub.publish = _InProcess(pub, node, hub)
    ts = getattr(node, "_time_source", None)
    sub = getattr(ts, "_clock_sub", None)       # rclpy's TimeSource (kilted): set while use_sim_time
    if sub is not None and node.__dict__.get("_sim2real_clock") is None:
        qos, msg_type, topic = sub.qos_profile, sub.msg_type, sub.topic_name
        node.destroy_subscription(sub)
        clock = SourcedSubscriptions(node)
        clock.add(msg_type, topic, qos, _clock_reader(ts, msg_type), raw=True)
        ts._clock_sub = clock                   # not None: rclpy makes no second one
        node._sim2real_clock = clock


_CLOCK_SEEN: list = [(None, None)]   # the last /clock read (its bytes, its Time): rclpy's Time is immutable


def _clock_reader(ts, msg_type):
    """rosgraph_msgs/Clock, serialized -> the TimeSource's clocks, as its clock_callback sets them:
    the stamp read in place (CDR: 4-byte encapsulation, then int32 sec, uint32 nanosec), no
    message built (a lockstep driver's /clock reaches every composed node on sim time)."""
    from rclpy.clock_type import ClockType
    from rclpy.time import Time
    if not (hasattr(ts, "_associated_clocks") and hasattr(ts, "_last_time_set")):   # another rclpy
        return lambda data, _gid: ts.clock_callback(deserialize_message(data, msg_type))

    def on_clock(data: bytes, _gid) -> None:
        if len(data) < 12:
            ts.clock_callback(deserialize_message(data, msg_type))   # rclpy's error, logged by the hub
            return
        seen = _CLOCK_SEEN[0]
        if seen[0] is data:      # the same message, served to another node of this process
            t = seen[1]
        else:
            sec, nanosec = struct.unpack_from("<iI" if data[1] & 1 else ">iI", data, 4)
            t = Time(seconds=sec, nanoseconds=nanosec, clock_type=ClockType.ROS_TIME)
            _CLOCK_SEEN[0] = (data, t)
        ts._last_time_set = t
        for clock in ts._associated_clocks:
            clock.set_ros_time_override(t)
    return on_clock


def heard(pub) -> bool:
    """Whether a message on `pub` now reaches anyone (always True for a publisher without in-process
    delivery, and for a latched one, which keeps its last message for listeners to come)."""
    p = pub.__dict__.get("publish")
    return p.heard() if isinstance(p, _InProcess) else True


def detach(node: Node) -> None:
    """Undo what attach() added that the node does not close itself (its /clock subscription)."""
    clock = node.__dict__.pop("_sim2real_clock", None)
    if clock is not None:
        clock.close()
        ts = getattr(node, "_time_source", None)
        if ts is not None and ts._clock_sub is clock:
            ts._clock_sub = None


def own_gid(node: Node, pub) -> bytes | None:
    """The GID of `node`'s publisher `pub` from the ROS graph (None while not there, or when the node
    has two publishers on that topic)."""
    me = node.get_fully_qualified_name()
    mine = [g for g, name in publishers(node, pub.topic_name).items() if name == me]
    return mine[0] if len(mine) == 1 else None


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
