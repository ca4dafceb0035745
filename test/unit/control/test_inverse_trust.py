"""inverse_dynamics' trust in its network (TrustCheck): the weight of the network's correction
per joint follows which model predicts the torque the robot applied, and noise in the
measurements both models see does not pull it toward one half."""
import numpy as np

from sim2real.control.inverse_dynamics import TrustCheck

N, DT, L = 3, 0.002, 4


class StillArm:
    """M = I, no bias terms: at rest the nominal model says no torque is needed."""
    frictionloss = np.zeros(N)

    def dynamics(self, q, qd):
        return np.eye(N), np.zeros(N)


def run(net_answer, applied, noise, steps=2000, seed=0):
    """The arm held still by `applied` N m (measured with `noise` N m std); the network always
    answers net_answer; returns the trust weights."""
    rng = np.random.default_rng(seed)
    check = TrustCheck(N, DT, L)
    obs, acts = np.zeros((1, 2 * N)), np.zeros((0, N))
    net = lambda x: np.asarray(net_answer, float)     # noqa: E731
    for _ in range(steps):
        effort = applied + noise * rng.standard_normal(N)
        check.add(net, StillArm(), obs, acts, np.zeros(N), np.zeros(N), effort)
    return check.weight


def test_no_evidence_yet_means_half():
    np.testing.assert_allclose(TrustCheck(N, DT, L).weight, 0.5)


def test_the_model_that_predicts_the_applied_torque_wins_per_joint():
    applied = np.array([1.0, 1.0, 0.0])
    # joint 1: the network is right, the nominal model (0) wrong; joint 2: the network is 3 N m
    # off where the nominal model is 1 N m off; joint 3: the nominal model is right
    w = run([1.0, 4.0, 2.0], applied, noise=0.0)
    assert w[0] > 0.95
    assert 0.15 < w[1] < 0.35          # (e_nom (e_nom - e_net)) / (e_net - e_nom)^2 = 4 / 16
    assert w[2] < 0.05


def test_noise_both_models_see_does_not_pull_the_weight_to_one_half():
    applied = np.array([1.0, 1.0, 1.0])
    # torque sensors 5x noisier than the nominal model's 1 N m error; the network is exact. An
    # inverse-variance share would give about (1 + 6.25) / (6.25 + 1 + 6.25) = 0.54 (the mean of
    # L = 4 readings has 2.5 N m of noise); the weight stays near 1 (within the averaging's spread)
    w = run([1.0, 1.0, 1.0], applied, noise=5.0, steps=6000)
    assert np.all(w > 0.7), w
    assert np.mean(w) > 0.8, w
