"""No usable OpenGL: a DependencyError that says what was tried and what to install."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from timecontrast.cli.main import main
from timecontrast.errors import DependencyError
from timecontrast.sim import WorldSimulator, gl


@pytest.fixture
def broken_gl(monkeypatch):
    """Every context creation fails, as on a machine without libEGL."""
    mujoco = gl.import_mujoco()

    def no_context(*args, **kwargs):
        raise RuntimeError("eglInitialize failed")

    monkeypatch.setattr(mujoco, "GLContext", no_context)
    monkeypatch.setenv("MUJOCO_GL", "egl")
    monkeypatch.delenv("DISPLAY", raising=False)
    probed = []

    def probe(backend, timeout_s=60.0):
        probed.append(backend)
        return f"cannot load lib{backend}"

    monkeypatch.setattr(gl, "probe_backend", probe)
    return probed


def test_no_gl_names_what_was_tried_and_how_to_install(broken_gl):
    with pytest.raises(DependencyError) as info:
        WorldSimulator("cartpole", 16, 20.0)
    message = str(info.value)
    assert "MUJOCO_GL=egl: RuntimeError: eglInitialize failed" in message
    assert "MUJOCO_GL=osmesa: cannot load libosmesa" in message
    assert "apt-get install libegl1" in message and "apt-get install libosmesa6" in message
    assert broken_gl == ["osmesa"]  # the failing backend itself is not probed again


def test_no_gl_points_to_a_backend_that_works(broken_gl, monkeypatch):
    monkeypatch.setattr(gl, "probe_backend", lambda backend, timeout_s=60.0: None)
    with pytest.raises(DependencyError, match="MUJOCO_GL=osmesa works on this machine"):
        WorldSimulator("cartpole", 16, 20.0)


def test_cli_prints_the_error_and_exits_2(broken_gl, tmp_path, capsys):
    code = main(["synth", "--sequences", "1", "--length", "2", "--size", "16", "--output_dir", str(tmp_path)])
    assert code == 2
    assert "No usable OpenGL" in capsys.readouterr().err
    assert not (tmp_path / "dataset.json").exists()


def _run(code: str, **env_changes: str | None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("MUJOCO_GL", "PYOPENGL_PLATFORM")}
    env.update({k: v for k, v in env_changes.items() if v is not None})
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)


def test_egl_is_the_default_when_mujoco_gl_is_unset():
    proc = _run(
        "import os; from timecontrast.sim.gl import import_mujoco; import_mujoco(); print(os.environ['MUJOCO_GL'])"
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "egl"


def test_invalid_mujoco_gl_is_a_dependency_error_not_a_crash():
    """A real failure, not a faked one: MuJoCo itself rejects the value at import."""
    proc = _run(
        "from timecontrast.cli.main import main; raise SystemExit(main(['synth', '--output_dir', '/nonexistent/x']))",
        MUJOCO_GL="nonsense",
    )
    assert proc.returncode == 2, proc.stderr
    assert "MUJOCO_GL='nonsense'" in proc.stderr and "egl, osmesa" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert "nonsense" in gl.probe_backend("nonsense")
