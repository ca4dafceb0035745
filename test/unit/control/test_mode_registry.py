"""One registry of controller modes, read by the CLI, the graph and the benchmark; one path
function for checkpoints, used by the writer (`sim2real train`) and the reader (make_mode)."""
import os

import numpy as np
import pytest

from sim2real import cli, paths
from sim2real.eval.benchmark import BENCH_MODES
from sim2real.control.modes import BASELINE, MODES, REGISTRY, make_mode
from sim2real.errors import ConfigError
from sim2real.graph import build_graph


def test_every_reader_sees_the_registry(capsys):
    assert MODES == tuple(REGISTRY) and BASELINE in REGISTRY
    torque_modes = {n for n, spec in REGISTRY.items() if spec.actuation == "effort"}
    assert set(BENCH_MODES) == torque_modes | {"oracle"}        # the benchmark is an arm's
    with pytest.raises(SystemExit):
        cli.main(["up", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    for name, spec in REGISTRY.items():
        assert name in help_text and (spec.needs is None or spec.needs in help_text)
        robot = "jaco" if spec.actuation == "effort" else "go1"
        decls = build_graph(robot, "mujoco", camera=False, controller=name)
        assert next(d for d in decls if d.name == "controller").params["mode"] == name
    with pytest.raises(ConfigError, match="unknown"):
        build_graph("jaco", "mujoco", controller="pid")
    with pytest.raises(ConfigError, match="takes pd_targets commands"):
        build_graph("go1", "mujoco", controller="computed_torque")   # torques for a PD-target robot


@pytest.mark.parametrize("name", MODES)
def test_every_mode_builds_or_names_its_checkpoint(name, jaco, tmp_path, monkeypatch):
    spec = REGISTRY[name]
    if spec.actuation != "effort":
        from sim2real.robots import load_robot
        jaco = load_robot("go1")     # joint-target modes are for position / PD-target robots
    default = paths.checkpoint(jaco.name, spec.needs) if spec.needs else None
    if default is None or default.is_file():
        mode = make_mode(name, jaco)
        from sim2real.control.reference import Desired
        tau = mode.command(0.0, jaco.home, np.zeros(jaco.n), Desired(jaco.home, np.zeros(jaco.n)), np.zeros(jaco.n))
        assert tau.shape == (jaco.n,) and np.all(np.isfinite(tau))
    else:
        with pytest.raises(ConfigError, match=f"train {spec.needs.replace('_', '-')}"):
            make_mode(name, jaco)


def test_train_and_load_agree_from_any_working_directory(jaco, tmp_path, monkeypatch):
    """Training writes paths.checkpoint(robot, kind) and the mode reads it, wherever the command
    runs (it once wrote relative to the working directory and read from the data root)."""
    from sim2real.control.collect import record_twin
    from sim2real.sim.reality import NOMINAL
    root = tmp_path / "data"
    root.mkdir()
    for d in ("config", "urdf"):
        os.symlink(paths.data_root() / d, root / d)
    rec = tmp_path / "twin.mcap"
    record_twin(jaco, NOMINAL, rec, seconds=1.0, seed=3)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    monkeypatch.setenv("SIM2REAL_DATA", str(root))
    assert cli.main(["train", "inverse-dynamics", "--mcap", str(rec), "--epochs", "1", "--history", "2",
                     "--lookahead", "2"]) == 0
    assert paths.checkpoint("jaco", "inverse_dynamics") == root / "models" / "jaco" / "inverse_dynamics.pt"
    assert (root / "models" / "jaco" / "inverse_dynamics.json").is_file() and not (elsewhere / "models").exists()
    mode = make_mode("inverse_dynamics", jaco)
    assert mode.k == 2 and mode.lookahead == 2
