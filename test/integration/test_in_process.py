"""In-process delivery (ros/sourced.attach): composed nodes reach each other's sourced inputs
through the hub, once each, judged by the same gates; DDS still carries every message to a
listener in another participant."""
from __future__ import annotations

import itertools
import os
import time

import numpy as np
import pytest
import rclpy
from rclpy.node import Node
from std_msgs.msg import Float64MultiArray

from sim2real.ros import convert, env, sourced

_domains = itertools.count(int(os.environ.get("ROS_DOMAIN_ID", "0")) + 171)


@pytest.fixture
def ctx():
    env.setup()
    c = rclpy.Context()
    rclpy.init(context=c, domain_id=next(_domains) % 232)
    yield c
    sourced.stop(c)
    rclpy.shutdown(context=c)


def _wait(cond, seconds=5.0):
    end = time.monotonic() + seconds
    while not cond() and time.monotonic() < end:
        time.sleep(0.01)
    return cond()


def _msg(x: float) -> bytes:
    return convert.effort_command_cdr(np.array([x]))


def test_composed_publisher_reaches_sourced_inputs_once_each_with_its_gid(ctx):
    a = Node("a", context=ctx)
    b = Node("b", context=ctx)
    pub = a.create_publisher(Float64MultiArray, "/x", 10)
    ordered, pinned, refused = [], [], []
    src = sourced.SourcedSubscriptions(b)
    src.add(Float64MultiArray, "/x", sourced.INPUT, lambda m, gid: ordered.append((m.data[0], gid)))
    src.add_from("a", Float64MultiArray, "/x", lambda m: pinned.append(m.data[0]), refused.append)
    sourced.attach(a)
    assert isinstance(pub.__dict__["publish"], sourced._InProcess)
    _wait(lambda: sourced.own_gid(a, pub) is not None)
    for i in range(5):
        pub.publish(_msg(i))
        time.sleep(0.02)
    assert _wait(lambda: len(ordered) == 5)
    gid = sourced.own_gid(a, pub)
    assert [x for x, _ in ordered] == [0, 1, 2, 3, 4]
    assert {g for _, g in ordered} == {gid}           # the publisher's own GID, as DDS would give
    assert pinned == [0, 1, 2, 3, 4] and not refused
    assert pub.publish.entries                        # it went in-process, not over DDS
    src.close()
    a.destroy_node()
    b.destroy_node()


def test_another_participant_still_hears_and_inputs_get_no_second_copy(ctx):
    a = Node("a", context=ctx)
    b = Node("b", context=ctx)
    pub = a.create_publisher(Float64MultiArray, "/x", 10)
    got = []
    src = sourced.SourcedSubscriptions(b)
    src.add(Float64MultiArray, "/x", sourced.INPUT, lambda m, gid: got.append(m.data[0]))
    sourced.attach(a)
    other = rclpy.Context()
    rclpy.init(context=other, domain_id=ctx.get_domain_id())
    try:
        from rclpy.executors import SingleThreadedExecutor
        echo = Node("echo", context=other)
        heard = []
        echo.create_subscription(Float64MultiArray, "/x", lambda m: heard.append(m.data[0]), 50)
        ex = SingleThreadedExecutor(context=other)
        ex.add_node(echo)
        end = time.monotonic() + 5
        while pub.get_subscription_count() < 2 and time.monotonic() < end:
            ex.spin_once(timeout_sec=0.05)
        for i in range(10):
            pub.publish(_msg(i))
            ex.spin_once(timeout_sec=0.01)
        end = time.monotonic() + 5
        while len(heard) < 10 and time.monotonic() < end:
            ex.spin_once(timeout_sec=0.05)
        assert heard == list(range(10))                # DDS carried them to the other participant
        time.sleep(0.3)                                # a duplicate would have arrived by now
        assert got == list(range(10))                  # in-process, once each
        ex.shutdown()
        echo.destroy_node()
    finally:
        rclpy.shutdown(context=other)
        src.close()
        a.destroy_node()
        b.destroy_node()


def test_a_composed_stranger_is_refused_and_named(ctx):
    a = Node("a", context=ctx)
    b = Node("b", context=ctx)
    s = Node("stranger", context=ctx)
    pub = a.create_publisher(Float64MultiArray, "/x", 10)
    bad = s.create_publisher(Float64MultiArray, "/x", 10)
    got, refused = [], []
    src = sourced.SourcedSubscriptions(b)
    src.add_from("a", Float64MultiArray, "/x", lambda m: got.append(m.data[0]), refused.append)
    sourced.attach(a)
    sourced.attach(s)
    _wait(lambda: sourced.own_gid(s, bad) is not None and sourced.own_gid(a, pub) is not None)
    pub.publish(_msg(1.0))
    assert _wait(lambda: got == [1.0])
    for _ in range(5):
        bad.publish(_msg(99.0))
        time.sleep(0.01)
    pub.publish(_msg(2.0))
    assert _wait(lambda: got == [1.0, 2.0])
    assert _wait(lambda: "/stranger" in refused)
    assert 99.0 not in got
    src.close()
    for n in (a, b, s):
        n.destroy_node()
