"""Reality profile schema v1: examples validate; every kind of bad value names its key."""
import glob

import numpy as np
import pytest
import yaml

from sim2real import paths
from sim2real.errors import ConfigError
from sim2real.sim.reality import SCHEMA, load_profile, parse_profile

EXAMPLES = sorted(glob.glob(str(paths.resolve("config/reality/*.yaml"))))


def test_ships_three_examples():
    assert len(EXAMPLES) >= 3


@pytest.mark.parametrize("path", EXAMPLES)
def test_examples_validate_and_resolve(path):
    from sim2real.robots import load_robot
    prof = load_profile(path)
    robot = load_robot(prof.data["robot"])      # each example names the robot it applies to
    r = prof.resolve(robot)
    assert r.motor_strength.shape == (robot.n,)


def test_design_doc_example_is_valid(jaco):
    """The full example of DESIGN.md (every key) parses: other tools write these files."""
    doc = open(paths.data_root().parent / "shared" / "DESIGN.md").read() if (paths.data_root().parent / "shared" / "DESIGN.md").exists() else None
    if doc is None:
        pytest.skip("DESIGN.md not beside the checkout")
    block = doc.split("```yaml", 1)[1].split("```", 1)[0]
    r = parse_profile(yaml.safe_load(block)).resolve(jaco)
    assert r.joint_order == (0, 1, 3, 2, 4, 5, 6)
    assert r.sign[5] == -1 and r.offset[0] == 0.05 and r.command_scale[1] == 0.7
    assert r.position_bias[1] == 0.01 and r.latency_command == 0.010


@pytest.mark.parametrize("patch,key", [
    ({"dynamics": {"payload": {"mass": -1.0}}}, "dynamics.payload.mass"),
    ({"dynamics": {"mass_scale": 0.0}}, "dynamics.mass_scale"),
    ({"dynamics": {"drop_rate": {"state": 1.0}}}, "dynamics.drop_rate.state"),
    ({"dynamics": {"frobnicate": 1}}, "dynamics.frobnicate"),
    ({"sensors": {"position_noise": "loud"}}, "sensors.position_noise"),
    ({"visuals": {"jpeg_quality": 0}}, "visuals.jpeg_quality"),
    ({"wheels": 4}, "wheels"),
])
def test_bad_values_name_the_key(patch, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        parse_profile({"schema": SCHEMA, **patch})


def test_wrong_schema():
    with pytest.raises(ConfigError, match="schema"):
        parse_profile({"schema": "sim2real/reality/v0"})


def test_per_joint_forms(jaco):
    scalar = parse_profile({"schema": SCHEMA, "dynamics": {"friction_scale": 2.0}}).resolve(jaco)
    listed = parse_profile({"schema": SCHEMA, "dynamics": {"friction_scale": [1, 2, 3, 4, 5, 6, 7]}}).resolve(jaco)
    mapped = parse_profile({"schema": SCHEMA, "dynamics": {"friction_scale": {"joint_3": 4.0}}}).resolve(jaco)
    np.testing.assert_allclose(scalar.friction_scale, 2.0)
    np.testing.assert_allclose(listed.friction_scale, np.arange(1, 8))
    np.testing.assert_allclose(mapped.friction_scale, [1, 1, 4, 1, 1, 1, 1])
    with pytest.raises(ConfigError, match="joint_9"):
        parse_profile({"schema": SCHEMA, "dynamics": {"friction_scale": {"joint_9": 4.0}}}).resolve(jaco)
    with pytest.raises(ConfigError, match="expected 7"):
        parse_profile({"schema": SCHEMA, "dynamics": {"friction_scale": [1, 2]}}).resolve(jaco)


def test_profile_for_another_robot(jaco):
    with pytest.raises(ConfigError, match="not 'jaco'"):
        parse_profile({"schema": SCHEMA, "robot": "nao"}).resolve(jaco)
