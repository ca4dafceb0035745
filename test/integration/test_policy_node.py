"""The learned policy node in the real graph (lockstep): the shipped checkpoint reaches, garbage
targets are held with a diagnostic, a wrong checkpoint is refused before anything starts."""
import numpy as np
import pytest
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import PointStamped
from rclpy.qos import DurabilityPolicy, QoSProfile

from sim2real import paths
from sim2real.errors import ConfigError
from sim2real.graph import build_graph

from .helpers import graph, spin_sim

pytestmark = pytest.mark.ros

SHIPPED = paths.checkpoint("jaco", "reach_policy_dr")


@pytest.mark.skipif(not SHIPPED.is_file(), reason="no shipped dr policy checkpoint")
def test_learned_policy_reaches_in_the_graph():
    with graph(targets=2, task_seed=3, policy="learned") as g:
        d = g.nodes["driver"]
        assert type(g.nodes["policy"]).__name__ == "LearnedPolicyNode"
        errs = []
        for k in range(2):      # late in each target's window in the driver's sim time (the graph may
            spin_sim(g, 0, until=(k + 1) * d.task.hold_s - 0.5)   # step while it comes up)
            assert np.array_equal(d.sim.target(), d.targets[k]), f"t={d.sim.time:.3f} s: past target {k + 1}'s window"
            errs.append(np.linalg.norm(d.sim.ee_position() - d.sim.target()))
        assert max(errs) < 0.02, errs         # m: the task's success tolerance


@pytest.mark.skipif(not SHIPPED.is_file(), reason="no shipped dr policy checkpoint")
def test_a_strangers_target_is_refused_and_inference_reported():
    from rclpy.node import Node
    with graph(targets=1, policy="learned") as g:
        probe = Node("probe", context=g.context)
        g.executor.add_node(probe)
        diags = []
        probe.create_subscription(DiagnosticArray, "/diagnostics",
                                  lambda m: diags.extend(s for s in m.status if s.name == "sim2real/policy"), 10)
        spin_sim(g, 4.0)           # reach the driver's target first
        d = g.nodes["driver"]
        pub = probe.create_publisher(PointStamped, "/sim/target",
                                     QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL))
        for x in (float("nan"), 0.3):
            bad = PointStamped()
            bad.point.x, bad.point.y, bad.point.z = x, 0.35, 0.45     # NaN, then a far corner
            pub.publish(bad)
            spin_sim(g, 1.5)
        assert np.linalg.norm(d.sim.ee_position() - d.sim.target()) < 0.02    # still on the genuine target
        assert any("inference p50" in s.message and "p99" in s.message for s in diags)


def test_learned_policy_needs_a_fitting_checkpoint(tmp_path):
    with pytest.raises(ConfigError, match="no such policy checkpoint"):
        build_graph("jaco", policy="learned", policy_checkpoint=str(tmp_path / "none.pt"))
    with pytest.raises(ConfigError, match="does not do the stand task"):
        build_graph("go1", policy="learned")
    with pytest.raises(ConfigError, match="applies to a learned policy"):
        build_graph("jaco", policy="planner", policy_checkpoint=str(tmp_path / "x.pt"))


def test_the_node_feeds_the_policy_the_filters_loop_delay(tmp_path):
    """A checkpoint that observes the loop's delay gets the figure the safety filter measures and
    runs with (its /diagnostics loop_delay_ms), as the training environment gives each simulation
    its filter's figure."""
    from sim2real.policy.train import TrainConfig, train
    from sim2real.robots import load_robot
    ckpt = tmp_path / "tiny"
    train(load_robot("jaco"), TrainConfig(scheme="dr", envs=2, iterations=1, minibatch=200, epochs=1, threads=1),
          ckpt, progress=False)
    prof = tmp_path / "delay.yaml"
    prof.write_text("schema: sim2real/reality/v1\nname: delay\nrobot: jaco\n"
                    "dynamics:\n  latency: {command: 0.01, state: 0.01}\n")
    with graph(targets=1, policy="learned", policy_checkpoint=str(ckpt.with_suffix(".pt")), backend="twin",
               reality=str(prof)) as g:
        pol, flt = g.nodes["policy"], g.nodes["safety_filter"]
        assert pol.policy.observes_delay and pol.policy.loop_delay_s == 0.0
        spin_sim(g, 3.5)
        assert flt.filter.loop_delay_s > 0.015              # 10 ms each way: ~24 ms measured
        assert pol.delay_reports >= 1
        # the figure travels on the filter's 1 Hz /diagnostics: when the filter moved it since the
        # last report (a loaded machine's loop), the policy has it at the next one
        for _ in range(15):
            if pol.policy.loop_delay_s == pytest.approx(flt.filter.loop_delay_s, abs=1e-4):
                break
            spin_sim(g, 0.2)
        assert pol.policy.loop_delay_s == pytest.approx(flt.filter.loop_delay_s, abs=1e-4)
