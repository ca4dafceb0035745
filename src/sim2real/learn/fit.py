"""The fitting loop: normalised regression of Y on X with Adam, a held-out 10% for validation,
cosine learning-rate decay and a tqdm progress bar."""
from __future__ import annotations

import numpy as np

from sim2real.errors import ConfigError, Sim2RealError
from sim2real.learn.networks import torch_mlp
from sim2real.learn.normalize import Standardizer, norm_dict


def fit_mlp(X: np.ndarray, Y: np.ndarray, hidden=(256, 256), epochs: int = 30, batch: int = 512,
            lr: float = 1e-3, seed: int = 0, desc: str = "train"):
    """X (N, n_in), Y (N, n_out) -> (torch net, norm dict, validation MSE in normalised units).
    Raises rather than return a network that did not train (no epochs, too few samples,
    non-finite data or loss)."""
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
    x_norm, y_norm = Standardizer.fit(X[tr]), Standardizer.fit(Y[tr])
    Xn = torch.tensor(x_norm(X), dtype=torch.float32)
    Yn = torch.tensor(y_norm(Y), dtype=torch.float32)
    net = torch_mlp(X.shape[1], Y.shape[1], tuple(hidden))
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
    return net, norm_dict(x_norm, y_norm), val_loss
