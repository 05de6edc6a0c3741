"""resolve_device: one device choice for training, tcn eval and the Embedder."""

from __future__ import annotations

import logging

import pytest
import torch

from timecontrast.devices import resolve_device
from timecontrast.errors import ConfigError, DependencyError


@pytest.fixture
def no_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)


@pytest.fixture
def two_gpus(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)


def test_the_request_wins_over_the_config_and_auto_follows_cuda(no_gpu):
    assert resolve_device("cpu", "cuda") == torch.device("cpu")
    assert resolve_device(None, "cpu") == torch.device("cpu")
    assert resolve_device("", " cpu ") == torch.device("cpu")
    assert resolve_device(None) == torch.device("cpu")  # auto without a GPU
    assert resolve_device("auto", "cuda") == torch.device("cpu")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")


def test_auto_and_cuda_with_gpus(two_gpus):
    assert resolve_device("auto") == torch.device("cuda")  # torch's current GPU
    assert resolve_device(None, "auto", local_rank=3) == torch.device("cuda", 1)  # torchrun: this process's GPU
    assert resolve_device("cuda", local_rank=1) == torch.device("cuda", 1)
    assert resolve_device("cuda:1") == torch.device("cuda", 1)
    with pytest.raises(ConfigError, match=r"'cuda:2' but there are 2 GPU\(s\)"):
        resolve_device("cuda:2")


def test_cuda_without_a_gpu_is_an_error_that_names_the_fix(no_gpu):
    with pytest.raises(DependencyError, match="device is 'cuda' but no CUDA GPU is available; use --device cpu"):
        resolve_device("cuda", "cpu")
    with pytest.raises(DependencyError, match="runtime.device is 'cuda:0'.*use runtime.device=cpu"):
        resolve_device(None, "cuda:0", local_rank=0)  # training never falls back


def test_a_configured_cuda_may_fall_back_to_the_cpu(no_gpu, caplog):
    with caplog.at_level(logging.WARNING, logger="timecontrast.devices"):
        assert resolve_device(None, "cuda", fall_back_to_cpu=True) == torch.device("cpu")
    assert "runtime.device is 'cuda' but CUDA is not available" in caplog.text
    with pytest.raises(DependencyError, match="use --device cpu"):  # an explicit request never falls back
        resolve_device("cuda", "cpu", fall_back_to_cpu=True)


@pytest.mark.parametrize("name", ["gpu", "mps", "cuda:x", "cuda:-1", "CPU"])
def test_other_names_are_config_errors(no_gpu, name):
    with pytest.raises(ConfigError, match=f"'{name}'; use auto, cpu, cuda or cuda:N"):
        resolve_device(name)
    with pytest.raises(ConfigError, match=f"runtime.device is '{name}'"):
        resolve_device(None, name)
