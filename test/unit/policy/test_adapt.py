"""Source adaptation reads only a recording of the target: the true parameters explain it better
than wrong ones, and the refitted Gaussian moves toward them."""
import numpy as np
import pytest

from sim2real.control.collect import record_twin
from sim2real.policy.adapt import adapt_source, log_likelihoods, read_target
from sim2real.robots import load_robot
from sim2real.sim.randomize import load_randomization
from sim2real.sim.reality import parse_profile


@pytest.fixture(scope="module")
def heavy(tmp_path_factory):
    jaco = load_robot("jaco")
    prof = parse_profile({"schema": "sim2real/reality/v1", "robot": "jaco",
                          "dynamics": {"payload": {"mass": 1.4, "offset": [0, 0, 0.04]}, "motor_strength": 0.85}})
    path = tmp_path_factory.mktemp("adapt") / "target.mcap"
    record_twin(jaco, prof, path, seconds=6.0, seed=3)
    return jaco, path


def test_true_parameters_explain_the_recording_best(heavy):
    jaco, path = heavy
    prior = load_randomization(jaco)
    names = prior.names(jaco)
    lo, hi = prior.bounds(jaco)
    base = np.clip(np.ones(len(names)), lo, hi)
    for k, name in enumerate(names):     # nominal everywhere, no latency, lag or noise
        if name.startswith(("latency", "actuator_lag", "position_noise", "velocity_noise", "payload")):
            base[k] = lo[k]
    def with_(**kw):
        th = base.copy()
        for key, v in kw.items():
            for k, name in enumerate(names):
                if name == key or name.startswith(key + "["):
                    th[k] = v
        return th
    true = with_(payload_mass=1.4, payload_offset=0.04, motor_strength=0.85)
    wrong = [with_(payload_mass=0.0, motor_strength=0.85), with_(payload_mass=1.4, payload_offset=0.04, motor_strength=1.1)]
    stamps, q, qd, cmd = read_target(path, jaco)
    ll = log_likelihoods(jaco, prior, np.stack([true, *wrong]), stamps, q, qd, cmd, np.random.default_rng(0))
    assert ll[0] > ll[1] and ll[0] > ll[2], ll


def test_posterior_moves_toward_the_payload(heavy):
    jaco, path = heavy
    src, rep = adapt_source(jaco, path, seed=1, samples=150, log=lambda m: None)
    j = rep["names"].index("payload_mass")
    prior_mean = 0.75
    assert abs(src.mean[j] - 1.4) < abs(prior_mean - 1.4)
    th = src.draw(jaco, np.random.default_rng(0))
    lo, hi = src.low, src.high
    assert np.all(th >= lo) and np.all(th <= hi)
    src.profile(jaco, th)     # a valid profile
