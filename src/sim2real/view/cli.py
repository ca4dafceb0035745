"""`sim2real view`: options and entry point. cli.py wires it with
`view_cli.add_parser(sub)`; the parsed namespace's `func` is `run`."""
from __future__ import annotations

import argparse
import sys

from sim2real.errors import Sim2RealError


def _seconds(text):
    from sim2real.graph import SECONDS
    try:
        return SECONDS(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _port(text):
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 0 <= v <= 65535:
        raise argparse.ArgumentTypeError(f"must be in 0..65535, got {text}")
    return v


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--robot", default="jaco", help="registered robot name (default: jaco)")
    p.add_argument("--port", type=_port, default=8080,
                   help="HTTP port (default: 8080; the next free one if taken; 0 = any free port)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to serve on (default: 127.0.0.1, this machine only; 0.0.0.0 = every interface)")
    p.add_argument("--duration", type=_seconds, default=None, help="wall seconds (> 0; default: until Ctrl-C)")


def add_parser(subparsers) -> argparse.ArgumentParser:
    """The `view` subcommand on sim2real's subparsers."""
    p = subparsers.add_parser("view", help="watch a running graph in a browser (robot, camera, targets, plots)",
                              description="Serve a web viewer of a running graph: the robot moving with "
                                          "/joint_states, /camera/image_raw, /sim/target and /perception/target, "
                                          "tracking error and torques. Start the graph first (sim2real up).")
    add_arguments(p)
    p.set_defaults(func=run)
    return p


def run(args) -> int:
    from sim2real.ros.nodes.viewer import serve
    return serve(robot=args.robot, host=args.host, port=args.port, duration=args.duration)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="sim2real view")
    add_arguments(p)
    a = p.parse_args(argv)
    try:
        from sim2real.ros.signals import StopSignals
        with StopSignals():
            return run(a)
    except Sim2RealError as e:
        print(f"sim2real: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
