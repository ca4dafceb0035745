"""The network's small contracts: confidence, the default checkpoint, the output scaling."""
import numpy as np

from sim2real import paths
from sim2real.perception.net import DEFAULT_SCHEMES, build_net, confidence, default_checkpoint


def test_confidence_is_half_at_the_tolerance_and_falls():
    c = confidence([0.0, 0.02, 0.2], 0.02)
    assert c[0] == 1.0 and c[1] == 0.5 and c[2] < 0.01


def test_default_checkpoint_prefers_the_adapted_scheme():
    p = default_checkpoint("no-such-robot")
    assert p == paths.checkpoint("no-such-robot", f"perception_{DEFAULT_SCHEMES[0]}")


def test_untrained_outputs_stay_in_the_workspace_scale():
    import torch
    lo, hi = [0.3, -0.35, 0.1], [0.6, 0.35, 0.45]
    net = build_net(96, 96, lo, hi).eval()
    with torch.no_grad():
        t, s = net(torch.rand(4, 3, 96, 96))
    assert t.shape == (4, 3) and s.shape == (4, 1) and torch.all(s > 0)
    assert np.all(np.abs(t.numpy() - (np.array(lo) + np.array(hi)) / 2) < 0.5)
