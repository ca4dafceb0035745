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
