"""Training the perception CNN, tiny: every scheme writes a checkpoint in the project's format
(NAME.pt weights-only, NAME.json, NAME.onnx, curves) that ONNX Runtime runs; adaptation schemes
read unlabeled images from an .mcap; wrong checkpoints and inputs are named errors; validation's
numbers and the Localizer's geometry (locate, calibrate) are what they say."""
import json
import shutil

import numpy as np
import pytest

from sim2real.errors import ConfigError
from sim2real.perception.net import Localizer, keypoint_names, load_torch
from sim2real.perception.train import TrainConfig, load_target_images, train, validate
from sim2real.perception.geometry import known_point_names


def write_images_mcap(path, n=12, size=(128, 128), bad=2):
    from rclpy.serialization import serialize_message

    from sim2real.data.mcap_io import McapRecorder
    from sim2real.ros import convert
    rng = np.random.default_rng(0)
    rec = McapRecorder(path)
    cid = rec.add_topic("/camera/image_raw", "sensor_msgs/msg/Image")
    for k in range(n):
        img = rng.integers(0, 256, (*size, 3), dtype=np.uint8)
        rec.write(cid, serialize_message(convert.image(k / 15, "camera_optical_frame", img)), k * 66_000_000)
    for k in range(bad):       # malformed frames are skipped and counted
        m = convert.image(9.0, "camera_optical_frame", np.zeros((4, 4, 3), np.uint8))
        m.data = bytes(5)
        rec.write(cid, serialize_message(m), (n + k) * 66_000_000)
    rec.close()


TINY = dict(images=40, epochs=2, batch=16, threads=1, val_frac=0.25)


def _size(robot):
    return robot.camera.height, robot.camera.width


@pytest.fixture(scope="module")
def dr_checkpoint(jaco, tmp_path_factory):
    """One tiny 'dr' checkpoint for the tests that read one (copy it before changing it)."""
    out = tmp_path_factory.mktemp("dr") / "perception_dr"
    res = train(jaco, TrainConfig(scheme="dr", **TINY), out, progress=False)
    return out, res


def _copy(ckpt, dest):
    for suffix in (".pt", ".json", ".onnx"):
        shutil.copy(str(ckpt) + suffix, str(dest) + suffix)
    return dest


