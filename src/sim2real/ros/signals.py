"""Clean stops: SIGINT and SIGTERM set an event instead of raising KeyboardInterrupt inside
whatever code runs at that moment (a subscription callback, an MCAP write, the executor's C++
loop), which printed "[FATAL] Exception in 'subscriptions' callback" and tore recordings. The
spin loops poll the event between short waits and close every node in order. A second SIGINT
(0.3 s or more after the first: `timeout` and a process group deliver one Ctrl-C twice) raises
KeyboardInterrupt, for a shutdown that hangs.

One event per process: a signal that arrives while a command is still starting (building nodes)
is seen by the spin loop that comes after. Nesting `with StopSignals()` is allowed.
"""
from __future__ import annotations

import signal
import threading
import time

_EVENT = threading.Event()
_SET_AT = [0.0]          # monotonic s of the first stop signal
SAME_STOP_S = 0.3        # a second SIGINT sooner than this is the first one again, not a second Ctrl-C


class StopSignals:
    _depth = 0
    _previous: dict[int, object] = {}

    def __init__(self):
        self.event = _EVENT

    @staticmethod
    def _handle(signum, _frame) -> None:
        now = time.monotonic()
        if _EVENT.is_set() and signum == signal.SIGINT:
            if now - _SET_AT[0] < SAME_STOP_S:
                return       # the same Ctrl-C delivered twice (to the group and forwarded by a wrapper such as timeout)
            raise KeyboardInterrupt
        _SET_AT[0] = now
        _EVENT.set()

    def __enter__(self) -> "StopSignals":
        if threading.current_thread() is threading.main_thread():
            if StopSignals._depth == 0:
                StopSignals._previous = {s: signal.signal(s, self._handle) for s in (signal.SIGINT, signal.SIGTERM)}
            StopSignals._depth += 1
        return self

    def __exit__(self, *exc) -> None:
        if threading.current_thread() is threading.main_thread() and StopSignals._depth:
            StopSignals._depth -= 1
            if StopSignals._depth == 0:
                for s, h in StopSignals._previous.items():
                    signal.signal(s, h)

    def is_set(self) -> bool:
        return _EVENT.is_set()
