"""The multi-frame TCN paper's state probe (Dwibedi et al. 2018, Table I).

The regressor of the paper, on the same inputs and targets as :mod:`.probe`: per timestep
``[e_t, e_t - e_{t-1}]`` (:func:`~timecontrast.evaluation.probe.probe_features`), a torch
MLP of three fully connected hidden layers of 256 units (ReLU) and a linear output, Adam
with learning rate 1e-3 on the MSE of the standardised targets (training mean and standard
deviation), minibatches of 256, no weight decay. What the paper leaves open is fixed here:
inputs are standardised too; training runs for at most ``max_steps`` = 20,000 minibatch
steps, and a random 10% of the training *sequences* (not frames: neighbouring frames are
near copies) is held out for early stopping: its MSE is checked every 250 steps, training
stops after 10 checks without improvement, and the weights of the best check are kept.
Every random choice (weights, held-out sequences, batch order) comes from ``seed``.

The error of a variable is its test MSE in units of its training variance (the MSE of the
standardised target: 1.0 = no better than the training mean, 0 = perfect), the same
definition as the project's probes. For the cart-pole the variables carry the table's
names: ``x_cart``, ``sin_theta``, ``cos_theta`` (the position averages over these three)
and ``xdot_cart``, ``thetadot`` (``motion`` averages over these two). Other worlds keep the
generic ``position <name>`` / ``velocity <name>`` keys, with ``position`` and ``motion`` the
means over their position and velocity variables.
"""

from __future__ import annotations

import copy
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from timecontrast.errors import DataError
from timecontrast.evaluation.probe import ProbeData, probe_data_of
from timecontrast.progress import Progress

if TYPE_CHECKING:
    from timecontrast.inference import Embedder

log = logging.getLogger(__name__)

HIDDEN_SIZES = (256, 256, 256)  # Table I: 3 fully connected layers of 256 units
# Cart-pole state names (tcn synth, after periodic_targets) -> the paper's names.
CARTPOLE_POSITION = {"slider": "x_cart", "hinge_1 (sin)": "sin_theta", "hinge_1 (cos)": "cos_theta"}
CARTPOLE_VELOCITY = {"slider": "xdot_cart", "hinge_1": "thetadot"}
PAPER_KEYS = ("x_cart", "sin_theta", "cos_theta", "xdot_cart", "thetadot")


def variable_keys(position_names: Sequence[str], velocity_names: Sequence[str]) -> tuple[list[str], list[str]]:
    """Result keys of the position and velocity targets: the paper's names for the
    cart-pole's state, ``position <name>`` / ``velocity <name>`` otherwise."""
    pos, vel = list(position_names), list(velocity_names)
    if sorted(pos) == sorted(CARTPOLE_POSITION) and sorted(vel) == sorted(CARTPOLE_VELOCITY):
        return [CARTPOLE_POSITION[n] for n in pos], [CARTPOLE_VELOCITY[n] for n in vel]
    return [f"position {n}" for n in pos], [f"velocity {n}" for n in vel]


@dataclass
class PaperProbeResult:
    """Normalised MSEs of the paper's probe: ``errors`` holds ``position``, ``motion`` and
    one key per variable (``x_cart`` ... ``thetadot`` for the cart-pole)."""

    errors: dict[str, float]
    position_keys: list[str]
    motion_keys: list[str]
    num_train: int  # samples the MLP was fitted on
    num_validation: int  # training samples held out for early stopping
    num_test: int
    steps: int  # minibatch steps taken
    best_step: int  # the step whose weights were kept
    device: str
    seconds: float
    settings: dict[str, Any] = field(default_factory=dict)

    def scalars(self, prefix: str = "validation/probe") -> dict[str, float]:
        return {f"{prefix}/paper {key} mse": v for key, v in self.errors.items()}

    def to_dict(self) -> dict[str, Any]:
        return {
            "protocol": "paper",
            "errors": self.errors,
            "variables": {"position": self.position_keys, "motion": self.motion_keys},
            "num_train_samples": self.num_train,
            "num_validation_samples": self.num_validation,
            "num_test_samples": self.num_test,
            "steps": self.steps,
            "best_step": self.best_step,
            "device": self.device,
            "seconds": self.seconds,
            "settings": self.settings,
        }


