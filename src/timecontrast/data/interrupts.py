"""Ctrl-C and worker processes: the main process handles it, the workers stay quiet.

A spawned worker imports our modules (torch, MuJoCo) for seconds before its initializer
runs; a Ctrl-C meanwhile would print its ``KeyboardInterrupt`` traceback. So the main
process blocks SIGINT while it starts workers (a blocked signal stays blocked in the new
process; CPython's resource tracker starts the same way), and each worker ignores SIGINT
and unblocks it first thing. A Ctrl-C during the start is delivered to the main process
afterwards.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def sigint_blocked() -> Iterator[None]:
    """Block SIGINT in this thread for the block (processes started meanwhile inherit it)."""
    if not hasattr(signal, "pthread_sigmask") or threading.current_thread() is not threading.main_thread():
        yield  # only the main thread handles SIGINT
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def ignore_sigint_in_worker() -> None:
    """First thing in a worker: Ctrl-C is the main process's to handle."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


class DeferredInterrupt:
    """Ctrl-C noted by a handler and raised as ``KeyboardInterrupt`` only where :meth:`check` is called.

    Python raises ``KeyboardInterrupt`` between any two bytecodes, even between a lock's
    acquire and the ``try`` that releases it (CPython bpo-29988): ``concurrent.futures.wait``
    interrupted while it takes its futures' locks leaves them held, the executor's thread then
    waits for them forever and so does ``shutdown``. A loop that holds such locks installs this
    handler and calls :meth:`check` where an interrupt is safe. A second Ctrl-C raises at once
    (the default behaviour), for a loop stuck where it does not check.
    """

    def __init__(self) -> None:
        self.received = False
        self._old: object = None
        self._installed = False

    def _handle(self, signum: int, frame: object) -> None:
        del frame
        if self.received:  # the second Ctrl-C: do not wait for a check
            signal.signal(signal.SIGINT, signal.default_int_handler)
            raise KeyboardInterrupt
        self.received = True

    def check(self) -> None:
        """Raise ``KeyboardInterrupt`` if Ctrl-C came since the handler was installed."""
        if self.received:
            raise KeyboardInterrupt

    def __enter__(self) -> DeferredInterrupt:
        # Only the main thread receives signals; elsewhere, and where SIGINT is ignored (a
        # background job), nothing changes and check() never raises.
        if threading.current_thread() is threading.main_thread():
            old = signal.getsignal(signal.SIGINT)
            if old is signal.default_int_handler:
                self._old = signal.signal(signal.SIGINT, self._handle)
                self._installed = True
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if self._installed:
            signal.signal(signal.SIGINT, self._old)  # type: ignore[arg-type]
            self._installed = False
        if exc_type is None:
            self.check()  # a Ctrl-C after the last check is not lost
