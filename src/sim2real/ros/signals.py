"""Clean stops: SIGINT and SIGTERM set an event instead of raising KeyboardInterrupt inside
whatever code runs at that moment (a subscription callback, an MCAP write, the executor's C++
loop), which printed "[FATAL] Exception in 'subscriptions' callback" and tore recordings. The
spin loops poll the event between short waits and close every node in order. A second SIGINT
raises KeyboardInterrupt, for a shutdown that hangs.
"""
from __future__ import annotations

import signal
import threading


class StopSignals:
    def __init__(self):
        self.event = threading.Event()
        self.signum: int | None = None
        self._previous: dict[int, object] = {}

    def _handle(self, signum, _frame) -> None:
        if self.event.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.signum = signum
        self.event.set()

    def __enter__(self) -> "StopSignals":
        if threading.current_thread() is threading.main_thread():
            for s in (signal.SIGINT, signal.SIGTERM):
                self._previous[s] = signal.signal(s, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for s, h in self._previous.items():
            signal.signal(s, h)
        self._previous.clear()

    def is_set(self) -> bool:
        return self.event.is_set()
