"""QoS for the control loop: keep only the newest message. A queue of old joint states or
commands behind a slow callback is pure added latency, and latency is what destabilises a
500 Hz loop; in lockstep there is never more than one in flight, so nothing is lost there."""
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy

LATEST = QoSProfile(depth=1, history=HistoryPolicy.KEEP_LAST, reliability=ReliabilityPolicy.RELIABLE)
