"""Stamp freshness and the lock's ownership: what one foreign message can and cannot do."""
from sim2real.safety.lock import Lock
from sim2real.safety.stamps import FUTURE, ORDER, STALE, StampGate


def test_future_stamp_is_refused_and_does_not_poison():
    g = StampGate(max_future_s=0.5)
    assert g.check(10.0, now=10.0) is None
    assert g.check(10.0 + 3600.0, now=10.002) == FUTURE     # spoofed: an hour ahead
    assert g.check(10.004, now=10.004) is None               # genuine states go on being taken
    assert g.newest == 10.004


def test_a_spoof_within_the_future_bound_does_not_hold_back_genuine_states():
    g = StampGate(max_future_s=0.5, slack_s=0.05)
    assert g.check(10.0, now=10.0) is None
    assert g.check(10.3, now=10.0) is None                  # plausible enough to take once
    assert g.check(10.002, now=10.002) is None               # but it does not order the next ones
    assert g.check(10.001, now=10.002) == ORDER              # a trusted newest still orders


def test_order_and_staleness():
    g = StampGate(max_future_s=0.5, max_age_s=1.0)
    assert g.check(5.0, now=5.0) is None
    assert g.check(4.9, now=5.0) == ORDER
    assert g.check(3.0, now=5.0) == STALE


def test_clock_going_back_restarts_the_gate():
    g = StampGate(max_future_s=0.5)
    assert g.check(100.0, now=100.0) is None
    # a restarted lockstep driver: its clock and stamps start again near 0
    assert g.check(0.002, now=0.002) is None
    assert g.check(0.004, now=0.004) is None


def test_no_clock_yet_judges_order_only():
    g = StampGate()
    assert g.check(0.002, now=0.0) is None
    assert g.check(0.001, now=0.0) == ORDER


def test_lock_is_released_only_by_its_holder_or_reset():
    lk = Lock()
    assert lk.update(b"teleop", True) == "set" and lk.locked
    assert lk.update(b"other", False).startswith("refused") and lk.locked
    assert lk.update(b"other", True) == "set"
    assert lk.update(b"teleop", False) is None and lk.locked     # 'other' still holds it
    assert lk.update(b"other", False) == "released" and not lk.locked
    lk.update(b"gone", True)                                      # its publisher vanishes: stays set
    assert lk.locked and lk.reset() and not lk.locked


def test_command_source_pins_one_publisher_and_names_strangers():
    from sim2real.safety.source import PinnedSource
    graph = {b"f1": "/safety_filter", b"x": "/intruder"}
    src = PinnedSource("safety_filter")
    assert src.accept(b"f1", lambda: dict(graph)) == (True, "/safety_filter")
    assert src.accept(b"x", lambda: dict(graph)) == (False, "/intruder")
    graph[b"f2"] = "/safety_filter"                  # a second node taking the filter's name
    src._looked_at = -1e9
    ok, who = src.accept(b"f2", lambda: dict(graph))
    assert ok is False and who.startswith("/safety_filter (a second publisher under that name")
    assert src.refused == {"/intruder": 1, who: 1}
    del graph[b"f1"], graph[b"f2"]                   # the filter restarts with a new publisher
    graph[b"f3"] = "/safety_filter"
    src._looked_at = -1e9
    assert src.accept(b"f3", lambda: dict(graph))[0] is True
