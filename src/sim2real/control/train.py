"""`sim2real train dynamics-prior | inverse-dynamics`: fit the controller's networks.

dynamics-prior (Fu et al. 2015): MLP (q, qd) -> joint acceleration beyond the nominal model's
M^-1 (tau - h), on simulated randomized data (dynamics_data.py). The network learns what the
rigid-body model misses (friction, damping, the randomized spread) and the torque gain stays
the model's M^-1: an MLP on (q, qd, tau) -> acceleration under-estimated d acc / d tau by
10-85% (in tracking data tau is mostly a function of the state), and its torque dependence,
evaluated at the measured torque, closed a delayed loop: the LQR went unstable with 34 ms of
transport delay and lag (config/reality/laggy-noisy.yaml). inverse-dynamics (Christiano et al. 2016): MLP (k recent observations,
k-1 recent actions, desired next observation) -> action, on an .mcap recording of the robot
(/joint_states and /effort_controller/commands), never on a reality profile.
Both: Adam, a held-out 10% for validation, tqdm progress, checkpoint + metadata under models/.
"""
from __future__ import annotations

import time

import numpy as np

from sim2real import __version__ as VERSION
from sim2real.control.mlp import build_torch, refuse_overwrite, save_checkpoint
from sim2real.errors import ConfigError, Sim2RealError


def fit_mlp(X: np.ndarray, Y: np.ndarray, hidden=(256, 256), epochs: int = 30, batch: int = 512,
            lr: float = 1e-3, seed: int = 0, desc: str = "train"):
    """Normalised regression; returns (torch net, norm dict, validation MSE in normalised units).
    Raises Sim2RealError rather than return a network that did not train (no epochs, too few
    samples, a non-finite loss)."""
    import torch
    from tqdm import tqdm
    if epochs < 1:
        raise ConfigError(f"{desc}: epochs must be >= 1, got {epochs}")
    if len(X) < 20 or len(X) != len(Y):
        raise ConfigError(f"{desc}: {len(X)} samples for {len(Y)} targets; need at least 20 pairs")
    if not (np.all(np.isfinite(X)) and np.all(np.isfinite(Y))):
        raise ConfigError(f"{desc}: the data hold non-finite values")
    torch.manual_seed(seed)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    rng = np.random.default_rng(seed)
    idx = rng.permutation(len(X))
    n_val = max(1, len(X) // 10)
    val, tr = idx[:n_val], idx[n_val:]
    norm = {"in_mean": X[tr].mean(0), "in_std": X[tr].std(0) + 1e-6,
            "out_mean": Y[tr].mean(0), "out_std": Y[tr].std(0) + 1e-6}
    Xn = torch.tensor((X - norm["in_mean"]) / norm["in_std"], dtype=torch.float32)
    Yn = torch.tensor((Y - norm["out_mean"]) / norm["out_std"], dtype=torch.float32)
    net = build_torch(X.shape[1], Y.shape[1], tuple(hidden))
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs)
    tr_t, val_t = torch.tensor(tr), torch.tensor(val)
    bar = tqdm(range(epochs), desc=desc, unit="epoch")
    val_loss = float("nan")
    for _ in bar:
        net.train()
        perm = tr_t[torch.randperm(len(tr_t))]
        for i in range(0, len(perm), batch):
            b = perm[i:i + batch]
            loss = torch.mean((net(Xn[b]) - Yn[b]) ** 2)
            opt.zero_grad()
            loss.backward()
            opt.step()
        sched.step()
        net.eval()
        with torch.no_grad():
            val_loss = float(torch.mean((net(Xn[val_t]) - Yn[val_t]) ** 2))
        bar.set_postfix(train=f"{loss.item():.4f}", val=f"{val_loss:.4f}")
    if not np.isfinite(val_loss):
        raise Sim2RealError(f"{desc}: training diverged (validation MSE {val_loss}); nothing saved")
    return net, norm, val_loss


def _meta(kind: str, robot, n_in: int, n_out: int, hidden, norm, **extra) -> dict:
    return {"kind": kind, "robot": robot.name, "joint_names": list(robot.joint_names), "n_in": n_in,
            "n_out": n_out, "hidden": list(hidden), "norm": norm, "sim2real": VERSION,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S"), **extra}


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
    meta = _meta("dynamics_prior", robot, X.shape[1], robot.n, hidden, norm,
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
    meta = _meta("inverse_dynamics", robot, X.shape[1], robot.n, hidden, norm, history=history,
                 lookahead=lookahead, action=action, inputs="o_t, o_(t-j) - o_t, a_(t-j), o_bar_(t+L) - o_t; o = [q, qd]",
                 outputs=("mean applied joint torque over the lookahead" if action == "effort"
                          else "joint torque command") + " (n), N m", samples=len(X), recording=str(mcap), seed=seed,
                 val_mse_normalised=val)
    return str(save_checkpoint(out, net, meta, overwrite=overwrite)), val
