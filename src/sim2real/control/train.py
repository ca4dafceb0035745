"""`sim2real train dynamics-prior | inverse-dynamics`: the controller's networks, fitted with the
learning kit (learn/: fit_mlp, one checkpoint format); this file is what they learn from.

dynamics-prior (Fu et al. 2015): MLP (q, qd) -> joint acceleration beyond the nominal model's
M^-1 (tau - h), on simulated randomized data (dynamics_data.py). The network learns what the
rigid-body model misses (friction, damping, the randomized spread) and the torque gain stays
the model's M^-1: an MLP on (q, qd, tau) -> acceleration under-estimated d acc / d tau by
10-85% (in tracking data tau is mostly a function of the state), and its torque dependence,
evaluated at the measured torque, closed a delayed loop: the LQR went unstable with 34 ms of
transport delay and lag (config/reality/laggy-noisy.yaml). inverse-dynamics (Christiano et al. 2016): MLP (k recent observations,
k-1 recent actions, desired next observation) -> action, on an .mcap recording of the robot
(/joint_states and /effort_controller/commands), never on a reality profile.
Both write a checkpoint (learn/checkpoint.py) at paths.checkpoint(robot, kind) unless told where.
"""
from __future__ import annotations

from sim2real.learn.checkpoint import metadata, refuse_overwrite, save_checkpoint
from sim2real.learn.fit import fit_mlp


def train_dynamics_prior(robot, out, seconds: float = 300.0, epochs: int = 30, seed: int = 0,
                         hidden=(64, 64), overwrite: bool = False) -> tuple[str, float]:
    """64-unit layers: the residual is mostly the randomized spread (validation MSE ~0.7 of its
    variance with 256 units too), and its Jacobian is evaluated every control step."""
    from tqdm import tqdm
    if not overwrite:
        refuse_overwrite(out)   # before minutes of simulation, not after

    from sim2real.control.dynamics_data import simulate
    bar = tqdm(total=1, desc="simulate randomized episodes", unit="episode")

    def progress(i, total):
        bar.total = total
        bar.n = i
        bar.refresh()
    data = simulate(robot, seconds, seed, progress=progress)
    bar.close()
    X = data["x"]
    net, norm, val = fit_mlp(X, data["acc"] - data["acc_nominal"], hidden, epochs, seed=seed, desc="dynamics prior")
    meta = metadata("dynamics_prior", robot, X.shape[1], robot.n, hidden, norm,
                 inputs="q (n), qd (n)",
                 outputs="joint acceleration minus the nominal model's M^-1 (tau - h) (n), rad/s^2",
                 target="residual",
                 samples=len(X), sim_seconds=seconds, seed=seed, val_mse_normalised=val)
    return str(save_checkpoint(out, net, meta, overwrite=overwrite)), val


def train_inverse_dynamics(robot, mcap, out, history: int = 1, lookahead: int = 16, epochs: int = 30,
                           seed: int = 0, hidden=(256, 256), action: str = "effort",
                           overwrite: bool = False) -> tuple[str, float]:
    from sim2real.control.inverse_dynamics import dataset_from_mcap
    if not overwrite:
        refuse_overwrite(out)
    X, Y = dataset_from_mcap(mcap, robot, history, lookahead, action)
    net, norm, val = fit_mlp(X, Y, hidden, epochs, seed=seed, desc="inverse dynamics")
    meta = metadata("inverse_dynamics", robot, X.shape[1], robot.n, hidden, norm, history=history,
                 lookahead=lookahead, action=action, inputs="o_t, o_(t-j) - o_t, a_(t-j), o_bar_(t+L) - o_t; o = [q, qd]",
                 outputs=("mean applied joint torque over the lookahead" if action == "effort"
                          else "joint torque command") + " (n), N m", samples=len(X), recording=str(mcap), seed=seed,
                 val_mse_normalised=val)
    return str(save_checkpoint(out, net, meta, overwrite=overwrite)), val
