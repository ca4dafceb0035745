"""Bad input at the command line: one clear line on stderr, exit code 2, no traceback."""
import subprocess
import sys

import pytest


def run(*args):
    return subprocess.run([sys.executable, "-m", "sim2real.cli", *args], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("args,needle", [
    (["up", "--robot", "r2d2"], "unknown robot 'r2d2'"),
    (["up", "--backend", "webots"], "unknown backend 'webots'"),
    (["up", "--backend", "twin", "--reality", "no/such.yaml"], "no such file"),
    (["check", "config/robots/jaco.yaml"], "schema"),
])
def test_one_line_error(args, needle, tmp_path):
    r = run(*args)
    assert r.returncode == 2
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and needle in lines[0] and "Traceback" not in r.stderr


def test_malformed_profile_names_key(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("schema: sim2real/reality/v1\ndynamics:\n  drop_rate: {state: 1.5}\n")
    r = run("up", "--backend", "twin", "--reality", str(bad))
    assert r.returncode == 2 and "dynamics.drop_rate.state" in r.stderr and "Traceback" not in r.stderr


def one_line_error(r, *needles):
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert r.returncode == 2, (r.returncode, r.stderr[-2000:])
    assert len(lines) == 1 and lines[0].startswith("sim2real: error: ") and "Traceback" not in r.stderr, r.stderr
    for n in needles:
        assert n in lines[0], (n, lines[0])
    return lines[0]


@pytest.mark.parametrize("args,needle", [
    (["up", "--duration", "-1"], "--duration"),
    (["up", "--duration", "0"], "--duration"),
    (["demo", "--duration", "0"], "--duration"),
    (["record", "--duration", "-1"], "--duration"),
    (["up", "--duration", "nan"], "--duration"),
    (["up", "--seed", "-1"], "--seed"),
    (["demo", "--seed", "-1"], "--seed"),
    (["demo", "--targets", "0"], "--targets"),
    (["train", "dynamics-prior", "--epochs", "0"], "--epochs"),
    (["train", "inverse-dynamics", "--mcap", "nope.mcap"], "nope.mcap"),
    (["bench", "controller", "--seed", "-3"], "--seed"),
    (["up", "--no-such-flag"], "unrecognized"),
])
def test_bad_values_are_one_line(args, needle):
    one_line_error(run(*args), needle)


def test_shipped_checkpoint_is_not_overwritten():
    from sim2real import paths
    pt = paths.resolve("models/jaco/dynamics_prior.pt")
    before = pt.read_bytes()
    one_line_error(run("train", "dynamics-prior", "--seconds", "1", "--epochs", "1"), "exists", "--force")
    assert pt.read_bytes() == before


def test_existing_recordings_are_not_overwritten(tmp_path):
    old = tmp_path / "old.mcap"
    old.write_bytes(b"keep me")
    one_line_error(run("record", "-o", str(old), "--duration", "1"), str(old), "--force")
    one_line_error(run("up", "--record", str(old), "--duration", "1"), str(old), "--force")
    one_line_error(run("demo", "--record", str(old)), str(old), "--force")
    one_line_error(run("train", "inverse-dynamics", "--mcap", str(old), "--out", str(tmp_path / "m")), str(old))
    one_line_error(run("doctor", "--out", str(old)), str(old), "--force")     # before the experiment runs
    assert old.read_bytes() == b"keep me"


@pytest.mark.parametrize("args,needles", [
    (["eval", "policy", "--policies", "epopt", "--checkpoints", "epopt=models/jaco/perception_dr.pt"],
     ("perception_dr.json", "metadata lacks")),
    (["eval", "policy", "--policies", "dr", "--checkpoints", "epopt=models/jaco/reach_policy_epopt.pt"],
     ("not among the policies evaluated",)),
    (["eval", "policy", "--checkpoints", "planner=x.pt"], ("SCHEME=FILE.pt",)),
    (["eval", "policy", "--checkpoints", "epopt=no/such.pt"], ("no such file",)),
    (["train", "policy", "--scheme", "epopt", "--envs", "12"], ("--task-group 8 (the epopt default) must divide --envs 12",)),
    (["train", "policy", "--scheme", "dr", "--envs", "12", "--task-group", "8"], ("--task-group 8 must divide",)),
    (["train", "policy", "--randomization", "no/such.yaml"], ("--randomization", "no such file")),
    # onto the shipped file: refused before the adaptation reads the (here missing) recording
    (["train", "policy", "--scheme", "epopt+adapt", "--target-data", "no/such.mcap"],
     ("reach_policy_epopt_adapt.pt: exists", "--force")),
])
def test_policy_checkpoints_and_training_options(args, needles):
    one_line_error(run(*args), *needles)


def test_keyboard_teleop_without_terminal_exits_at_once():
    r = subprocess.run([sys.executable, "-m", "sim2real.cli", "teleop", "keyboard"], stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=60)
    one_line_error(r, "terminal")


@pytest.fixture
def broken_checkpoints(tmp_path):
    import json
    import shutil

    import torch

    from sim2real import paths
    src = paths.resolve("models/jaco/dynamics_prior")
    meta = json.loads(src.with_suffix(".json").read_text())
    out = {}
    del meta["norm"]
    (tmp_path / "no_norm.json").write_text(json.dumps(meta))
    shutil.copy(src.with_suffix(".pt"), tmp_path / "no_norm.pt")
    out["no_norm"] = (tmp_path / "no_norm.pt", "norm")
    sd = torch.load(src.with_suffix(".pt"), weights_only=True)
    torch.save({f"net.{k}": v for k, v in sd.items()}, tmp_path / "keys.pt")
    shutil.copy(src.with_suffix(".json"), tmp_path / "keys.json")
    out["keys"] = (tmp_path / "keys.pt", "state_dict keys")
    sd["2.weight"] = sd["2.weight"][:, :10]
    torch.save(sd, tmp_path / "shape.pt")
    shutil.copy(src.with_suffix(".json"), tmp_path / "shape.json")
    out["shape"] = (tmp_path / "shape.pt", "2.weight has shape")
    return out


@pytest.mark.parametrize("which", ["no_norm", "keys", "shape"])
def test_broken_checkpoint_is_a_config_error(broken_checkpoints, which, jaco):
    from sim2real.learn.checkpoint import load_checkpoint
    from sim2real.errors import ConfigError
    path, needle = broken_checkpoints[which]
    with pytest.raises(ConfigError, match=needle) as e:
        load_checkpoint(path, "dynamics_prior", jaco)
    assert path.stem in str(e.value)


def test_broken_checkpoint_at_the_cli(broken_checkpoints):
    path, _ = broken_checkpoints["no_norm"]
    one_line_error(run("up", "--controller", "nn_prior_lqr", "--controller-checkpoint", str(path),
                       "--duration", "0.1", "--no-camera"), "no_norm", "norm")


PUBLISHER = """
import sys, time, rclpy
from sensor_msgs.msg import JointState
rclpy.init()
node = rclpy.create_node("fake_driver")
pub = node.create_publisher(JointState, "/joint_states", 10)
end = time.monotonic() + float(sys.argv[1])
while time.monotonic() < end:
    pub.publish(JointState(name=["a"], position=[1.0]))
    time.sleep(0.01)
"""


def test_record_normalises_topics_and_names_the_silent_ones(tmp_path):
    """`--topics joint_states` records /joint_states; a misspelt topic that never appears is
    named, and the command fails."""
    from mcap_ros2.reader import read_ros2_messages
    pub = subprocess.Popen([sys.executable, "-c", PUBLISHER, "25"])
    try:
        out = tmp_path / "r.mcap"
        r = run("record", "-o", str(out), "--topics", "joint_states", "/joint_statse", "--duration", "4")
        line = one_line_error(r, "/joint_statse", "never advertised")
        assert "/joint_states " not in line
        topics = {m.channel.topic for m in read_ros2_messages(str(out))}
        assert topics == {"/joint_states"}
    finally:
        pub.kill()
        pub.wait()
