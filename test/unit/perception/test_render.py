"""Randomized renders: labelled images of the robot's scene, every factor varied per image,
reproducible per seed whatever the number of processes, written as a compact .npz with config."""
import json

import numpy as np
import pytest

from sim2real.errors import ConfigError
from sim2real.perception.render import SceneRenderer, load_dataset, project, render_dataset, render_images, texture
from sim2real.sim.randomize import load_randomization
from sim2real.tasks.reach import ReachTask
from sim2real.perception.geometry import known_point_names


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
    w, h = jaco.camera.width, jaco.camera.height
    k = 2 + len(known_point_names(jaco))
    r = SceneRenderer(jaco, "nominal")
    try:
        task = ReachTask.from_robot(jaco)
        rng = np.random.default_rng(0)
        for _ in range(4):
            s = r.sample(rng)
            assert s.image.shape == (h, w, 3) and s.image.dtype == np.uint8
            assert s.keypoints.shape == (k, 2) and s.camera.shape == (13,) and s.q.shape == (jaco.n,)
            assert np.all(task.low <= s.target) and np.all(s.target <= task.high)
            assert np.array_equal(s.uv, s.keypoints[0])
            assert np.allclose(project(s.camera, s.target, w, h)[0], s.uv, atol=1e-3)
        seen = foot = 0
        for j in range(8):      # the red target is at its labelled pixel, its red stand at the foot's (unless the arm hides them)
            s = r.sample(np.random.default_rng(j))
            seen += _red_near(s.image, s.keypoints[0])
            foot += _red_near(s.image, s.keypoints[1])
        assert seen >= 6 and foot >= 6, (seen, foot)
    finally:
        r.close()


def _red_near(img, uv, r=2):
    """Whether a red pixel lies within r pixels of uv (pixel k covers [k, k + 1))."""
    u, v = np.floor(uv).astype(int)
    patch = img[max(v - r, 0):v + r + 1, max(u - r, 0):u + r + 1].reshape(-1, 3).astype(int)
    return bool(((patch[:, 0] > 120) & (patch[:, 0] > 2 * patch[:, 1] + 20)).any())


def test_randomized_renders_vary_everything_and_repeat_per_seed(jaco, visuals):
    r = SceneRenderer(jaco, "randomized", visuals)
    try:
        a = [r.sample(np.random.default_rng(k)) for k in range(3)]
        b = r.sample(np.random.default_rng(0))
        assert np.array_equal(a[0].image, b.image) and np.array_equal(a[0].target, b.target)
        assert not np.array_equal(a[0].image, a[1].image)
        assert len({tuple(np.round(s.camera[:3], 4)) for s in a}) == 3       # the camera moved
        w, h = jaco.camera.width, jaco.camera.height
        for s in a:                                                         # and the labels with it
            assert np.allclose(project(s.camera, s.target, w, h)[0], s.keypoints[0], atol=1e-3)
        assert not np.allclose(a[0].camera, a[1].camera)
        assert np.all(np.abs(a[0].camera[:3] - np.asarray(jaco.camera.pos)) <= visuals["camera_offset"][1] + 1e-9)
        m = r.model
        assert m.light_active.sum() >= 1
    finally:
        r.close()


def test_dataset_file_roundtrip_and_workers_agree(jaco, tmp_path):
    h, w = jaco.camera.height, jaco.camera.width
    k = 2 + len(known_point_names(jaco))
    cfg = render_dataset(jaco, 40, tmp_path / "d.npz", "randomized", seed=5, workers=2, progress=False)
    arrays, meta = load_dataset(tmp_path / "d.npz", jaco)
    assert set(arrays) == {"images", "target", "q", "kp", "camera"}
    assert arrays["images"].shape == (40, h, w, 3) and arrays["images"].dtype == np.uint8
    assert arrays["kp"].shape == (40, k, 2) and arrays["camera"].shape == (40, 13) and arrays["q"].shape == (40, jaco.n)
    assert np.allclose(project(arrays["camera"][7], arrays["target"][7], w, h)[0], arrays["kp"][7, 0], atol=1e-3)
    assert meta["n"] == 40 and meta["mode"] == "randomized" and meta["shadows"] is False
    assert meta["camera"]["width"] == w and meta["camera"]["height"] == h
    assert all(n in meta["labels"]["kp"] for n in jaco.camera.landmarks)
    assert meta["visuals"]["lights"] == list(load_randomization(jaco).visuals["lights"])
    assert cfg["bytes"] < 40 * h * w * 3
    one = render_images(jaco, 40, "randomized", load_randomization(jaco).visuals, seed=5, workers=1, progress=False)
    for key in ("images", "target", "q", "kp", "camera"):
        assert np.array_equal(one[key], arrays[key]), key
    with pytest.raises(ConfigError, match="exists"):
        render_dataset(jaco, 4, tmp_path / "d.npz", progress=False)
    (tmp_path / "bad.npz").write_bytes(b"nope")
    with pytest.raises(ConfigError, match="not a perception dataset"):
        load_dataset(tmp_path / "bad.npz")
    # a dataset from before the keypoint labels (uv, no kp or camera): refused, saying why
    old = {key: arrays[key] for key in ("images", "target", "q")}
    np.savez(tmp_path / "old.npz", **old, uv=arrays["kp"][:, 0], config=np.array(json.dumps(meta)))
    with pytest.raises(ConfigError, match="no kp, camera"):
        load_dataset(tmp_path / "old.npz", jaco)
    with pytest.raises(ConfigError, match="rendered for robot 'jaco'"):
        load_dataset(tmp_path / "d.npz", _Other())
    json.loads(json.dumps(meta))


class _Other:
    name = "other"


def test_near_target_colour_tables_take_the_targets_hue(jaco, visuals):
    """near_target_color_probability 1: every table is the target's hue darkened or paled (red the
    largest channel of its flat colour); 0 (what other tables draw from): the target's family is
    kept off the table."""
    def table_rgb(p):
        v = {**visuals, "texture_kinds": ["flat"], "near_target_color_probability": p}
        r = SceneRenderer(jaco, "randomized", v)
        try:
            out = []
            for k in range(12):
                r.sample(np.random.default_rng(k))
                t = r.tex["table"]
                adr, n = r.model.tex_adr[t], r.model.tex_width[t] * r.model.tex_height[t] * r.model.tex_nchannel[t]
                out.append(r.model.tex_data[adr:adr + n].reshape(-1, r.model.tex_nchannel[t])[:, :3].mean(0))
            return np.array(out)
        finally:
            r.close()
    near, plain = table_rgb(1.0), table_rgb(0.0)
    assert np.all((near[:, 0] > near[:, 1]) & (near[:, 0] > near[:, 2]))
    lo, hi = np.array([0.45, -0.1, -0.1]) * 255, np.array([1.1, 0.5, 0.5]) * 255      # the target's box widened by 0.1
    assert not np.any(np.all((plain >= lo) & (plain <= hi), axis=1))
