"""DeferredInterrupt: Ctrl-C raised only where the loop checks, never inside a lock."""

from __future__ import annotations

import os
import signal
import threading

import pytest

from timecontrast.data.interrupts import DeferredInterrupt

pytestmark = pytest.mark.skipif(not hasattr(signal, "pthread_kill"), reason="needs POSIX signals")


@pytest.fixture(autouse=True)
def python_handles_ctrl_c():
    """Python's own SIGINT handler, also where the test run was started with SIGINT ignored
    (a background job of a non-interactive shell)."""
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, old)


def _ctrl_c() -> None:
    signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)  # delivered before this returns


def test_ctrl_c_waits_for_the_check_and_leaves_no_lock_held():
    lock = threading.Lock()
    with pytest.raises(KeyboardInterrupt), DeferredInterrupt() as interrupt:
        with lock:
            _ctrl_c()
            for _ in range(1000):  # bytecodes where Python would raise it otherwise
                pass
        assert not lock.locked() and interrupt.received
        interrupt.check()
        pytest.fail("check() did not raise")
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_ctrl_c_after_the_last_check_is_raised_on_leaving():
    with pytest.raises(KeyboardInterrupt), DeferredInterrupt():
        _ctrl_c()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_second_ctrl_c_raises_at_once():
    reached = []
    with pytest.raises(KeyboardInterrupt), DeferredInterrupt():
        _ctrl_c()
        reached.append(1)
        _ctrl_c()
        for _ in range(1000):
            pass
        reached.append(2)
    assert reached == [1]


def test_no_change_where_sigint_is_ignored_or_off_the_main_thread():
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with DeferredInterrupt() as interrupt:
            assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
            os.kill(os.getpid(), signal.SIGINT)
            interrupt.check()  # ignored: nothing to raise
    finally:
        signal.signal(signal.SIGINT, old)
    seen = []

    def worker():
        with DeferredInterrupt() as interrupt:
            seen.append(signal.getsignal(signal.SIGINT) is signal.default_int_handler and not interrupt.received)

    t = threading.Thread(target=worker)
    t.start()
    t.join()
    assert seen == [True]
