"""One graph node in its own process: `python -m sim2real.ros.run_node KIND --ros-args ...`.
Also the `sim2real_node` executable the launch files start.

SIGINT/SIGTERM end it cleanly (exit 0, the node destroyed: a recorder writes its footer); a node
that finishes its run (the driver after `duration_s`) ends the process with 0 too.
"""
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
    from rclpy.experimental import EventsExecutor
    from rclpy.signals import SignalHandlerOptions
    from rclpy.task import Future

    from sim2real.errors import Sim2RealError
    from sim2real.ros.compose import node_class
    from sim2real.ros.signals import StopSignals
    with StopSignals() as stop:
        # a supervisor starts us with both blocked (compose._node_process): one sent meanwhile lands now
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})
        rclpy.init(args=[sys.argv[0], *argv[1:]], signal_handler_options=SignalHandlerOptions.NO)
        try:
            node = node_class(argv[0])()
        except (Sim2RealError, ValueError) as e:
            print(f"sim2real_node {argv[0]}: error: {e}", file=sys.stderr)
            rclpy.shutdown()
            return 2
        ex = EventsExecutor()
        ex.add_node(node)
        done = Future()
        if hasattr(node, "on_done"):
            node.on_done = lambda: done.set_result(True)
        try:
            while rclpy.ok() and not done.done() and not stop.is_set():
                ex.spin_until_future_complete(done, timeout_sec=0.1)
        finally:
            ex.remove_node(node)
            node.destroy_node()
            from sim2real.ros import sourced
            sourced.stop(node.context)
            if rclpy.ok():
                rclpy.shutdown()
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:   # a second interrupt while shutting down
        sys.exit(130)
