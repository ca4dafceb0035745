"""Perception's stage 2 (perception/refine.py): the crop's geometry (a window at the frame's edge,
a point in the crop mapped back to the frame), when a refined point is taken, the pipeline with and
without a stage-2 checkpoint, and a tiny training that writes a checkpoint the Refiner runs."""
import json
from types import SimpleNamespace

import numpy as np
import pytest

from sim2real.errors import ConfigError
from sim2real.perception.geometry import FOOT, TARGET, Landmarks
from sim2real.perception.pipeline import TargetPipeline, image_problem
from sim2real.perception.refine import (CROP, EDGE_PX, REFINED, Refiner, build_refine_net, crop, crop_origin,
                                        crops_at, jittered_centres)

from .test_pipeline import ScriptedLocalizer, _kp


def test_the_crop_is_centred_nearest_and_maps_back_to_the_frame():
    img = np.random.default_rng(0).integers(0, 256, (40, 60, 3), dtype=np.uint8)
    for centre in ([30.2, 20.7], [30.5, 20.5], [29.9, 19.6]):
        o = crop_origin(centre, 8)
        assert np.all(np.abs(o + 4 - np.asarray(centre)) <= 0.5)     # the window's centre is the nearest
        c = crop(img, o, 8)
        assert np.array_equal(c, img[o[1]:o[1] + 8, o[0]:o[0] + 8])
        # crop pixel (i, j) is frame pixel (y0 + i, x0 + j): a point u in the crop is u + x0 in the frame
        i, j = 3, 5
        assert np.array_equal(c[i, j], img[o[1] + i, o[0] + j])


@pytest.mark.parametrize("centre", [[0.0, 0.0], [59.9, 39.9], [-3.0, 20.0], [30.0, 45.0]])
def test_a_crop_at_the_frame_edge_is_zero_outside_it(centre):
    img = np.full((40, 60, 3), 200, np.uint8)
    o = crop_origin(centre, 16)
    c = crop(img, o, 16)
    assert c.shape == (16, 16, 3)
    ys, xs = np.mgrid[0:16, 0:16]
    inside = (xs + o[0] >= 0) & (xs + o[0] < 60) & (ys + o[1] >= 0) & (ys + o[1] < 40)
    assert not inside.all()
    assert np.all(c[inside] == 200) and np.all(c[~inside] == 0)


def test_a_window_wholly_off_the_frame_is_black():
    assert not crop(np.full((10, 10, 3), 9, np.uint8), (50, -40), 8).any()


def test_crops_at_stacks_per_image_and_point():
    imgs = np.random.default_rng(1).integers(0, 256, (3, 40, 60, 3), dtype=np.uint8)
    centres = np.array([[[10, 10], [50, 30]], [[0, 0], [30, 20]], [[59, 39], [5, 35]]], float)
    cr, org = crops_at(imgs, centres, 16)
    assert cr.shape == (3, 2, 16, 16, 3) and org.shape == (3, 2, 2)
    assert np.array_equal(cr[2, 1], crop(imgs[2], org[2, 1], 16))


def test_jittered_centres_are_near_the_true_points():
    kp = np.zeros((4000, 10, 2))
    c = jittered_centres(kp, np.random.default_rng(0))
    assert c.shape == (4000, 2, 2)
    assert np.mean(np.abs(c) <= 10.0) > 0.99                   # a few px, as stage 1 errs: the point stays in its crop
    assert 1.5 < np.median(np.abs(c)) < 3.5 and np.abs(c).max() < CROP / 2 - EDGE_PX


class FakeRefiner(Refiner):
    """Refiner's logic with a scripted network: run() returns, in each crop, the point `truth`
    (frame px) would be at, with the spread queued."""

    def __init__(self, width, height, truth, spread=0.5, size=CROP, max_spread_px=2.0):
        self.size, self.width, self.height, self.max_spread_px = size, width, height, max_spread_px
        self.truth, self.spread, self.infer_s = np.asarray(truth, float), spread, []
        self.origins = None
        self.path = "fake"

    def run(self, crops, batch=256):
        n = len(crops) // len(REFINED)
        # the refine() call cut crops at crop_origin of stage 1's points: recompute them to place truth
        pts = np.zeros((len(crops), len(REFINED), 2))
        for i in range(n):
            for j in range(len(REFINED)):
                pts[i * len(REFINED) + j] = self.truth[None] - self.origins[i, j]
        return pts, np.full((len(crops), len(REFINED)), self.spread)

    def refine(self, images, kp, spread):
        kp = np.asarray(kp, float)
        if kp.ndim == 2:
            kp = kp[None]
        self.origins = crop_origin(np.nan_to_num(kp[:, list(REFINED)]), self.size)
        return super().refine(images, kp, spread)


