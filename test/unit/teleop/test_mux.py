"""twist_mux semantics: priority, timeout, release, locks."""
import pytest

from sim2real.errors import ConfigError
from sim2real.teleop.mux import Mux


@pytest.fixture
def mux():
    return Mux({"policy": {"topic": "/p", "priority": 10, "timeout_s": 0.5},
                "keyboard": {"topic": "/k", "priority": 100, "timeout_s": 0.5}},
               {"estop": {"topic": "/l", "priority": 255, "timeout_s": 0.0},
                "hb": {"topic": "/h", "priority": 50, "timeout_s": 1.0}})


def test_priority_timeout_and_release(mux):
    mux.update_lock("hb", False, 0.0)
    mux.update_input("policy", "p", 0.0)
    assert mux.select(0.1).name == "policy"
    mux.update_input("keyboard", "k", 0.2)
    assert mux.select(0.3).name == "keyboard"
    mux.update_input("policy", "p", 0.6)
    assert mux.select(0.69).name == "keyboard"
    assert mux.select(0.71).name == "policy"      # keyboard stale -> control returns


def test_lock_blocks_lower_priorities(mux):
    mux.update_lock("hb", False, 0.0)
    mux.update_input("policy", "p", 0.0)
    mux.update_input("keyboard", "k", 0.0)
    mux.update_lock("estop", True, 0.1)
    assert mux.select(0.2) is None
    mux.update_lock("estop", False, 0.3)
    assert mux.select(0.35).name == "keyboard"


def test_heartbeat_lock_engages_when_stale(mux):
    mux.update_lock("hb", False, 0.0)
    mux.update_input("policy", "p", 1.1)
    mux.update_input("keyboard", "k", 1.1)
    assert mux.select(1.2).name == "keyboard"     # hb stale (>1 s): priority 50 lock blocks policy only
    mux.update_input("keyboard", "k", 0.0)
    assert mux.select(1.2) is None or mux.select(1.2).name != "policy"


def test_bad_config():
    with pytest.raises(ConfigError, match="mux.inputs.x"):
        Mux({"x": {"topic": "/x"}}, {})


def test_flooded_input_is_refused_and_recovers(mux):
    mux.update_lock("hb", False, 0.0)
    mux.update_input("policy", "p", 0.0)
    refused = [mux.update_input("keyboard", "k", 0.0002 * i) for i in range(1000)]   # 5 kHz for 0.2 s
    assert refused.index("flooding") <= 5                # at most one burst got through
    assert mux.select(0.2).name == "policy"              # the flooding input cannot win
    assert mux.update_input("keyboard", "k", 1.3) is None   # under its rate for a second: an input again
    assert mux.select(1.3).name == "keyboard"


def test_lock_released_only_by_its_source(mux):
    mux.update_lock("hb", False, 0.0)
    mux.update_input("policy", "p", 0.0)
    mux.update_lock("estop", True, 0.0, source=b"a")
    assert mux.select(0.1) is None
    assert mux.update_lock("estop", False, 0.1, source=b"b").startswith("refused")
    mux.update_input("policy", "p", 0.2)
    assert mux.select(0.2) is None
    assert mux.reset_locks()
    assert mux.select(0.2).name == "policy"
