"""Benchmark honesty (issue 16): where even the oracle is not better than the baseline the
trajectory is reported infeasible, never as "nan%"; the JSON figures carry every trajectory."""
import json

import numpy as np

from sim2real.eval.benchmark import Episode, figures, summary_lines

T = np.arange(0.0, 2.0, 0.002)


def ep(mode, traj, err):
    return Episode(mode, traj, T, np.full((len(T), 7), err), np.full(len(T), err), np.full(10, 1e-4), None)


def test_infeasible_trajectories_are_named_and_never_nan():
    eps = [ep("computed_torque", "reach", 0.01), ep("oracle", "reach", 0.0099), ep("local_linear", "reach", 0.011),
           ep("computed_torque", "sines", 0.05), ep("oracle", "sines", 0.2), ep("local_linear", "sines", 0.04),
           ep("computed_torque", "payload", 0.03), ep("oracle", "payload", 0.001), ep("local_linear", "payload", 0.005)]
    text = "\n".join(summary_lines(eps, "p"))
    assert "nan" not in text.lower()
    assert "infeasible for this reality" in text and "reach, sines" in text
    assert "payload 86%" in text
    fig = json.loads(json.dumps(figures(eps, "p")))          # JSON-ready as it is
    assert fig["trajectories"]["sines"]["feasible"] is False and fig["trajectories"]["payload"]["feasible"] is True
    ll = fig["modes"]["local_linear"]
    assert ll["trajectories"]["sines"]["gap_closed"] is None
    assert abs(ll["trajectories"]["payload"]["gap_closed"] - 25 / 29) < 1e-9
    assert ll["summary"]["within_1.25x_baseline"] is True and abs(ll["summary"]["worst_ratio_to_baseline"] - 1.1) < 1e-9


def test_no_feasible_trajectory_says_so():
    eps = [ep("computed_torque", "reach", 0.01), ep("oracle", "reach", 0.3), ep("nn_prior_lqr", "reach", 0.05)]
    text = "\n".join(summary_lines(eps, "p"))
    assert "no feasible trajectory" in text and "over 1.25x" in text and "nan" not in text.lower()
