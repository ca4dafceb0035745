"""The `visuals:` section of config/randomization/<robot>.yaml: parsed by sim/randomize.py next to
the dynamics ranges (which it leaves alone), every mistake named by its key."""
import numpy as np
import pytest

from sim2real.errors import ConfigError
from sim2real.sim.randomize import load_randomization, parse_randomization, parse_visuals


def test_jaco_has_visual_ranges_and_dynamics_unchanged(jaco):
    rz = load_randomization(jaco)
    v = rz.visuals
    assert set(v["colors"]) == {"table", "floor", "robot", "target"}
    assert v["lights"][0] >= 1 and "checker" in v["texture_kinds"]
    assert "visuals" not in rz.ranges                       # not a dynamics factor
    plain = parse_randomization({k: list(r) for k, r in rz.ranges.items()}, "plain")
    a, b = rz.draw(jaco, np.random.default_rng(4)), plain.draw(jaco, np.random.default_rng(4))
    assert np.array_equal(a, b)                            # the visuals change no dynamics draw


@pytest.mark.parametrize("data,needle", [
    ({"lightz": [1, 2]}, r"visuals.lightz: unknown key"),
    ({"lights": [0, 2]}, r"visuals.lights: must be"),
    ({"lights": [1.5, 2]}, r"visuals.lights: must be \[low, high\] integers"),
    ({"light_intensity": [2.0, 1.0]}, r"visuals.light_intensity"),
    ({"camera_offset": [0, float("nan")]}, r"visuals.camera_offset"),
    ({"texture_kinds": ["flat", "plaid"]}, r"visuals.texture_kinds"),
    ({"texture_kinds": []}, r"visuals.texture_kinds"),
    ({"distractor_shapes": "box"}, r"visuals.distractor_shapes"),
    ({"colors": {"sky": {"low": [0, 0, 0], "high": [1, 1, 1]}}}, r"visuals.colors.sky: unknown element"),
    ({"colors": {"table": {"low": [0, 0, 0], "high": [1, 1, 2]}}}, r"visuals.colors.table"),
    ({"colors": {"table": {"low": [0.5, 0, 0], "high": [0.4, 1, 1]}}}, r"visuals.colors.table"),
    ({"colors": {"table": [0, 1]}}, r"visuals.colors.table"),
    ({"near_target_color_probability": 1.5}, r"visuals.near_target_color_probability"),
])
def test_bad_visuals_name_the_key(data, needle):
    with pytest.raises(ConfigError, match=needle):
        parse_randomization({"mass_scale": [0.9, 1.1], "visuals": data}, "config/randomization/x.yaml")


def test_visuals_must_be_a_mapping_and_other_keys_still_refused():
    with pytest.raises(ConfigError, match="visuals"):
        parse_visuals([1, 2], "x.yaml: visuals")
    with pytest.raises(ConfigError, match="unknown key 'visual'"):
        parse_randomization({"visual": {}}, "x.yaml")
