"""`sim2real up --perception learned`: the perception node joins the graph between the driver's
camera and the policy, which then takes its target from perception only (no /sim/target remap).
Skips until graph.py has the `perception` option (see the perception issue's closing note)."""
import json

import numpy as np
import pytest
from geometry_msgs.msg import PointStamped
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy

from sim2real import graph as _graph

from .helpers import graph, spin_sim

pytestmark = [pytest.mark.ros,
              pytest.mark.skipif("perception" not in _graph.OPTIONS, reason="graph.py has no perception option yet")]


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory, jaco):
    from sim2real.perception.train import TrainConfig, train
    out = tmp_path_factory.mktemp("perception") / "perception_dr"
    train(jaco, TrainConfig(scheme="dr", images=16, epochs=1, batch=8, threads=1), out, progress=False)
    # an untrained net's targets fall below the node's default min_confidence (0.3): make this one
    # sure of itself (sigma_per_spread near 0: confidence near 1), so the graph's node publishes
    meta_path = out.with_name(out.name + ".json")
    meta = json.loads(meta_path.read_text())
    meta_path.write_text(json.dumps({**meta, "sigma_per_spread": 1e-6}))
    return str(out) + ".pt"


def test_policy_reads_the_perception_node(tiny_checkpoint):
    from rclpy.node import Node
    decls = _graph.build_graph("jaco", perception="learned", perception_checkpoint=tiny_checkpoint)
    pol = next(d for d in decls if d.name == "policy")
    assert pol.params["target_source"] == "perception" and "/perception/target" not in pol.remaps
    per = next(d for d in decls if d.kind == "perception")
    assert per.params["checkpoint"] == tiny_checkpoint and per.params["image_source"] == "driver"
    with graph(camera=True, targets=1, perception="learned", perception_checkpoint=tiny_checkpoint) as g:
        probe = Node("probe", context=g.context)
        g.executor.add_node(probe)
        got = []
        qos = QoSProfile(depth=10, durability=DurabilityPolicy.TRANSIENT_LOCAL, reliability=ReliabilityPolicy.RELIABLE)
        probe.create_subscription(PointStamped, "/perception/target", got.append, qos)
        spin_sim(g, 1.0)
        assert len(got) >= 5                               # camera rate (15 Hz) x 1 s, give or take
        assert all(m.header.frame_id == "base_link" and np.all(np.isfinite([m.point.x, m.point.y, m.point.z]))
                   for m in got)
        node = g.nodes["perception"]
        assert node.frames_out >= 5 and node.p.min_confidence == pytest.approx(0.3)
        assert node.states and node.pipe.calibrating                 # the driver's joint states, for calibration
        from sim2real.perception.train import input_size
        assert (node.loc.height, node.loc.width) == input_size(node.robot)