def test_target_images_from_a_recording(jaco, tmp_path):
    h, w = _size(jaco)
    write_images_mcap(tmp_path / "rec.mcap", size=(h, w))
    imgs, info = load_target_images(tmp_path / "rec.mcap", h, w)
    assert imgs.shape == (12, h, w, 3) and info["used"] == 12 and sum(info["refused"].values()) == 2
    half, _ = load_target_images(tmp_path / "rec.mcap", h // 2, w // 2)     # resized to the network's size
    assert half.shape == (12, h // 2, w // 2, 3)
    with pytest.raises(ConfigError, match="no /nothing messages"):
        load_target_images(tmp_path / "rec.mcap", h, w, topic="/nothing")


@pytest.mark.parametrize("scheme", ["sim-only", "dr+confusion+pairs"])
def test_train_tiny_writes_a_checkpoint_onnx_runs(jaco, tmp_path, scheme):
    import torch

    from sim2real.perception.geometry import table_height
    from sim2real.tasks.reach import ReachTask
    h, w = _size(jaco)
    target = None
    if scheme != "sim-only":
        target = tmp_path / "rec.mcap"
        write_images_mcap(target, size=(h, w))
    out = tmp_path / f"perception_{scheme}"
    res = train(jaco, TrainConfig(scheme=scheme, **TINY), out, target_data=target, progress=False)
    pt = out.with_name(out.name + ".pt")
    for suffix in (".pt", ".json", ".onnx"):
        assert pt.with_suffix(suffix).is_file(), suffix
    assert pt.with_name(pt.stem + "-curve.csv").is_file() and pt.with_name(pt.stem + "-curve.png").is_file()
    meta = json.loads(pt.with_suffix(".json").read_text())
    assert meta["kind"] == "perception" and meta["robot"] == "jaco" and meta["scheme"] == scheme
    assert meta["epochs_run"] == 2 and meta["onnx_images_per_s_1thread"] > 0   # measured; the target is eval's to report
    from sim2real.perception.train import input_size
    hi, wi = input_size(jaco)                 # the camera's frames resized to at most 128 rows (stage 1's input)
    assert hi <= 128 and hi * w == wi * h and (hi, wi) == ((h, w) if h <= 128 else (128, round(128 * w / h)))
    assert meta["input"]["height"] == hi and meta["input"]["width"] == wi and meta["width_mult"] == 1.0
    assert meta["keypoints"] == keypoint_names(jaco)
    assert meta["table_z"] == pytest.approx(table_height(ReachTask.from_robot(jaco)))
    assert np.isfinite(meta["sigma_per_spread"]) and meta["sigma_per_spread"] > 0
    f = res["final"]
    for k in ("val_median_cm", "val_p90_cm", "val_nominal_camera_median_cm", "val_target_px", "val_foot_px",
              "val_landmark_px", "sigma_per_spread", "train_task", "train_px"):
        assert np.isfinite(f[k]), k
    if scheme == "sim-only":          # nominal renders: each image's camera is the nominal mount
        assert f["val_nominal_camera_median_cm"] == pytest.approx(f["val_median_cm"], rel=1e-3)
    if target:
        assert meta["target_data"]["used"] == 12
        assert "train_disc_acc" in res["final"] and "train_pair" in res["final"]
    loc = Localizer(pt, jaco)
    imgs = np.random.default_rng(1).integers(0, 256, (3, h, w, 3), dtype=np.uint8)
    kp, spread = loc.keypoints(imgs)
    k = len(keypoint_names(jaco))
    assert kp.shape == (3, k, 2) and spread.shape == (3, k) and np.all(spread > 0)
    tgt, sigma = loc.predict(imgs)
    assert tgt.shape == (3, 3) and sigma.shape == (3,) and np.all(np.isfinite(tgt)) and np.all(sigma > 0)
    assert np.allclose(tgt, loc.locate(kp, spread)[0])
    net, _ = load_torch(pt, jaco)                     # weights_only load, same outputs as ONNX
    from sim2real.image import fit
    small = np.stack([fit(im, hi, wi)[0] for im in imgs])    # the frames at the network's input, as loc resizes them
    with torch.no_grad():
        k2, s2 = net(torch.from_numpy(small).permute(0, 3, 1, 2).float() / 255)
    scale = w / wi                                     # network pixels -> camera pixels
    assert np.allclose(k2.numpy() * scale, kp, atol=1e-3) and np.allclose(s2.numpy() * scale, spread, atol=1e-3)
    with pytest.raises(ConfigError, match="exists"):
        train(jaco, TrainConfig(scheme=scheme, **TINY), out, target_data=target, progress=False)


def test_wrong_checkpoints_and_options_are_named(jaco, tmp_path, dr_checkpoint):
    import torch

    from sim2real.robots import load_robot
    with pytest.raises(ConfigError, match="needs --target-data"):
        train(jaco, TrainConfig(scheme="dr+confusion"), tmp_path / "x")
    with pytest.raises(ConfigError, match="--target-data is for"):
        train(jaco, TrainConfig(scheme="dr"), tmp_path / "x", target_data=tmp_path / "r.mcap")
    with pytest.raises(ConfigError, match="unknown scheme"):
        train(jaco, TrainConfig(scheme="magic"), tmp_path / "x")
    with pytest.raises(ConfigError, match="missing"):
        Localizer(tmp_path / "none", jaco)
    out = _copy(dr_checkpoint[0], tmp_path / "p")
    Localizer(out, jaco)                              # the copy loads as it is
    meta_path = tmp_path / "p.json"
    meta = json.loads(meta_path.read_text())
    with pytest.raises(ConfigError, match="trained for robot jaco"):
        Localizer(out, load_robot("nao") if load_robot("nao").camera else _Other())
    meta_path.write_text(json.dumps({**meta, "kind": "dynamics_prior"}))
    with pytest.raises(ConfigError, match="'dynamics_prior' checkpoint, this needs 'perception'"):
        Localizer(out, jaco)
    h, w = _size(jaco)
    meta_path.write_text(json.dumps({**meta, "input": {"height": h, "width": w + 32}}))
    with pytest.raises(ConfigError, match="aspect ratio"):
        Localizer(out, jaco)
    hi, wi = meta["input"]["height"], meta["input"]["width"]
    meta_path.write_text(json.dumps({**meta, "input": {"height": hi // 2, "width": wi // 2}}))
    with pytest.raises(ConfigError, match="its metadata says"):       # the ONNX file's input is another size
        Localizer(out, jaco)
    meta_path.write_text(json.dumps({k: v for k, v in meta.items() if k != "keypoints"}))
    with pytest.raises(ConfigError, match="metadata lacks keypoints"):  # trained before keypoints
        Localizer(out, jaco)
    meta_path.write_text(json.dumps({**meta, "keypoints": meta["keypoints"][:-1]}))
    with pytest.raises(ConfigError, match="finds keypoints"):          # another camera's landmarks
        Localizer(out, jaco)
    with pytest.raises(ConfigError, match="finds keypoints"):
        load_torch(out, jaco)
    meta_path.write_text(json.dumps(meta))
    torch.save({"x": torch.zeros(2)}, tmp_path / "p.pt")
    with pytest.raises(ConfigError, match="state_dict keys do not match the perception network"):
        load_torch(out, jaco)                         # the kit's loader (learn/checkpoint.load_module)
    meta_path.write_text(json.dumps({**meta, "robot": "nao"}))
    with pytest.raises(ConfigError, match="trained for robot nao"):
        load_torch(out, jaco)


class _Other:
    name = "other"
    camera = None


def test_init_and_time_budget(jaco, tmp_path, dr_checkpoint):
    """--init starts from a trained checkpoint (its weights, recorded in the metadata; another
    layout refused); --time-budget stops training when the wall time is spent."""
    import torch
    first = dr_checkpoint[0]
    h, w = _size(jaco)
    target = tmp_path / "rec.mcap"
    write_images_mcap(target, size=(h, w))
    out = tmp_path / "adapted"
    cfg = TrainConfig(scheme="dr+confusion+pairs", init=str(first) + ".pt", time_budget_s=1e-3, **{**TINY, "epochs": 50})
    res = train(jaco, cfg, out, target_data=target, progress=False)
    meta = res["meta"]
    assert meta["init"]["scheme"] == "dr" and meta["epochs_run"] < 50
    net0, _ = load_torch(first, jaco)
    net1, _ = load_torch(out, jaco)
    assert torch.allclose(net0.state_dict()["heat.weight"], net1.state_dict()["heat.weight"], atol=0.05)
    fresh = torch.nn.init.normal_(torch.empty_like(net0.state_dict()["heat.weight"]))
    assert not torch.allclose(fresh, net1.state_dict()["heat.weight"], atol=0.05)     # the check can fail
    with pytest.raises(ConfigError, match="--init"):
        train(jaco, TrainConfig(scheme="dr", init=str(first) + ".pt", **{**TINY, "width_mult": 0.5}),
              tmp_path / "other", progress=False)


# ---- validation's numbers, and the Localizer's geometry, on exact keypoints ---------------------
@pytest.fixture(scope="module")
def exact(jaco):
    """Labels as the renderer makes them, without rendering: targets in the workspace, arm poses,
    their keypoints through the nominal camera."""
    from sim2real.perception.geometry import Landmarks, nominal_camera, table_height
    from sim2real.tasks.reach import ReachTask
    task = ReachTask.from_robot(jaco)
    cam0, tz, lm = nominal_camera(jaco), table_height(task), Landmarks(jaco)
    rng = np.random.default_rng(0)
    n = 30
    target = rng.uniform(task.low, task.high, (n, 3))
    q = np.asarray(jaco.home) + rng.uniform(-0.5, 0.5, (n, jaco.n))
    foot = target.copy()
    foot[:, 2] = tz
    pts = np.concatenate([target[:, None], foot[:, None], lm(q)], 1)
    kp = cam0.project(pts.reshape(-1, 3)).reshape(n, -1, 2)
    return {"kp": kp, "camera": np.tile(cam0.as_array(), (n, 1)), "target": target, "q": q,
            "landmarks": lm(q)}, cam0, tz


def test_validate_reports_pixel_and_3d_errors(jaco, exact):
    arrays, cam0, tz = exact
    spread = np.full(arrays["kp"].shape[:2], 2.0)
    v = validate(arrays["kp"], spread, arrays, jaco, cam0, tz)
    for k in ("val_median_cm", "val_p90_cm", "val_nominal_camera_median_cm", "val_target_px", "val_foot_px",
              "val_landmark_px"):
        assert v[k] == pytest.approx(0.0, abs=1e-3), k
    off = arrays["kp"].copy()
    off[:, 1, 0] += 2.0                                       # the foot's keypoint 2 px right: (x, y) moves
    v = validate(off, spread, arrays, jaco, cam0, tz)
    assert v["val_foot_px"] == pytest.approx(2.0, abs=1e-6) and v["val_target_px"] == pytest.approx(0.0, abs=1e-6)
    assert 1.0 < v["val_median_cm"] < 6 and v["val_p90_cm"] >= v["val_median_cm"]
    assert v["val_nominal_camera_median_cm"] == pytest.approx(v["val_median_cm"])
    assert v["sigma_per_spread"] > 0
    # sigma_per_spread is the ratio of the median error to the median spread in metres: halve the spread, double it
    assert validate(off, spread / 2, arrays, jaco, cam0, tz)["sigma_per_spread"] == pytest.approx(2 * v["sigma_per_spread"])
    # through each image's own camera: a moved camera changes the nominal number, not the true one
    moved = {**arrays, "camera": arrays["camera"].copy()}
    moved["camera"][:, 0] += 0.05
    from sim2real.perception.geometry import Camera
    h, w = jaco.camera.height, jaco.camera.width
    pts = np.concatenate([arrays["target"][:, None], arrays["target"][:, None] * [1, 1, 0] + [0, 0, tz]], 1)
    kp_m = arrays["kp"].copy()
    for i in range(len(kp_m)):
        kp_m[i, :2] = Camera.from_array(moved["camera"][i], w, h).project(pts[i])
    v = validate(kp_m, spread, moved, jaco, cam0, tz)
    assert v["val_median_cm"] == pytest.approx(0.0, abs=1e-3) and v["val_nominal_camera_median_cm"] > 1.0


def test_localizer_locates_and_calibrates(jaco, exact, dr_checkpoint):
    """The Localizer's geometry on exact keypoints: the targets through its camera, sigma from the
    spread, a given camera used instead, and calibration on the landmarks finds a moved camera."""
    from sim2real.perception.geometry import Camera, _rotvec_to_R
    arrays, cam0, tz = exact
    loc = Localizer(dr_checkpoint[0], jaco)
    assert np.allclose(loc.camera0.pos, cam0.pos) and loc.camera is loc.camera0 and loc.table_z == pytest.approx(tz)
    spread = np.full(arrays["kp"].shape[:2], 2.0)
    tgt, sigma = loc.locate(arrays["kp"], spread)
    assert np.allclose(tgt, arrays["target"], atol=1e-6) and np.all(sigma > 0)
    _, sigma2 = loc.locate(arrays["kp"], 2 * spread)
    assert np.allclose(sigma2, 2 * sigma)
    # a camera knocked off the mount: its keypoints through the nominal camera are off, through the
    # camera calibrated on its landmarks they are right again
    h, w = jaco.camera.height, jaco.camera.width
    true = Camera(cam0.pos + [0.02, 0.03, -0.02], cam0.R @ _rotvec_to_R(np.radians([1.0, 1.0, -1.0])),
                  cam0.fovy_deg - 1.5, w, h)
    pts = np.concatenate([arrays["target"][:, None], (arrays["target"] * [1, 1, 0] + [0, 0, tz])[:, None],
                          arrays["landmarks"]], 1)
    kp = true.project(pts.reshape(-1, 3)).reshape(len(pts), -1, 2)
    before = np.linalg.norm(loc.locate(kp, spread)[0] - arrays["target"], axis=1)
    assert np.median(before) > 0.02
    assert np.allclose(loc.locate(kp, spread, camera=true)[0], arrays["target"], atol=1e-6)
    unsure = spread.copy()
    unsure[:5, 2:] = 10.0                                  # above max_spread_px: left out
    rep = loc.calibrate(kp, unsure, arrays["landmarks"])
    assert rep["points"] == (len(kp) - 5) * len(known_point_names(jaco)) and rep["median_px"] < 0.05
    assert loc.calibration is rep and loc.camera is not loc.camera0 and np.allclose(loc.camera0.pos, cam0.pos)
    after = np.linalg.norm(loc.locate(kp, spread)[0] - arrays["target"], axis=1)
    assert np.max(after) < 0.005, np.max(after)