def test_refined_points_map_back_to_frame_pixels():
    w = h = 256
    truth = np.array([[100.3, 60.8], [101.1, 140.4]])            # target, foot (frame px)
    ref = FakeRefiner(w, h, truth)
    kp1 = np.zeros((1, 6, 2))
    kp1[0, TARGET], kp1[0, FOOT] = truth[0] + [3.2, -2.1], truth[1] + [-4.6, 5.3]
    kp2, sp, used = ref.refine(np.zeros((h, w, 3), np.uint8), kp1, np.ones((1, 6)))
    assert used.all()
    assert np.allclose(kp2[0, [TARGET, FOOT]], truth)
    assert np.array_equal(kp2[0, 2:], kp1[0, 2:]) and np.array_equal(sp, np.ones((1, 6)))


def test_a_point_at_the_frame_edge_is_refined_within_its_padded_crop():
    w = h = 256
    truth = np.array([[2.5, 3.0], [253.0, 254.6]])
    ref = FakeRefiner(w, h, truth)
    kp1 = np.zeros((1, 6, 2))
    kp1[0, TARGET], kp1[0, FOOT] = truth[0] + [1.0, 1.5], truth[1] - [2.0, 1.0]
    kp2, _, used = ref.refine(np.zeros((h, w, 3), np.uint8), kp1, np.ones((1, 6)))
    assert used.all() and np.allclose(kp2[0, [TARGET, FOOT]], truth)


def test_stage_one_stands_where_stage_two_is_unsure_off_its_crop_or_at_another_size():
    w = h = 256
    truth = np.array([[100.0, 60.0], [100.0, 140.0]])
    kp1 = np.zeros((1, 6, 2))
    kp1[0, TARGET], kp1[0, FOOT] = truth[0] + 2, truth[1] - 2
    img = np.zeros((h, w, 3), np.uint8)
    unsure = FakeRefiner(w, h, truth, spread=5.0)                         # spread over max_spread_px
    kp2, _, used = unsure.refine(img, kp1, np.ones((1, 6)))
    assert not used.any() and np.array_equal(kp2, kp1)
    far = FakeRefiner(w, h, truth + [[CROP / 2 - EDGE_PX / 2 + 2, 0], [0, 0]])   # target at its crop's border
    kp2, _, used = far.refine(img, kp1, np.ones((1, 6)))
    assert list(used[0]) == [False, True] and np.array_equal(kp2[0, TARGET], kp1[0, TARGET])
    other = FakeRefiner(w, h, truth)
    kp2, _, used = other.refine(np.zeros((128, 128, 3), np.uint8), kp1, np.ones((1, 6)))   # not the camera's size
    assert not used.any() and np.array_equal(kp2, kp1)
    lost = kp1.copy()
    lost[0, FOOT] = [np.nan, np.nan]
    kp2, _, used = other.refine(img, lost, np.ones((1, 6)))
    assert list(used[0]) == [True, False] and np.isnan(kp2[0, FOOT]).all()


def test_the_net_gives_points_in_the_crop():
    import torch
    net = build_refine_net(32, 8).eval()
    with torch.no_grad():
        kp, sp = net(torch.rand(3, 3, 32, 32))
    assert kp.shape == (3, 2, 2) and sp.shape == (3, 2)
    assert torch.all((kp >= 0) & (kp <= 32)) and torch.all(sp > 0)
    with pytest.raises(ConfigError, match="multiple of 8"):
        build_refine_net(30)


# ---- the pipeline with and without stage 2 ------------------------------------------------------
def _pipe_frame(jaco, refiner):
    loc = ScriptedLocalizer(jaco)
    pipe = TargetPipeline(loc, jaco, refiner=refiner)
    lm = Landmarks(jaco)
    target = np.array([0.40, 0.15, 0.35])
    w, h = jaco.camera.width, jaco.camera.height
    kp = _kp(loc, lm, jaco.home, target)
    return pipe, loc, kp, target, np.zeros((h, w, 3), np.uint8)


