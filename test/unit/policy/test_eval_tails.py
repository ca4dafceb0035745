"""The sweep's tail statistics: worst 10% and paired bootstrap intervals over the same targets."""
import numpy as np

from sim2real.eval.policy import compare_tails, paired_interval, worst10


def test_worst10_is_the_mean_of_the_lowest_tenth():
    r = np.arange(100.0)[::-1]
    assert worst10(r) == np.mean(np.arange(10.0))
    assert worst10(np.array([3.0, -1.0, 5.0])) == -1.0           # fewer than 10: the lowest one
    rows = np.stack([np.arange(20.0), np.arange(20.0) + 5])
    assert np.allclose(worst10(rows), [0.5, 5.5])                 # per row along the last axis


def test_paired_difference_cancels_the_targets():
    rng = np.random.default_rng(3)
    b = rng.normal(0, 30, size=200)              # the targets' spread dwarfs the difference
    d = paired_interval(worst10, b + 2.0, b)
    assert np.allclose([d["value"], d["lo"], d["hi"]], 2.0)
    # unpaired, the same shift is lost in the spread of what the targets drawn give
    alone = paired_interval(worst10, b)
    assert alone["hi"] - alone["lo"] > 5.0
    assert alone["lo"] <= alone["value"] <= alone["hi"]


def test_interval_covers_a_known_tail_most_of_the_time():
    # the worst 10% of N(0, 1): -E[X | X < q10] = 1.755; a 90% interval from 400 draws covers it
    # in most of 40 repetitions (a bootstrap of a tail is a little narrow: not in all of them)
    truth = -1.7550
    hits = 0
    for k in range(40):
        x = np.random.default_rng(100 + k).normal(size=400)
        ci = paired_interval(worst10, x, draws=400, seed=k)
        hits += ci["lo"] <= truth <= ci["hi"]
    assert hits >= 28


def test_compare_tails_pairs_each_policy_with_the_first():
    rng = np.random.default_rng(0)
    base = rng.normal(10, 5, size=(3, 50))
    better = base + np.array([[1.0], [2.0], [3.0]])
    res = {"dr": {"rows": [{}, {}, {}]}, "epopt": {"rows": [{}, {}, {}]}}
    compare_tails(res, {"dr": base, "epopt": better})
    assert "versus" not in res["dr"]
    v = res["epopt"]["versus"]
    assert v["policy"] == "dr"
    assert [round(d["value"], 9) for d in v["worst10_diff"]] == [1.0, 2.0, 3.0]
    assert np.isclose(res["dr"]["sweep_worst10"]["value"], np.mean(np.sort(base.reshape(-1))[:15]))
    assert all("worst10_interval" in row for row in res["epopt"]["rows"])


def test_sweep_at_the_cli_prints_the_paired_tails(tmp_path):
    import json
    import subprocess
    import sys
    args = [sys.executable, "-m", "sim2real.cli", "eval", "policy", "--sweep", "payload=0:1:2", "--episodes", "3",
            "--policies", "planner", "epopt", "--out", str(tmp_path)]
    r = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "whole sweep" in r.stdout
    line = [ln for ln in r.stdout.splitlines() if ln.startswith("epopt - planner")]
    assert len(line) == 1 and "payload=0 " in line[0] and "payload=1 " in line[0]
    assert (tmp_path / "policy-sweep-payload-nominal.png").stat().st_size > 0
    r = subprocess.run(args + ["--json"], capture_output=True, text=True, timeout=300)
    res = json.loads(r.stdout)["results"]
    assert "versus" not in res["planner"] and res["epopt"]["versus"]["policy"] == "planner"
    assert len(res["epopt"]["versus"]["worst10_diff"]) == 2
    for row in res["planner"]["rows"]:
        iv = row["worst10_interval"]
        assert iv["lo"] <= row["worst10_return"] <= iv["hi"]
