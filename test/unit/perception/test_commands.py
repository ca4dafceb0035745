"""The perception commands as cli.py calls them (an argparse namespace), tiny."""
import json
from types import SimpleNamespace

import numpy as np
import pytest

from sim2real.errors import ConfigError
from sim2real.perception import commands


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
                        out=str(tmp_path / "eval"), json=True, seed=0)
    assert commands.evaluate(a) == 0
    res = json.loads(capsys.readouterr().out)
    r = res["results"]["dr"]
    assert res["profile"] == "weak-wrist" and r["n"] == 6 and np.isfinite(r["median_cm"]) and r["p90_cm"] >= r["median_cm"]
    assert (tmp_path / "eval" / "contact-jaco-weak-wrist.png").is_file()
    import shutil                        # two checkpoints of one scheme: one row each, named by file
    for suffix in (".pt", ".json", ".onnx"):
        shutil.copy(str(out) + suffix, str(tmp_path / "other") + suffix)
    a.checkpoints = [str(out) + ".pt", str(tmp_path / "other.pt")]
    assert commands.evaluate(a) == 0
    assert set(json.loads(capsys.readouterr().out)["results"]) == {"dr (perception_dr)", "dr (other)"}


def test_bad_arguments_are_named(tmp_path):
    with pytest.raises(ConfigError, match="--n must be >= 1"):
        commands.render(SimpleNamespace(robot="jaco", n=0, out=str(tmp_path / "x.npz")))
    with pytest.raises(ConfigError, match="unknown scheme"):
        commands.train(SimpleNamespace(robot="jaco", scheme="nope"))
    with pytest.raises(ConfigError, match="missing"):
        commands.evaluate(SimpleNamespace(robot="jaco", n=2, checkpoints=[str(tmp_path / "none.pt")]))
