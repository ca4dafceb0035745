"""Randomized renders: labelled images of the robot's scene, every factor varied per image,
reproducible per seed whatever the number of processes, written as a compact .npz with config."""
import json

import numpy as np
import pytest

from sim2real.errors import ConfigError
from sim2real.perception.render import SceneRenderer, load_dataset, project, render_dataset, render_images, texture
from sim2real.sim.randomize import load_randomization
from sim2real.tasks.reach import ReachTask


@pytest.fixture(scope="module")
def visuals(jaco):
    return load_randomization(jaco).visuals


@pytest.mark.parametrize("kind", ["flat", "gradient", "checker", "noise"])
def test_textures(kind):
    t = texture(kind, [1, 0, 0], [0, 0, 1], np.random.default_rng(0))
    assert t.shape == (64, 64, 3) and t.dtype == np.uint8
    if kind == "flat":
        assert np.all(t == [255, 0, 0])
    else:
        assert t[..., 2].max() > 128 and t[..., 0].max() > 128    # both colours appear


def test_nominal_renders_show_the_target_where_labelled(jaco):
    r = SceneRenderer(jaco, "nominal")
    try:
        task = ReachTask.from_robot(jaco)
        rng = np.random.default_rng(0)
        for _ in range(4):
            s = r.sample(rng)
            assert s.image.shape == (96, 96, 3) and s.image.dtype == np.uint8
            assert np.all(task.low <= s.target) and np.all(s.target <= task.high)
            assert np.allclose(project(s.camera, s.target, 96, 96)[0], s.uv, atol=1e-3)
        seen = 0
        for k in range(6):      # the red target is at its labelled pixel (unless the arm hides it)
            s = r.sample(np.random.default_rng(k))
            u, v = np.round(s.uv).astype(int)
            patch = s.image[max(v - 2, 0):v + 3, max(u - 2, 0):u + 3].reshape(-1, 3).astype(int)
            seen += bool(((patch[:, 0] > 120) & (patch[:, 0] > 2 * patch[:, 1] + 20)).any())
        assert seen >= 5
    finally:
        r.close()


def test_randomized_renders_vary_everything_and_repeat_per_seed(jaco, visuals):
    r = SceneRenderer(jaco, "randomized", visuals)
    try:
        a = [r.sample(np.random.default_rng(k)) for k in range(3)]
        b = r.sample(np.random.default_rng(0))
        assert np.array_equal(a[0].image, b.image) and np.array_equal(a[0].target, b.target)
        assert not np.array_equal(a[0].image, a[1].image)
        assert len({tuple(np.round(s.camera[:3], 4)) for s in a}) == 3       # the camera moved
        assert np.all(np.abs(a[0].camera[:3] - np.asarray(jaco.camera.pos)) <= visuals["camera_offset"][1] + 1e-9)
        m = r.model
        assert m.light_active.sum() >= 1
    finally:
        r.close()


def test_dataset_file_roundtrip_and_workers_agree(jaco, tmp_path):
    cfg = render_dataset(jaco, 40, tmp_path / "d.npz", "randomized", seed=5, workers=2, progress=False)
    arrays, meta = load_dataset(tmp_path / "d.npz", jaco)
    assert arrays["images"].shape == (40, 96, 96, 3) and arrays["images"].dtype == np.uint8
    assert meta["n"] == 40 and meta["mode"] == "randomized" and meta["shadows"] is False
    assert meta["visuals"]["lights"] == list(load_randomization(jaco).visuals["lights"])
    assert cfg["bytes"] < 40 * 96 * 96 * 3
    one = render_images(jaco, 40, "randomized", load_randomization(jaco).visuals, seed=5, workers=1, progress=False)
    assert np.array_equal(one["images"], arrays["images"]) and np.array_equal(one["target"], arrays["target"])
    with pytest.raises(ConfigError, match="exists"):
        render_dataset(jaco, 4, tmp_path / "d.npz", progress=False)
    (tmp_path / "bad.npz").write_bytes(b"nope")
    with pytest.raises(ConfigError, match="not a perception dataset"):
        load_dataset(tmp_path / "bad.npz")
    json.loads(json.dumps(meta))
