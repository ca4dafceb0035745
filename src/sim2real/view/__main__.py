"""`python -m sim2real.view ...`: the viewer without the sim2real dispatcher (same options)."""
import sys

from sim2real.view.cli import main

sys.exit(main())
