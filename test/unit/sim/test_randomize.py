"""The one randomization sampler: every robot's ranges give valid profiles inside the ranges."""
import numpy as np
import pytest

from sim2real.errors import ConfigError
from sim2real.robots import load_robot
from sim2real.sim.randomize import KEYS, load_randomization, parse_randomization


@pytest.mark.parametrize("name", ["jaco", "go1", "nao"])
def test_samples_stay_in_range_and_resolve(name):
    robot = load_robot(name)
    rz = load_randomization(robot)
    rng = np.random.default_rng(0)
    for _ in range(5):
        prof = rz.sample(robot, rng)
        prof.resolve(robot)                                  # valid for the robot: names, counts
        dyn = prof.section("dynamics")
        for key, (lo, hi) in rz.ranges.items():
            if key.startswith("payload"):
                v = dyn["payload"]["mass" if key == "payload_mass" else "offset"]
                v = v if key == "payload_mass" else v[2]
            elif key.startswith("latency_"):
                v = dyn["latency"][key[len("latency_"):]]
            else:
                v = prof.section(KEYS[key][0])[key]
            assert np.all((lo <= np.asarray(v)) & (np.asarray(v) <= hi)), key
            assert np.size(v) == (robot.n if KEYS[key][1] else 1)


def test_same_seed_same_robots_whatever_the_file_order(jaco):
    a = parse_randomization({"damping_scale": [0.5, 2], "mass_scale": [0.9, 1.1]}, "a")
    b = parse_randomization({"mass_scale": [0.9, 1.1], "damping_scale": [0.5, 2]}, "b")
    pa, pb = a.sample(jaco, np.random.default_rng(3)), b.sample(jaco, np.random.default_rng(3))
    assert pa.section("dynamics") == pb.section("dynamics")


@pytest.mark.parametrize("data,needle", [
    ({"mass_scal": [1, 2]}, "unknown key 'mass_scal'"),
    ({"mass_scale": [2, 1]}, "mass_scale must be"),
    ({"mass_scale": 1.0}, "mass_scale must be"),
    ({"friction_scale": [0.5, float("nan")]}, "friction_scale must be"),
])
def test_bad_ranges_name_the_key(data, needle):
    with pytest.raises(ConfigError, match=needle):
        parse_randomization(data, "config/randomization/x.yaml")


def test_a_range_the_schema_refuses_names_the_key(jaco):
    rz = parse_randomization({"mass_scale": [-1.0, -0.5]}, "neg.yaml")
    with pytest.raises(ConfigError, match="mass_scale"):
        rz.sample(jaco, np.random.default_rng(0))
