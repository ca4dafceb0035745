"""The one checkpoint format: a round trip, and every mismatch a clear ConfigError naming the file."""
import json

import numpy as np
import pytest

from sim2real.errors import ConfigError
from sim2real.learn.checkpoint import checkpoint_files, load_checkpoint, metadata, save_checkpoint
from sim2real.learn.fit import fit_mlp
from sim2real.learn.networks import NumpyMLP, state_shapes, torch_mlp
from sim2real.learn.normalize import Standardizer


@pytest.fixture(scope="module")
def trained(tmp_path_factory, jaco):
    """A small network fitted to a known function of 2n inputs -> n outputs."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(2000, 2 * jaco.n))
    Y = np.tanh(X[:, :jaco.n]) + 0.5 * X[:, jaco.n:]
    net, norm, val = fit_mlp(X, Y, hidden=(32, 32), epochs=40, batch=64, seed=0, desc="test")
    path = tmp_path_factory.mktemp("ckpt") / "model.v1"
    meta = metadata("test_kind", jaco, 2 * jaco.n, jaco.n, (32, 32), norm, target="demo")
    return save_checkpoint(path, net, meta), net, X, Y, val


def test_round_trip_matches_torch(trained, jaco):
    import torch
    path, net, X, Y, val = trained
    assert path.name == "model.v1.pt" and path.with_suffix(".json").is_file()   # dots in the name kept
    assert val < 0.1                                    # it did learn (normalised MSE; 1 at the mean)
    mlp, meta = load_checkpoint(path, "test_kind", jaco, layout={"n_in": 14, "target": "demo"})
    with torch.no_grad():
        norm = meta["norm"]
        ref = net(torch.tensor((X[:5] - norm["in_mean"]) / np.array(norm["in_std"]), dtype=torch.float32)).numpy()
    ref = ref * np.array(norm["out_std"]) + np.array(norm["out_mean"])
    np.testing.assert_allclose(np.array([mlp(x) for x in X[:5]]), ref, rtol=1e-4, atol=1e-4)


def _variant(src, dst_dir, name, meta_edit=None, sd_edit=None):
    import torch
    pt, js = checkpoint_files(src)
    meta = json.loads(js.read_text())
    sd = torch.load(pt, weights_only=True)
    if meta_edit:
        meta_edit(meta)
    if sd_edit:
        sd = sd_edit(sd)
    out = dst_dir / f"{name}.pt"
    torch.save(sd, out)
    out.with_suffix(".json").write_text(json.dumps(meta))
    return out


@pytest.mark.parametrize("name,meta_edit,sd_edit,needle", [
    ("kind", lambda m: m.update(kind="other"), None, "'other' checkpoint, this needs 'test_kind'"),
    ("robot", lambda m: m.update(robot="go1"), None, "trained for robot go1"),
    ("joints", lambda m: m.update(joint_names=m["joint_names"][::-1]), None, "trained for robot jaco"),
    ("layout", lambda m: m.update(target="full"), None, "target is 'full', this needs 'demo'"),
    ("no_norm", lambda m: m.pop("norm"), None, "lacks norm"),
    ("bad_norm", lambda m: m["norm"].update(in_std=[1.0] * 3), None, "norm.in_std must be 14"),
    ("zero_std", lambda m: m["norm"].update(out_std=[0.0] * 7), None, "norm.out_std must be 7 finite numbers > 0"),
    ("keys", None, lambda sd: {f"net.{k}": v for k, v in sd.items()}, "state_dict keys do not match"),
    ("shape", None, lambda sd: {**sd, "2.weight": sd["2.weight"][:, :8]}, r"2.weight has shape \(32, 8\)"),
    ("nan", None, lambda sd: {**sd, "0.bias": sd["0.bias"] * float("nan")}, "non-finite"),
    ("hidden", lambda m: m.update(hidden=[32]), None, "state_dict keys do not match"),
])
def test_mismatch_is_a_config_error(trained, tmp_path, jaco, name, meta_edit, sd_edit, needle):
    bad = _variant(trained[0], tmp_path, name, meta_edit, sd_edit)
    with pytest.raises(ConfigError, match=needle) as e:
        load_checkpoint(bad, "test_kind", jaco, layout={"target": "demo"})
    assert name in str(e.value)                        # names the file


def test_pickled_code_is_refused(tmp_path, jaco, trained):
    """weights_only=True: a checkpoint that carries objects, not tensors, never runs code."""
    import pickle
    bad = _variant(trained[0], tmp_path, "pickled")
    bad.write_bytes(pickle.dumps({"0.weight": object()}))
    with pytest.raises(ConfigError, match="cannot load state_dict"):
        load_checkpoint(bad, "test_kind", jaco)


def test_missing_and_overwrite(tmp_path, jaco, trained):
    with pytest.raises(ConfigError, match="train test-kind"):
        load_checkpoint(tmp_path / "nothing", "test_kind", jaco)
    net = torch_mlp(3, 2, (4,))
    meta = metadata("k", jaco, 3, 2, (4,), {})
    save_checkpoint(tmp_path / "a", net, meta)
    with pytest.raises(ConfigError, match="--force"):
        save_checkpoint(tmp_path / "a", net, meta)
    save_checkpoint(tmp_path / "a", net, meta, overwrite=True)


def test_fit_refuses_what_cannot_train():
    X = np.zeros((100, 3))
    with pytest.raises(ConfigError, match="epochs"):
        fit_mlp(X, X, epochs=0)
    with pytest.raises(ConfigError, match="samples"):
        fit_mlp(X[:5], X[:5])
    with pytest.raises(ConfigError, match="non-finite"):
        fit_mlp(X + np.nan, X)


def test_networks_and_normalizer_agree():
    sizes = [5, 16, 3]
    assert state_shapes(sizes) == {k: tuple(v.shape) for k, v in torch_mlp(5, 3, (16,)).state_dict().items()}
    x = np.random.default_rng(1).normal(3.0, 2.0, size=(500, 4))
    s = Standardizer.fit(x)
    np.testing.assert_allclose(s(x).mean(0), 0, atol=1e-9)
    np.testing.assert_allclose(s.inverse(s(x)), x)
    assert isinstance(NumpyMLP([(np.eye(2), np.zeros(2))], 0, 1, 0, 1)(np.ones(2)), np.ndarray)
