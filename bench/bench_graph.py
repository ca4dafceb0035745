#!/usr/bin/env python3
"""Foundation benchmark; same as `sim2real bench graph`. Prints figures, asserts nothing."""
import argparse
import sys

from sim2real.ros.bench_graph import main

if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--realtime-seconds", type=float, default=10.0)
    sys.exit(main(ap.parse_args()))
