"""Optimisers with the original's settings, the staircase schedule, the L2 penalty."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from timecontrast.errors import ConfigError
from timecontrast.training.optim import TFRMSprop, build_optimizer, l2_penalty, lr_at


def test_lr_at_is_a_staircase_exponential_decay():
    assert [lr_at(s, 0.1, 3, 0.5) for s in (0, 2, 3, 5, 6, 9)] == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.025, 0.0125])
    assert lr_at(10**6, 1e-4, 10000, 1.0) == 1e-4  # decay_factor 1: constant
    with pytest.raises(ConfigError, match="decay_steps"):
        lr_at(1, 0.1, 0, 0.5)


def test_optimisers_have_the_original_settings():
    params = [nn.Parameter(torch.zeros(3))]
    adam = build_optimizer("adam", params, 1e-4)
    assert isinstance(adam, torch.optim.Adam)
    assert adam.defaults["eps"] == 1e-8 and adam.defaults["betas"] == (0.9, 0.999)
    momentum = build_optimizer("momentum", params, 0.1)
    assert isinstance(momentum, torch.optim.SGD)
    assert momentum.defaults["momentum"] == 0.9 and not momentum.defaults["nesterov"]
    assert momentum.defaults["dampening"] == 0
    rmsprop = build_optimizer("rmsprop", params, 0.1)
    assert isinstance(rmsprop, TFRMSprop)
    assert (rmsprop.defaults["decay"], rmsprop.defaults["momentum"], rmsprop.defaults["epsilon"]) == (0.9, 0.9, 1.0)
    with pytest.raises(ConfigError, match="learning.optimizer.*adam"):
        build_optimizer("adagrad", params, 0.1)
    with pytest.raises(ConfigError, match="no trainable parameters"):
        build_optimizer("adam", [nn.Parameter(torch.zeros(1), requires_grad=False)], 0.1)


def test_tf_rmsprop_matches_tensorflows_update():
    lr, grads = 0.5, [2.0, -1.0, 3.0]
    p = nn.Parameter(torch.tensor([1.0]))
    opt = TFRMSprop([p], lr=lr)
    ms, mom, value = 1.0, 0.0, 1.0  # TensorFlow starts the mean square at 1
    for g in grads:
        p.grad = torch.tensor([g])
        opt.step()
        ms = 0.9 * ms + 0.1 * g * g
        mom = 0.9 * mom + lr * g / math.sqrt(ms + 1.0)  # epsilon inside the square root
        value -= mom
        assert float(p.detach()) == pytest.approx(value, rel=1e-6)


def test_l2_penalty_is_half_the_sum_of_squares():
    a, b = nn.Parameter(torch.tensor([1.0, 2.0])), nn.Parameter(torch.tensor([[3.0]]))
    assert float(l2_penalty([a, b]).detach()) == pytest.approx((1 + 4 + 9) / 2)
    assert float(l2_penalty([])) == 0.0
