"""One graph node in its own process: `python -m sim2real.ros.run_node KIND --ros-args ...`.
Also the `sim2real_node` executable the launch files start."""
from __future__ import annotations

import signal
import sys


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    from sim2real.graph import NODE_KINDS
    if not argv or argv[0] not in NODE_KINDS:
        print(f"usage: sim2real_node {{{','.join(NODE_KINDS)}}} [--ros-args ...]", file=sys.stderr)
        return 2
    from sim2real.ros import env
    env.setup()
    import rclpy
    import rclpy.executors
    from rclpy.experimental import EventsExecutor
    from rclpy.task import Future

    from sim2real.errors import Sim2RealError
    from sim2real.ros.compose import node_class
    rclpy.init(args=[sys.argv[0], *argv[1:]])
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        node = node_class(argv[0])()
    except (Sim2RealError, ValueError) as e:
        print(f"sim2real_node {argv[0]}: error: {e}", file=sys.stderr)
        rclpy.shutdown()
        return 2
    ex = EventsExecutor()
    ex.add_node(node)
    try:
        # EventsExecutor.spin() does not wake on a signal; short waits do (KeyboardInterrupt)
        done = Future()
        while rclpy.ok():
            ex.spin_until_future_complete(done, timeout_sec=0.2)
    except (KeyboardInterrupt, rclpy.executors.ExternalShutdownException):
        pass
    finally:
        node.destroy_node()
        if rclpy.ok():
            rclpy.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