def _regressor(num_inputs: int, hidden_sizes: Sequence[int], num_outputs: int, generator: torch.Generator):
    """ReLU MLP with PyTorch's default initialisation, drawn from ``generator``."""
    layers: list[nn.Module] = []
    width = num_inputs
    for h in hidden_sizes:
        layers += [nn.Linear(width, int(h)), nn.ReLU()]
        width = int(h)
    layers.append(nn.Linear(width, num_outputs))
    model = nn.Sequential(*layers)
    with torch.no_grad():
        for m in model:
            if isinstance(m, nn.Linear):
                nn.init.kaiming_uniform_(m.weight, a=math.sqrt(5), generator=generator)
                bound = 1.0 / math.sqrt(m.in_features)
                nn.init.uniform_(m.bias, -bound, bound, generator=generator)
    return model


def _validation_mask(data: ProbeData, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """``[N]`` bool: the samples held out for early stopping (whole sequences where known)."""
    n = len(data.features)
    mask = np.zeros(n, bool)
    if fraction <= 0 or n < 2:
        return mask
    ids = data.sequence_ids
    seqs = np.unique(ids) if ids is not None else np.zeros(0)
    if ids is not None and len(seqs) >= 2:
        held = rng.choice(seqs, min(len(seqs) - 1, max(1, round(fraction * len(seqs)))), replace=False)
        return np.isin(ids, held)
    mask[n - min(n - 1, max(1, round(fraction * n))) :] = True  # samples in sequence order: the last block
    return mask


@torch.no_grad()
def _predict(model: nn.Module, x: torch.Tensor, chunk: int = 65536) -> torch.Tensor:
    return torch.cat([model(x[i : i + chunk]) for i in range(0, len(x), chunk)]) if len(x) else x[:, :0]


def fit_paper_probe(
    train: ProbeData,
    test: ProbeData,
    device: str | torch.device | None = None,
    seed: int = 0,
    position_names: Sequence[str] | None = None,
    velocity_names: Sequence[str] | None = None,
    *,
    hidden_sizes: Sequence[int] = HIDDEN_SIZES,
    batch_size: int = 256,
    learning_rate: float = 1e-3,
    max_steps: int = 20_000,
    eval_interval: int = 250,
    patience: int = 10,
    validation_fraction: float = 0.1,
) -> PaperProbeResult:
    """Fit the paper's MLP on ``train`` and report normalised MSEs on ``test``.

    ``device``: where the MLP trains (``None``: the CPU). ``eval_interval``: steps between
    early-stopping checks on the held-out ``validation_fraction`` of the training
    sequences; ``patience``: checks without improvement before stopping. Without names the
    keys are ``position [i]`` / ``velocity [i]``; the cart-pole's names get the paper's keys.
    """
    start = time.perf_counter()
    if train.features.shape[1] != test.features.shape[1]:
        raise DataError(f"train features {train.features.shape} and test features {test.features.shape} differ in size")
    num_pos, num_vel = train.position.shape[1], train.velocity.shape[1]
    if (test.position.shape[1], test.velocity.shape[1]) != (num_pos, num_vel):
        raise DataError("train and test states have different numbers of variables")
    if min(batch_size, max_steps, eval_interval, patience) < 1:
        raise ValueError("batch_size, max_steps, eval_interval and patience must be positive")
    pos_names = list(position_names) if position_names is not None and len(position_names) else None
    vel_names = list(velocity_names) if velocity_names is not None and len(velocity_names) else None
    pos_keys, vel_keys = variable_keys(
        pos_names or [f"[{i}]" for i in range(num_pos)], vel_names or [f"[{i}]" for i in range(num_vel)]
    )
    if len(pos_keys) != num_pos or len(vel_keys) != num_vel:
        raise DataError(
            f"{len(pos_keys)} position and {len(vel_keys)} velocity names for {num_pos} + {num_vel} variables"
        )
    dev = torch.device(device) if device is not None else torch.device("cpu")

    y_train = np.concatenate([train.position, train.velocity], 1)  # [N, P+Q]
    y_test = np.concatenate([test.position, test.velocity], 1)
    y_mean, y_std = y_train.mean(0), y_train.std(0)
    if (y_std < 1e-12).any():
        log.warning("state variables %s are constant in the training split; their error is not normalised",
                    np.flatnonzero(y_std < 1e-12).tolist())  # fmt: skip
    y_std = np.where(y_std < 1e-12, 1.0, y_std)
    x_mean, x_std = train.features.mean(0), train.features.std(0)
    x_std = np.where(x_std < 1e-12, 1.0, x_std)

    def tensor(a: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(np.asarray(a, np.float32), device=dev)

    held = _validation_mask(train, validation_fraction, np.random.default_rng(seed))
    x_all, y_all = tensor((train.features - x_mean) / x_std), tensor((y_train - y_mean) / y_std)  # [N, 2D], [N, P+Q]
    held_t = torch.as_tensor(held, device=dev)
    x_fit, y_fit, x_val, y_val = x_all[~held_t], y_all[~held_t], x_all[held_t], y_all[held_t]
    del x_all, y_all
    n_fit = len(x_fit)
    if n_fit == 0:
        raise DataError("the paper probe has no training samples")

    generator = torch.Generator().manual_seed(int(seed))
    model = _regressor(x_fit.shape[1], hidden_sizes, y_fit.shape[1], generator).to(dev)
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate, weight_decay=0.0)
    best, best_step, best_state, bad = math.inf, 0, None, 0
    step, stop = 0, False
    log.info(
        "paper probe: %d training (%d held out), %d test samples on %s", n_fit, len(x_val), len(test.features), dev
    )
    bar = Progress(total=max_steps, desc="probe", unit="step", logger=log, dynamic_ncols=True)
    model.train()
    while step < max_steps and not stop:
        order = torch.randperm(n_fit, generator=generator).to(dev)
        for i in range(0, n_fit, batch_size):
            idx = order[i : i + batch_size]
            loss = nn.functional.mse_loss(model(x_fit[idx]), y_fit[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            step += 1
            bar.update(1)
            if len(x_val) and (step % eval_interval == 0 or step == max_steps):
                model.eval()
                val = float(nn.functional.mse_loss(_predict(model, x_val), y_val))
                model.train()
                if val < best:
                    best, best_step, best_state, bad = val, step, copy.deepcopy(model.state_dict()), 0
                else:
                    bad += 1
                    stop = bad >= patience
                bar.set_postfix(val_mse=f"{val:.4f}", best=f"{best:.4f}")
                bar.set(held_out_mse=val, best=f"{best:.5f} at step {best_step}")
                log.debug("paper probe step %d: held-out mse %.5f (best %.5f)", step, val, best)
            if stop or step >= max_steps:
                break
    bar.close(finished=True)  # early stopping finishes too
    if best_state is not None:
        model.load_state_dict(best_state)
    else:
        best_step = step
    model.eval()

    pred = _predict(model, tensor((test.features - x_mean) / x_std)).double().cpu().numpy() * y_std + y_mean
    per_var = ((pred - y_test) ** 2).mean(0) / y_std**2  # [P+Q]
    errors = {
        "position": float(per_var[:num_pos].mean()) if num_pos else float("nan"),
        "motion": float(per_var[num_pos:].mean()) if num_vel else float("nan"),
    }
    errors.update({k: float(v) for k, v in zip(pos_keys + vel_keys, per_var)})
    settings = {
        "hidden_sizes": [int(h) for h in hidden_sizes],
        "batch_size": int(batch_size),
        "learning_rate": float(learning_rate),
        "weight_decay": 0.0,
        "max_steps": int(max_steps),
        "eval_interval": int(eval_interval),
        "patience": int(patience),
        "validation_fraction": float(validation_fraction),
        "seed": int(seed),
    }
    seconds = time.perf_counter() - start
    log.info("paper probe: %d steps (kept step %d) in %.1f s: %s", step, best_step, seconds, errors)
    return PaperProbeResult(
        errors, pos_keys, vel_keys, n_fit, len(x_val), len(test.features), step, best_step, str(dev), seconds, settings
    )


def paper_state_probe(
    embedder: Embedder,
    train_sequences: Sequence,
    test_sequences: Sequence,
    seed: int = 0,
    num_train_sequences: int = -1,
    device: str | torch.device | None = None,
    inputs: str = "change",
    **options: Any,
) -> PaperProbeResult:
    """Embed both splits with ``embedder`` and run :func:`fit_paper_probe` (``options``:
    its keyword settings); ``device`` defaults to the embedder's. ``inputs``: the paper's
    ``[e_t, e_t - e_{t-1}]`` (``"change"``) or ``e_t`` alone (``"current"``)."""
    train, pos_names, vel_names = probe_data_of(embedder, train_sequences, "training", num_train_sequences, inputs)
    test, _, _ = probe_data_of(embedder, test_sequences, "held-out", inputs=inputs)
    if device is None:
        device = getattr(embedder, "device", None)
    return fit_paper_probe(train, test, device, seed, pos_names, vel_names, **options)
