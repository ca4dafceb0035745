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


def test_rays_pass_through_the_points_the_renderer_projects():
    """The decoder's ray through a detector coordinate is the renderer's projection inverted
    (render.project, the label's uv): the geometry both sides of the network agree on."""
    import mujoco
    import torch

    from sim2real.perception.net import camera_geometry
    from sim2real.perception.render import project
    from sim2real.robots import load_robot
    from sim2real.sim.model_builder import _look_at_quat
    cam = load_robot("jaco").camera
    net = build_net(cam.height, cam.width, [0.3, -0.35, 0.1], [0.6, 0.35, 0.45], 0.25, camera_geometry(cam))
    R = np.zeros(9)
    mujoco.mju_quat2Mat(R, _look_at_quat(cam.pos, cam.lookat))
    pts = np.array([[0.45, 0.0, 0.3], [0.3, -0.35, 0.1], [0.6, 0.35, 0.45]])
    uv = project(np.concatenate([cam.pos, R, [cam.fovy_deg]]), pts, cam.width, cam.height)
    gw, gh = cam.width // 4, cam.height // 4
    n = np.stack([2 * (uv[:, 0] - 1.5) / 4 / (gw - 1) - 1, 2 * (uv[:, 1] - 1.5) / 4 / (gh - 1) - 1], 1)
    d = net.ray(torch.tensor(n, dtype=torch.float32)).numpy()
    v = pts - np.asarray(cam.pos)
    off_ray = np.linalg.norm(v - (v * d).sum(1, keepdims=True) * d, axis=1)
    assert np.all(off_ray < 1e-4), off_ray
    with torch.no_grad():          # untrained: on the ray through the image centre, near the workspace
        t, s = net.eval()(torch.rand(2, 3, cam.height, cam.width))
    assert t.shape == (2, 3) and s.shape == (2, 1) and np.all(np.abs(t.numpy() - [0.45, 0.0, 0.27]) < 0.5)
