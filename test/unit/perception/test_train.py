"""Training the perception CNN, tiny: every scheme writes a checkpoint in the project's format
(NAME.pt weights-only, NAME.json, NAME.onnx, curves) that ONNX Runtime runs; adaptation schemes
read unlabeled images from an .mcap; wrong checkpoints and inputs are named errors."""
import json

import numpy as np
import pytest

from sim2real.errors import ConfigError
from sim2real.perception.net import Localizer, build_net, load_torch
from sim2real.perception.train import TrainConfig, load_target_images, train


def write_images_mcap(path, n=12, size=(96, 96), bad=2):
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


TINY = dict(images=48, epochs=2, batch=16, threads=1, val_frac=0.25)


def test_target_images_from_a_recording(tmp_path):
    write_images_mcap(tmp_path / "rec.mcap")
    imgs, info = load_target_images(tmp_path / "rec.mcap", 96, 96)
    assert imgs.shape == (12, 96, 96, 3) and info["used"] == 12 and sum(info["refused"].values()) == 2
    with pytest.raises(ConfigError, match="no /nothing messages"):
        load_target_images(tmp_path / "rec.mcap", 96, 96, topic="/nothing")


@pytest.mark.parametrize("scheme", ["sim-only", "dr+confusion+pairs"])
def test_train_tiny_writes_a_checkpoint_onnx_runs(jaco, tmp_path, scheme):
    target = None
    if scheme != "sim-only":
        target = tmp_path / "rec.mcap"
        write_images_mcap(target)
    out = tmp_path / f"perception_{scheme}"
    res = train(jaco, TrainConfig(scheme=scheme, **TINY), out, target_data=target, progress=False)
    pt = out.with_name(out.name + ".pt")
    for suffix in (".pt", ".json", ".onnx"):
        assert pt.with_suffix(suffix).is_file(), suffix
    assert pt.with_name(pt.stem + "-curve.csv").is_file() and pt.with_name(pt.stem + "-curve.png").is_file()
    meta = json.loads(pt.with_suffix(".json").read_text())
    assert meta["kind"] == "perception" and meta["robot"] == "jaco" and meta["scheme"] == scheme
    assert meta["epochs_run"] == 2 and meta["onnx_images_per_s_1thread"] > 0   # measured; the target is eval's to report
    if target:
        assert meta["target_data"]["used"] == 12
        assert "train_disc_acc" in res["final"] and "train_pair" in res["final"]
    loc = Localizer(pt, jaco)
    imgs = np.random.default_rng(1).integers(0, 256, (3, 96, 96, 3), dtype=np.uint8)
    tgt, sigma = loc.predict(imgs)
    assert tgt.shape == (3, 3) and sigma.shape == (3,) and np.all(np.isfinite(tgt)) and np.all(sigma > 0)
    net, _ = load_torch(pt, jaco)                     # weights_only load, same outputs as ONNX
    import torch
    with torch.no_grad():
        t2, _ = net(torch.from_numpy(imgs).permute(0, 3, 1, 2).float() / 255)
    assert np.allclose(t2.numpy(), tgt, atol=1e-4)
    with pytest.raises(ConfigError, match="exists"):
        train(jaco, TrainConfig(scheme=scheme, **TINY), out, target_data=target, progress=False)


def test_wrong_checkpoints_and_options_are_named(jaco, tmp_path):
    from sim2real.robots import load_robot
    with pytest.raises(ConfigError, match="needs --target-data"):
        train(jaco, TrainConfig(scheme="dr+confusion"), tmp_path / "x")
    with pytest.raises(ConfigError, match="--target-data is for"):
        train(jaco, TrainConfig(scheme="dr"), tmp_path / "x", target_data=tmp_path / "r.mcap")
    with pytest.raises(ConfigError, match="unknown scheme"):
        train(jaco, TrainConfig(scheme="magic"), tmp_path / "x")
    with pytest.raises(ConfigError, match="missing"):
        Localizer(tmp_path / "none", jaco)
    out = tmp_path / "p"
    train(jaco, TrainConfig(scheme="dr", images=20, epochs=1, batch=8, threads=1), out, progress=False)
    meta_path = tmp_path / "p.json"
    meta = json.loads(meta_path.read_text())
    with pytest.raises(ConfigError, match="trained for robot jaco"):
        Localizer(out, load_robot("nao") if load_robot("nao").camera else _Other())
    meta_path.write_text(json.dumps({**meta, "kind": "dynamics_prior"}))
    with pytest.raises(ConfigError, match="'dynamics_prior' checkpoint, this needs 'perception'"):
        Localizer(out, jaco)
    meta_path.write_text(json.dumps({**meta, "input": {"height": 96, "width": 128}}))
    with pytest.raises(ConfigError, match="aspect ratio"):
        Localizer(out, jaco)
    meta_path.write_text(json.dumps(meta))
    import torch
    torch.save({"x": torch.zeros(2)}, tmp_path / "p.pt")
    with pytest.raises(ConfigError, match="state_dict keys do not match the perception network"):
        load_torch(out, jaco)                         # the kit's loader (learn/checkpoint.load_module)
    meta_path.write_text(json.dumps({**meta, "robot": "nao"}))
    with pytest.raises(ConfigError, match="trained for robot nao"):
        load_torch(out, jaco)


class _Other:
    name = "other"
    camera = None


def test_init_and_time_budget(jaco, tmp_path):
    """--init starts from a trained checkpoint (its weights, recorded in the metadata; another
    layout refused); --time-budget stops training when the wall time is spent."""
    import torch
    first = tmp_path / "first"
    train(jaco, TrainConfig(scheme="dr", **TINY), first, progress=False)
    target = tmp_path / "rec.mcap"
    write_images_mcap(target)
    out = tmp_path / "adapted"
    cfg = TrainConfig(scheme="dr+confusion+pairs", init=str(first) + ".pt", time_budget_s=1e-3, **{**TINY, "epochs": 50})
    res = train(jaco, cfg, out, target_data=target, progress=False)
    meta = res["meta"]
    assert meta["init"]["scheme"] == "dr" and meta["epochs_run"] < 50
    net0, _ = load_torch(first, jaco)
    net1, _ = load_torch(out, jaco)
    assert torch.allclose(net0.state_dict()["det.weight"], net1.state_dict()["det.weight"], atol=0.05)
    with pytest.raises(ConfigError, match="--init"):
        train(jaco, TrainConfig(scheme="dr", init=str(first) + ".pt", **{**TINY, "width_mult": 1.0}),
              tmp_path / "other", progress=False)
