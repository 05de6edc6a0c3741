"""Ctrl-C during `tcn convert --processes`: one line, exit 130, nothing half-written, resumable."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from timecontrast.data.convert import convert_videos
from timecontrast.data.records import SequenceRecord
from timecontrast.io.video import write_video

pytestmark = pytest.mark.skipif(not hasattr(os, "killpg"), reason="needs POSIX process groups")

# Imported by every Python process of the run (the CLI and its spawned workers): each JPEG
# takes 50 ms more, so the conversion is still running when Ctrl-C arrives.
SLOW_ENCODE = textwrap.dedent(
    """
    import os, time
    if os.environ.get("TCN_TEST_SLOW_ENCODE"):
        import timecontrast.data.convert as convert

        real = convert.encode_jpeg

        def slow(*args, **kwargs):
            time.sleep(0.05)
            return real(*args, **kwargs)

        convert.encode_jpeg = slow
    """
)


def test_ctrl_c_during_process_conversion(tmp_path):
    src, out, hooks = tmp_path / "in", tmp_path / "out", tmp_path / "hooks"
    rng = np.random.default_rng(0)
    for name, length in (("a", 4), ("b", 40)):
        for view in range(2):
            write_video(src / f"{name}_view{view}.mp4", rng.integers(0, 255, (length, 24, 32, 3), np.uint8), fps=10)
    hooks.mkdir()
    (hooks / "sitecustomize.py").write_text(SLOW_ENCODE)
    env = {
        **os.environ,
        "TCN_TEST_SLOW_ENCODE": "1",
        "PYTHONPATH": os.pathsep.join([str(hooks), *filter(None, [os.environ.get("PYTHONPATH")])]),
    }
    command = [sys.executable, "-m", "timecontrast.cli.main", "convert", "--input_dir", str(src)]
    # Three workers for four videos: once a is written, two encode b and one waits for work.
    command += ["--output_dir", str(out), "--processes", "--workers", "3"]
    # A session of its own, so that the signal reaches the whole process group as a
    # terminal's Ctrl-C does: the CLI and its workers.
    # SIGINT back to its default in the child: a test run started as a background job of a
    # non-interactive shell ignores it, and the child would inherit that.
    proc = subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    lines = []
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line:
                break
            lines.append(line)
            if "a: 4 frames x 2 views -> 1 file(s)" in line:
                break
        os.killpg(proc.pid, signal.SIGINT)
        _, rest = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    stderr = "".join(lines) + rest
    assert "a: 4 frames x 2 views -> 1 file(s)" in lines[-1], stderr
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr, stderr
    assert stderr.strip().splitlines()[-1] == "tcn convert: interrupted"
    assert [p.name for p in out.rglob(".*")] == []  # no temporary files
    assert sorted(p.name for p in out.glob("*.tfrecord")) == ["a.tfrecord"]  # b was cut short
    assert SequenceRecord(out / "a.tfrecord").length == 4

    resumed = convert_videos(src, out, progress=False, workers=2)
    assert resumed.ok and resumed.skipped == [out / "a.tfrecord"] and resumed.written == [out / "b.tfrecord"]
