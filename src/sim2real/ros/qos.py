"""QoS profiles, one place.

LATEST for the control loop: keep only the newest message. A queue of old joint states or
commands behind a slow callback is pure added latency, and latency is what destabilises a
500 Hz loop; in lockstep there is never more than one in flight, so nothing is lost there.

LATCHED for on-change topics a late joiner must still get (/robot_description, /sim/target).

LOCK_QOS: /teleop/lock is obeyed from any publisher: `ros2 topic pub` (reliable, volatile),
latched teleop nodes (transient local) and best-effort ones. A transient-local subscription is
incompatible with volatile publishers and a reliable one with best-effort publishers, so a lock
is subscribed twice: transient local + reliable (the latched lock of a publisher that came
first) and volatile + best effort (every publisher).
"""
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

LATEST = QoSProfile(depth=1, history=HistoryPolicy.KEEP_LAST, reliability=ReliabilityPolicy.RELIABLE)
LATCHED = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL, reliability=ReliabilityPolicy.RELIABLE)
LOCK_QOS = (
    QoSProfile(depth=10, durability=DurabilityPolicy.TRANSIENT_LOCAL, reliability=ReliabilityPolicy.RELIABLE),
    QoSProfile(depth=10, durability=DurabilityPolicy.VOLATILE, reliability=ReliabilityPolicy.BEST_EFFORT),
)
