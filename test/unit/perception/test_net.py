"""The network's small contracts: confidence, the default checkpoint, the keypoint names, the
layout's shapes and sizes, and the soft-argmax's pixel convention (the renderer's labels)."""
import numpy as np
import pytest

from sim2real import paths
from sim2real.errors import ConfigError
from sim2real.perception.net import DEFAULT_SCHEMES, OUTPUTS, build_net, confidence, default_checkpoint, keypoint_names
from sim2real.perception.geometry import TABLE_CORNERS


def test_confidence_is_half_at_the_tolerance_and_falls():
    c = confidence([0.0, 0.02, 0.2], 0.02)
    assert c[0] == 1.0 and c[1] == 0.5 and c[2] < 0.01


def test_default_checkpoint_prefers_the_adapted_scheme():
    p = default_checkpoint("no-such-robot")
    assert p == paths.checkpoint("no-such-robot", f"perception_{DEFAULT_SCHEMES[0]}")


def test_keypoint_names_are_target_foot_then_the_cameras_landmarks(jaco):
    names = keypoint_names(jaco)
    assert names[:2] == ["target", "stand_foot"] and names[2:] == [*TABLE_CORNERS, *jaco.camera.landmarks]
    assert len(jaco.camera.landmarks) >= 3                 # enough to calibrate the camera's pose on
    assert OUTPUTS == ("keypoints", "spread")


def test_untrained_outputs_are_keypoints_in_the_image(jaco):
    import torch
    h, w = jaco.camera.height, jaco.camera.width
    k = len(keypoint_names(jaco))
    net = build_net(h, w, k).eval()
    with torch.no_grad():
        kp, spread = net(torch.rand(4, 3, h, w))
    assert kp.shape == (4, k, 2) and spread.shape == (4, k)
    kp = kp.numpy()
    assert np.all(kp[..., 0] >= 0) and np.all(kp[..., 0] <= w) and np.all(kp[..., 1] >= 0) and np.all(kp[..., 1] <= h)
    assert torch.all(spread > 0)
    r, e, logits = net.represent_all(torch.rand(2, 3, h, w))
    assert r.shape == (2, net.repr_dim) and e.shape[2:] == (h // 2, w // 2) and logits.shape == (2, k, (h // 2) * (w // 2))
    thin = build_net(h, w, k, 0.5)
    assert sum(p.numel() for p in thin.parameters()) < 0.5 * sum(p.numel() for p in net.parameters())
    other = build_net(64, 96, 3).eval()                    # any multiple of 16, any keypoint count
    with torch.no_grad():
        kp, spread = other(torch.rand(1, 3, 64, 96))
    assert kp.shape == (1, 3, 2) and spread.shape == (1, 3)


@pytest.mark.parametrize("h,w", [(100, 128), (128, 120)])
def test_sizes_not_multiples_of_16_are_refused(h, w):
    with pytest.raises(ConfigError, match="multiples of 16"):
        build_net(h, w, 6)


def test_soft_argmax_is_in_image_pixels(jaco):
    """Heatmap cell (i, j) covers pixels [2j, 2j + 2) x [2i, 2i + 2): a peaked heatmap there is the
    point (2j + 1, 2i + 1) with a spread near 0; a flat one is the image centre, spread wide."""
    import torch
    h, w = jaco.camera.height, jaco.camera.width
    net = build_net(h, w, 3)
    hh, hw = h // 2, w // 2
    cells = [(0, 0), (hh - 1, hw - 1), (10, 37)]
    logits = torch.zeros(1, 3, hh * hw)
    for k, (i, j) in enumerate(cells):
        logits[0, k, i * hw + j] = 60.0
    kp, spread, p = net.keypoints(logits)
    assert np.allclose(kp[0].numpy(), [[2 * j + 1, 2 * i + 1] for i, j in cells], atol=1e-3)
    assert torch.all(spread < 0.01) and torch.allclose(p.sum(-1), torch.ones(1, 3))
    # half the mass on each of two neighbouring cells: half way, spread one pixel (sub-pixel)
    two = torch.full((1, 1, hh * hw), -60.0)
    two[0, 0, 10 * hw + 20] = two[0, 0, 10 * hw + 21] = 0.0
    kp, spread, _ = net.keypoints(two)
    assert np.allclose(kp[0, 0].numpy(), [42.0, 21.0], atol=1e-3) and spread.item() == pytest.approx(1.0, abs=1e-3)
    kp, spread, _ = net.keypoints(torch.zeros(1, 1, hh * hw))
    assert np.allclose(kp[0, 0].numpy(), [w / 2, h / 2], atol=1e-3) and spread.item() > min(h, w) / 4


def test_the_representation_confusion_acts_on_is_what_the_heatmaps_read(jaco):
    """Every weight behind the representation (domain confusion, weak pairs) is also behind the
    heatmaps: no layer of its own that could satisfy the confusion by collapsing to a constant
    (which is what a separate projection head did: classifier at chance, pair loss 0, no effect)."""
    import torch
    w, h = jaco.camera.width, jaco.camera.height
    net = build_net(h, w, len(keypoint_names(jaco)), 0.25)
    x = torch.rand(2, 3, h, w)
    r, _, logits = net.represent_all(x)
    behind_r = torch.autograd.grad(r.sum(), list(net.parameters()), allow_unused=True, retain_graph=True)
    behind_heat = torch.autograd.grad(logits.sum(), list(net.parameters()), allow_unused=True)
    names = [n for n, _ in net.named_parameters()]
    only_r = [n for n, gr, gh in zip(names, behind_r, behind_heat)
              if gr is not None and gr.abs().sum() > 0 and (gh is None or gh.abs().sum() == 0)]
    assert not only_r, only_r
