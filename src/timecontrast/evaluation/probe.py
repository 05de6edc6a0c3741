"""State probe: how much of the true physical state an embedding holds (the project's protocol).

Inputs per timestep t >= 1 of each view: the embedding ``e_t`` and its change
``e_t - e_{t-1}`` (so a single-frame embedding can expose velocity through differences,
as in the multi-frame TCN paper), or with ``inputs="current"`` ``e_t`` alone: what a policy
without memory that observes the embedding sees (``tcn rl train --obs embedding``).
Targets: the state's ``position [T, P]`` and ``velocity [T, Q]``. Two regressors are fitted on the training sequences and scored on
held-out sequences:
- ``linear``: ridge regression with the penalty chosen by efficient leave-one-out
  cross-validation (scikit-learn ``RidgeCV``);
- ``mlp``: a small MLP (scikit-learn ``MLPRegressor``, Adam, early stopping).
A free rotation angle (a position the state lists in ``angles``, e.g. the cart-pole's
hinge, which winds up to many turns) is a target as its cosine and sine: an image shows an
angle only modulo 2 pi, so its raw value cannot be predicted from frames.
Inputs are standardised and targets are divided by their training standard deviation,
so the reported error of a variable is its MSE in units of its variance (1.0 = no
better than predicting the training mean; 0 = perfect). Position and velocity errors
are the means over their variables. The multi-frame TCN paper's own regressor (Table I: a
torch MLP of 3 x 256 units) is :mod:`timecontrast.evaluation.paper_probe`, on the same data.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from sklearn.linear_model import RidgeCV
from sklearn.neural_network import MLPRegressor
from sklearn.preprocessing import StandardScaler

from timecontrast.errors import DataError

if TYPE_CHECKING:
    from timecontrast.inference import Embedder

log = logging.getLogger(__name__)

PROBES = ("linear", "mlp")
INPUTS = ("change", "current")  # [e_t, e_t - e_{t-1}] (the paper's) | e_t alone


def periodic_targets(position: np.ndarray, names: Sequence[str], angles: Sequence[str]) -> tuple[np.ndarray, list[str]]:
    """Position targets ``[T, P']`` and their names: each variable in ``angles`` becomes
    ``<name> (cos)`` and ``<name> (sin)``, the others stay as they are."""
    position = np.asarray(position, np.float64).reshape(len(position), -1)
    columns, out_names = [], []
    for i, name in enumerate(names):
        if name in angles:
            columns += [np.cos(position[:, i]), np.sin(position[:, i])]
            out_names += [f"{name} (cos)", f"{name} (sin)"]
        else:
            columns.append(position[:, i])
            out_names.append(name)
    if not columns:
        return position, list(names)
    return np.stack(columns, axis=1), out_names


def probe_features(embeddings: np.ndarray, inputs: str = "change") -> np.ndarray:
    """The probe's inputs for t = 1..T-1 of one view ``[T, D]``: ``[T - 1, 2D]``, ``e_t`` and
    ``e_t - e_{t-1}`` (``inputs="change"``), or ``[T - 1, D]``, ``e_t`` alone (``"current"``)."""
    if inputs not in INPUTS:
        raise ValueError(f"inputs must be one of {', '.join(INPUTS)}, got {inputs!r}")
    e = np.asarray(embeddings, np.float64)
    if inputs == "current":
        return e[1:]
    return np.concatenate([e[1:], e[1:] - e[:-1]], axis=1)


@dataclass
class ProbeData:
    """Probe samples: features ``[N, F]`` (:func:`probe_features`), position ``[N, P]``,
    velocity ``[N, Q]``; ``sequence_ids [N]``: the sequence (0..num_sequences-1) each sample comes from, or None
    when unknown (samples are then taken to be in sequence order)."""

    features: np.ndarray
    position: np.ndarray
    velocity: np.ndarray
    num_sequences: int
    sequence_ids: np.ndarray | None = None


def probe_dataset(items: Iterable[tuple[np.ndarray, np.ndarray, np.ndarray]], inputs: str = "change") -> ProbeData:
    """Build samples from ``(embeddings [V, T, D], position [T, P], velocity [T, Q])`` per sequence.

    Every view contributes its own samples with the same targets; ``inputs`` as
    :func:`probe_features`'s.
    """
    feats, pos, vel, ids = [], [], [], []
    n = 0
    for emb, position, velocity in items:
        emb = np.asarray(emb)
        if emb.ndim == 2:
            emb = emb[None]
        position = np.asarray(position, np.float64).reshape(len(position), -1)
        velocity = np.asarray(velocity, np.float64).reshape(len(velocity), -1)
        t = emb.shape[1]
        if len(position) != t or len(velocity) != t:
            raise DataError(
                f"state has {len(position)} positions and {len(velocity)} velocities for {t} embedded frames; "
                "the state file does not belong to this sequence"
            )
        if t < 2:
            continue
        for view in emb:
            feats.append(probe_features(view, inputs))
            pos.append(position[1:])
            vel.append(velocity[1:])
            ids.append(np.full(t - 1, n, np.int64))
        n += 1
    if not feats:
        raise DataError("the state probe needs sequences of at least 2 frames; none were given")
    return ProbeData(np.concatenate(feats), np.concatenate(pos), np.concatenate(vel), n, np.concatenate(ids))


@dataclass
class ProbeResult:
    """Normalised MSE per probe: position/velocity means and per-variable values."""

    errors: dict[str, dict[str, float]]  # probe -> {"position": x, "velocity": y}
    variables: dict[str, dict[str, float]]  # probe -> {"position <name>" / "velocity <name>": error}
    num_train: int
    num_test: int

    def scalars(self, prefix: str = "validation/probe") -> dict[str, float]:
        return {f"{prefix}/{p} {part} mse": v for p, parts in self.errors.items() for part, v in parts.items()}

    def to_dict(self) -> dict:
        return {
            "protocol": "project",
            "errors": self.errors,
            "variables": self.variables,
            "num_train_samples": self.num_train,
            "num_test_samples": self.num_test,
        }


def fit_probes(
    train: ProbeData,
    test: ProbeData,
    seed: int = 0,
    position_names: Sequence[str] | None = None,
    velocity_names: Sequence[str] | None = None,
    hidden_sizes: Sequence[int] = (128, 128),
    probes: Sequence[str] = PROBES,
    max_epochs: int = 200,
) -> ProbeResult:
    """Fit the probes on ``train`` and report normalised MSEs on ``test``."""
    for p in probes:
        if p not in PROBES:
            raise DataError(f"unknown probe '{p}'; choose from {', '.join(PROBES)}")
    if train.features.shape[1] != test.features.shape[1]:
        raise DataError(f"train features {train.features.shape} and test features {test.features.shape} differ in size")
    num_pos = train.position.shape[1]
    y_train = np.concatenate([train.position, train.velocity], 1)  # [N, P+Q]
    y_test = np.concatenate([test.position, test.velocity], 1)
    if y_train.shape[1] != y_test.shape[1]:
        raise DataError("train and test states have different numbers of variables")
    mean, std = y_train.mean(0), y_train.std(0)
    constant = std < 1e-12
    if constant.any():
        log.warning(
            "state variables %s are constant in the training split; their error is not normalised",
            np.flatnonzero(constant).tolist(),
        )
    std = np.where(constant, 1.0, std)
    scaler = StandardScaler().fit(train.features)
    x_train, x_test = scaler.transform(train.features), scaler.transform(test.features)
    yn_train = (y_train - mean) / std

    names = list(position_names or [f"position[{i}]" for i in range(num_pos)])
    names += list(velocity_names or [f"velocity[{i}]" for i in range(y_train.shape[1] - num_pos)])
    errors: dict[str, dict[str, float]] = {}
    variables: dict[str, dict[str, float]] = {}
    for probe in probes:
        if probe == "linear":
            model = RidgeCV(alphas=np.logspace(-4, 4, 17))
        else:
            model = MLPRegressor(
                hidden_layer_sizes=tuple(hidden_sizes),
                early_stopping=True,  # on a random 10% of the training samples
                max_iter=max_epochs,
                n_iter_no_change=10,
                random_state=seed,
            )
        model.fit(x_train, yn_train)
        pred = np.asarray(model.predict(x_test)).reshape(len(x_test), -1) * std + mean
        per_var = ((pred - y_test) ** 2).mean(0) / std**2  # [P+Q]
        errors[probe] = {
            "position": float(per_var[:num_pos].mean()) if num_pos else float("nan"),
            "velocity": float(per_var[num_pos:].mean()) if per_var.size > num_pos else float("nan"),
        }
        # Prefixed: a joint has a position and a velocity of the same name.
        kinds = ["position"] * num_pos + ["velocity"] * (len(names) - num_pos)
        variables[probe] = {f"{k} {n}": float(v) for k, n, v in zip(kinds, names, per_var)}
        log.debug("probe %s: %s", probe, errors[probe])
    return ProbeResult(errors, variables, len(x_train), len(x_test))


def _state_of(seq, split: str):
    state = seq.state
    if state is None:
        where = getattr(seq, "path", seq.name)
        raise DataError(
            f"{split}: sequence '{seq.name}' ({where}) has no state; the probe needs the true state of simulated "
            "data (DIR/<split>/state/<name>.npz beside DIR/<split>/records/, as tcn synth writes)"
        )
    return state


def probe_data_of(
    embedder: Embedder, sequences: Iterable, split: str = "records", num_sequences: int = -1, inputs: str = "change"
) -> tuple[ProbeData, list[str] | None, list[str] | None]:
    """``(ProbeData, position_names, velocity_names)`` of sequences with state, embedded by
    ``embedder``; ``inputs`` as :func:`probe_features`'s."""
    names: dict[str, list[str]] = {}

    def items():
        for item in embedder.embed_sequences(sequences, num_sequences=num_sequences):
            state = _state_of(item.sequence, split)
            position, position_names = periodic_targets(
                state.position, list(getattr(state, "position_names", []) or []), getattr(state, "angles", [])
            )
            names.setdefault("position", position_names)
            names.setdefault("velocity", list(getattr(state, "velocity_names", []) or []))
            yield item.embeddings, position, state.velocity

    data = probe_dataset(items(), inputs)
    return data, names.get("position"), names.get("velocity")


def state_probe(
    embedder: Embedder,
    train_sequences: Sequence,
    test_sequences: Sequence,
    seed: int = 0,
    num_train_sequences: int = -1,
    probes: Sequence[str] = PROBES,
    inputs: str = "change",
) -> ProbeResult:
    """Embed both splits with ``embedder`` (an :class:`~timecontrast.inference.Embedder`),
    fit the probes on the first and report on the second (``inputs``: :func:`probe_features`)."""
    train, pos_names, vel_names = probe_data_of(embedder, train_sequences, "training", num_train_sequences, inputs)
    test, _, _ = probe_data_of(embedder, test_sequences, "held-out", inputs=inputs)
    return fit_probes(train, test, seed, pos_names, vel_names, probes=probes)
