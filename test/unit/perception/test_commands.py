"""The perception commands as cli.py calls them (an argparse namespace), tiny."""
import json
from types import SimpleNamespace

import numpy as np
import pytest

from sim2real.errors import ConfigError
from sim2real.perception import commands
from sim2real.perception.geometry import known_point_names
from sim2real.perception.net import keypoint_names
from sim2real.robots import load_robot


def test_render_train_evaluate(tmp_path, capsys):
    data = tmp_path / "d.npz"
    assert commands.render(SimpleNamespace(robot="jaco", n=24, out=str(data), seed=0, workers=1, force=False)) == 0
    assert "24 images" in capsys.readouterr().out
    out = tmp_path / "perception_dr"
    assert commands.train(SimpleNamespace(robot="jaco", scheme="dr", dataset=str(data), epochs=1, threads=1,
                                          out=str(out), force=False, target_data=None)) == 0
    text = capsys.readouterr().out
    assert "validation (its own renders): median" in text and "images/s on one thread" in text
    with pytest.raises(ConfigError, match="'randomized' dataset; --scheme sim-only"):
        commands.train(SimpleNamespace(robot="jaco", scheme="sim-only", dataset=str(data), epochs=1, threads=1,
                                       out=str(tmp_path / "so"), force=False))
    a = SimpleNamespace(robot="jaco", reality="config/reality/weak-wrist.yaml", n=6, checkpoints=[str(out) + ".pt"],
                        out=str(tmp_path / "eval"), json=True, seed=0, refine="none")    # stage 1 alone
    assert commands.evaluate(a) == 0
    res = json.loads(capsys.readouterr().out)
    r = res["results"]["dr"]
    assert res["profile"] == "weak-wrist" and r["n"] == 6 and np.isfinite(r["median_cm"]) and r["p90_cm"] >= r["median_cm"]
    assert (tmp_path / "eval" / "contact-jaco-weak-wrist.png").is_file()
    # the camera calibrated on the arm in the first images (all 6 here: fewer than the default),
    # the uncalibrated error through the nominal mount beside it, each keypoint's pixel error
    n_landmarks = len(load_robot("jaco").camera.landmarks)
    assert 0 <= r["calibration"]["points"] <= 6 * n_landmarks          # (an untrained net's spreads: maybe none)
    if r["calibration"]["points"] == 0:                                 # no calibration: the nominal mount
        assert r["median_cm"] == r["uncalibrated"]["median_cm"]
    assert r["uncalibrated"]["n"] == 6 and np.isfinite(r["uncalibrated"]["median_cm"])
    assert set(r["camera_error_after_calibration"]) == {"position_cm", "rotation_deg", "fovy_deg"}
    assert list(r["keypoint_px_median"]) == keypoint_names(load_robot("jaco"))
    assert all(np.isfinite(v) and v >= 0 for v in r["keypoint_px_median"].values())
    for k in ("along_ray_median_cm", "across_ray_median_cm", "sigma_median_cm", "within_tol"):
        assert np.isfinite(r[k]), k
    a.calibration_images = 2                          # the first 2 images' landmarks only
    assert commands.evaluate(a) == 0
    r2 = json.loads(capsys.readouterr().out)["results"]["dr"]
    assert r2["calibration"]["points"] <= 2 * n_landmarks and r2["uncalibrated"] == r["uncalibrated"]
    a.json = False                                    # the table, with the calibration's line
    assert commands.evaluate(a) == 0
    text = capsys.readouterr().out
    assert "uncalibrated" in text and "camera calibrated on the arm in the first 2" in text and "contact sheet:" in text
    a.json, a.calibration_images = True, None
    import shutil                        # two checkpoints of one scheme: one row each, named by file
    for suffix in (".pt", ".json", ".onnx"):
        shutil.copy(str(out) + suffix, str(tmp_path / "other") + suffix)
    a.checkpoints = [str(out) + ".pt", str(tmp_path / "other.pt")]
    assert commands.evaluate(a) == 0
    assert set(json.loads(capsys.readouterr().out)["results"]) == {"dr (perception_dr)", "dr (other)"}


def test_evaluate_calibrates_a_moved_camera_on_the_arm(tmp_path, capsys, monkeypatch):
    """evaluate's calibration, with a perfect keypoint finder in place of the CNN (each rendered
    image's own keypoint labels, spread 1 px): under laggy-noisy (its camera ~4 cm and ~2 deg off
    the mount) the nominal mount misplaces the target by centimetres, the camera calibrated on
    the arm's landmarks in the first images finds it again."""
    from sim2real.perception.net import Localizer
    from sim2real.perception.render import SceneRenderer
    from sim2real.perception.train import TrainConfig, train
    robot = load_robot("jaco")
    out = tmp_path / "p"
    train(robot, TrainConfig(scheme="dr", images=8, epochs=1, batch=8, threads=1, val_frac=0.0), out, progress=False)
    labels = {}
    sample = SceneRenderer.sample

    def labelled(self, rng):
        s = sample(self, rng)
        labels[s.image.tobytes()] = s.keypoints
        return s

    def oracle(self, images, batch=256):
        kp = np.stack([labels[im.tobytes()] for im in np.asarray(images)]).astype(float)
        return kp, np.ones(kp.shape[:2])

    monkeypatch.setattr(SceneRenderer, "sample", labelled)
    monkeypatch.setattr(Localizer, "keypoints", oracle)
    a = SimpleNamespace(robot="jaco", reality="config/reality/laggy-noisy.yaml", n=16, calibration_images=10,
                        checkpoints=[str(out) + ".pt"], out=str(tmp_path / "eval"), json=True, seed=0, refine="none")
    assert commands.evaluate(a) == 0
    r = json.loads(capsys.readouterr().out)["results"]["dr"]
    assert r["calibration"]["points"] == 10 * len(known_point_names(robot)) and r["calibration"]["median_px"] < 0.05
    assert r["uncalibrated"]["median_cm"] > 2.0
    assert r["median_cm"] < 0.3 and r["within_tol"] == 1.0, r
    ce = r["camera_error_after_calibration"]
    # (40 exact points: the camera's depth along its axis and its fovy trade against each other
    # (a dolly zoom), the prior toward the mount holds some of the 3.7 cm back; the targets are right)
    assert ce["position_cm"] < 2.5 and ce["rotation_deg"] < 0.3 and abs(ce["fovy_deg"]) < 1.0, ce
    assert all(v < 1e-3 for v in r["keypoint_px_median"].values())


def test_bad_arguments_are_named(tmp_path):
    with pytest.raises(ConfigError, match="--n must be >= 1"):
        commands.render(SimpleNamespace(robot="jaco", n=0, out=str(tmp_path / "x.npz")))
    with pytest.raises(ConfigError, match="unknown scheme"):
        commands.train(SimpleNamespace(robot="jaco", scheme="nope"))
    with pytest.raises(ConfigError, match="missing"):
        commands.evaluate(SimpleNamespace(robot="jaco", n=2, checkpoints=[str(tmp_path / "none.pt")]))