def test_the_pipeline_takes_stage_two_where_it_has_one(jaco):
    pipe, loc, kp, target, img = _pipe_frame(jaco, None)
    biased = kp.copy()
    biased[FOOT] += [0.0, 3.0]                                        # stage 1's foot 3 px toward the camera
    loc.queue.append(biased)
    r0 = pipe.frame(img, None)
    assert r0.refined == 0 and np.linalg.norm(r0.measured - target) > 0.01
    truth = kp[[TARGET, FOOT]]
    pipe2, loc2, _, _, _ = _pipe_frame(jaco, FakeRefiner(jaco.camera.width, jaco.camera.height, truth))
    loc2.queue.append(biased)
    r = pipe2.frame(img, None)
    assert r.refined == 2 and np.linalg.norm(r.measured - target) < 1e-6
    # the same frame at another scale of the camera's aspect ratio: stage 1 only
    loc2.queue.append(biased)
    half = np.zeros((jaco.camera.height // 2, jaco.camera.width // 2, 3), np.uint8)
    r = pipe2.frame(half, None)
    assert r.refined == 0 and r.problem is None and np.allclose(r.measured, r0.measured)


@pytest.mark.parametrize("img", [np.zeros((0, 0, 3), np.uint8), np.zeros((64, 128, 3), np.uint8),
                                 np.zeros((128, 128), np.uint8), np.zeros((128, 128, 3), np.float32), None])
def test_a_malformed_frame_is_a_problem_not_a_crash(jaco, img):
    pipe, loc, kp, _, _ = _pipe_frame(jaco, FakeRefiner(jaco.camera.width, jaco.camera.height, np.zeros((2, 2))))
    r = pipe.frame(img, None)
    assert r.target is None and r.problem and not loc.queue
    assert image_problem(img, jaco.camera.width, jaco.camera.height) == r.problem


# ---- training, tiny ----------------------------------------------------------------------------
def test_training_writes_a_checkpoint_the_refiner_runs(jaco, tmp_path):
    from sim2real.perception.refine import RefineConfig, train_refiner
    out = tmp_path / "refine"
    cfg = RefineConfig(images=12, epochs=2, batch=8, threads=1, time_budget_s=0.0, val_frac=0.25, width=4, crop=32)
    res = train_refiner(jaco, cfg, out, progress=False)
    for suffix in (".pt", ".json", ".onnx"):
        assert out.with_suffix(suffix).is_file()
    assert (tmp_path / "refine-curve.csv").is_file() and (tmp_path / "refine-curve.png").is_file()
    meta = json.loads(out.with_suffix(".json").read_text())
    assert meta["kind"] == "perception_refine" and meta["camera_size"] == [jaco.camera.width, jaco.camera.height]
    assert meta["crop"] == 32 and meta["epochs_run"] == 2 and meta["max_spread_px"] >= 1.0
    assert set(res["chain"]["stage2"]) >= {"foot_px", "median_cm"} and 0.0 <= res["chain"]["used"] <= 1.0
    ref = Refiner(out, jaco)
    img = np.random.default_rng(0).integers(0, 256, (jaco.camera.height, jaco.camera.width, 3), dtype=np.uint8)
    kp = np.full((1, 6, 2), jaco.camera.width / 2.0)
    kp2, _, used = ref.refine(img, kp, np.ones((1, 6)))
    moved = np.linalg.norm(kp2[0, [TARGET, FOOT]] - kp[0, [TARGET, FOOT]], axis=1)
    assert np.all(moved[used[0]] <= 32) and np.array_equal(kp2[0, 2:], kp[0, 2:])
    with pytest.raises(ConfigError, match="exists"):
        train_refiner(jaco, cfg, out, progress=False)
    other = SimpleNamespace(name=jaco.name, camera=SimpleNamespace(width=64, height=64))
    with pytest.raises(ConfigError, match="retrain"):
        Refiner(out, other)
    meta["kind"] = "perception"
    out.with_suffix(".json").write_text(json.dumps(meta))
    with pytest.raises(ConfigError, match="perception_refine"):
        Refiner(out, jaco)


def test_eval_perception_reports_stage_one_and_stage_two(jaco, tmp_path, capsys):
    """`sim2real eval perception` runs each checkpoint through the pipeline: stage 1 alone and with
    stage 2 (a tiny one here), one row each, and how often stage 2 was taken."""
    from sim2real.perception import commands
    from sim2real.perception.refine import RefineConfig, train_refiner
    from sim2real.perception.train import TrainConfig, train
    s1 = tmp_path / "p"
    train(jaco, TrainConfig(scheme="dr", images=8, epochs=1, batch=8, threads=1, val_frac=0.0), s1, progress=False)
    s2 = tmp_path / "r"
    train_refiner(jaco, RefineConfig(images=8, epochs=1, batch=8, threads=1, time_budget_s=0.0, val_frac=0.25,
                                     width=4, crop=32, stage1=str(s1) + ".pt"), s2, progress=False)
    a = SimpleNamespace(robot="jaco", reality="config/reality/weak-wrist.yaml", n=4, checkpoints=[str(s1) + ".pt"],
                        out=str(tmp_path / "eval"), json=True, seed=0, refine=str(s2) + ".pt")
    assert commands.evaluate(a) == 0
    res = json.loads(capsys.readouterr().out)["results"]
    assert set(res) == {"dr", "dr +stage2"}
    assert "stage2_used" not in res["dr"] and res["dr +stage2"]["stage2"].endswith("r.pt")
    assert 0.0 <= res["dr +stage2"]["stage2_used"]["foot"] <= 1.0
    assert res["dr"]["image_size"] == [jaco.camera.width, jaco.camera.height]
