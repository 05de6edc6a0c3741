"""Two-process DDP with Gloo on 127.0.0.1: identical parameters on every rank, rank 0 writes."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap

import pytest
import torch

from timecontrast.models import list_checkpoints, load_checkpoint
from timecontrast.training.summaries import read_metrics

from .tiny import STRATEGY_OVERRIDES, tiny_overrides

WORKER = textwrap.dedent(
    """
    import sys, torch
    torch.set_num_threads(1)
    from timecontrast.config import load_config
    from timecontrast.training import train
    logdir, out, *overrides = sys.argv[1:]
    result = train(load_config(None, None, overrides), logdir, device="cpu")
    torch.save({k: v.detach() for k, v in result.model.state_dict().items()}, out)
    """
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow  # two fresh Python processes importing torch: > 10 s on a small machine
def test_two_process_ddp_keeps_parameters_identical(toy_dataset, tmp_path):
    overrides = [*tiny_overrides(toy_dataset), *STRATEGY_OVERRIDES["mvtcn"], "learning.max_step=3",
                 "small_conv.dropout.keep_fc=0.7"]  # fmt: skip
    port = free_port()
    procs = []
    for rank in range(2):
        env = {**os.environ, "WORLD_SIZE": "2", "RANK": str(rank), "LOCAL_RANK": str(rank),
               "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "OMP_NUM_THREADS": "1"}  # fmt: skip
        cmd = [sys.executable, "-c", WORKER, str(tmp_path / "run"), str(tmp_path / f"rank{rank}.pt"), *overrides]
        procs.append(subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    for proc in procs:
        output, _ = proc.communicate(timeout=300)
        assert proc.returncode == 0, output
    rank0, rank1 = (torch.load(tmp_path / f"rank{r}.pt") for r in range(2))
    assert rank0.keys() == rank1.keys()
    for key in rank0:
        assert torch.equal(rank0[key], rank1[key]), key
    # Rank 0 alone wrote the logs and checkpoints; the saved weights are the unwrapped model's.
    assert [r["step"] for r in read_metrics(tmp_path / "run")] == [1, 2, 3]
    assert [s for s, _ in list_checkpoints(tmp_path / "run")] == [2, 3]
    saved = load_checkpoint(tmp_path / "run" / "checkpoints" / "ckpt-000000003.pt")["model"]
    assert saved.keys() == rank0.keys() and all(torch.equal(saved[k], rank0[k]) for k in saved)
