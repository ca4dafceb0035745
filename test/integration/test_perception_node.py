"""The perception node on ROS: images from the driver -> /perception/target (PointStamped in
base_link, the image's stamp) and /perception/confidence; malformed images (encoding, size, data
length, empty) and a stranger's images give a diagnostic and no output, never a crash."""
import time

import numpy as np
import pytest
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import PointStamped
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image
from std_msgs.msg import Float32

from sim2real.ros import convert

from .helpers import _domains

pytestmark = pytest.mark.ros


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory, jaco):
    from sim2real.perception.train import TrainConfig, train
    out = tmp_path_factory.mktemp("perception") / "perception_dr"
    train(jaco, TrainConfig(scheme="dr", images=16, epochs=1, batch=8, threads=1), out, progress=False)
    return str(out) + ".pt"


def _spin(comp, cond, limit=10.0):
    t0 = time.monotonic()
    while not cond() and time.monotonic() - t0 < limit:
        comp.executor.spin_once(timeout_sec=0.05)
    return cond()


def test_images_in_targets_out_and_malformed_frames_diagnosed(tiny_checkpoint):
    from rclpy.node import Node
    from rclpy.parameter import Parameter

    from sim2real.ros.compose import Composition
    from sim2real.ros.nodes.perception import PerceptionNode
    with Composition([], domain_id=next(_domains) % 232) as comp:
        node = PerceptionNode(parameter_overrides=[Parameter("checkpoint", value=tiny_checkpoint)],
                              context=comp.context)
        comp.nodes["perception"] = node
        comp.executor.add_node(node)
        driver = Node("driver", context=comp.context)        # the pinned image source
        stranger = Node("stranger", context=comp.context)
        listen = Node("listen", context=comp.context)
        for n in (driver, stranger, listen):
            comp.nodes[n.get_name()] = n
            comp.executor.add_node(n)
        pub = driver.create_publisher(Image, "/camera/image_raw", 2)
        bad_pub = stranger.create_publisher(Image, "/camera/image_raw", 2)
        targets, confs, diags = [], [], []
        latched = QoSProfile(depth=10, durability=DurabilityPolicy.TRANSIENT_LOCAL, reliability=ReliabilityPolicy.RELIABLE)
        listen.create_subscription(PointStamped, "/perception/target", targets.append, latched)
        listen.create_subscription(Float32, "/perception/confidence", confs.append, 10)
        listen.create_subscription(DiagnosticArray, "/diagnostics",
                                   lambda m: diags.extend(s for s in m.status if s.name == "sim2real/perception"), 10)
        assert _spin(comp, lambda: pub.get_subscription_count() > 0 and node.count_publishers("/camera/image_raw") >= 2)
        rgb = np.random.default_rng(0).integers(0, 256, (96, 96, 3), dtype=np.uint8)
        pub.publish(convert.image(12.5, "camera_optical_frame", rgb))
        assert _spin(comp, lambda: len(targets) >= 1 and len(confs) >= 1)
        t = targets[0]
        assert t.header.frame_id == "base_link" and convert.from_time(t.header.stamp) == pytest.approx(12.5)
        assert np.all(np.isfinite(convert.from_point(t))) and 0 < confs[0].data <= 1
        # malformed frames: each gets a diagnostic, none an output, the node lives on
        bad = []
        m = convert.image(13.0, "c", rgb)
        m.encoding = "yuv422"
        bad.append(m)
        m = convert.image(13.1, "c", rgb)
        m.data = bytes(100)
        bad.append(m)
        m = Image()                                          # empty
        bad.append(m)
        bad.append(convert.image(13.3, "c", np.zeros((96, 128, 3), np.uint8)))    # another aspect ratio
        for m in bad:
            pub.publish(m)
            _spin(comp, lambda: False, 0.3)
        bad_pub.publish(convert.image(14.0, "c", rgb))        # a stranger's well-formed image
        _spin(comp, lambda: False, 0.3)
        assert len(targets) == 1
        needles = ("encoding 'yuv422'", "needs", "empty image", "aspect ratio", "refused /camera/image_raw from",
                   "inference p50")
        _spin(comp, lambda: all(n in " ".join(s.message for s in diags) for n in needles), 4.0)
        text = " ".join(s.message for s in diags)
        for needle in needles:
            assert needle in text, (needle, [s.message for s in diags])
        pub.publish(convert.image(15.0, "camera_optical_frame", rgb))   # and it still works
        assert _spin(comp, lambda: len(targets) >= 2)
        assert convert.from_time(targets[-1].header.stamp) == pytest.approx(15.0)
