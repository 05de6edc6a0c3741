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
