"""The losses against brute-force numpy references written from their stated semantics."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.special import logsumexp

from timecontrast.errors import ConfigError
from timecontrast.losses import npairs, pair_labels, pairwise_squared_distances, singleview_tcn, triplet_semihard

# ---------------------------------------------------------------- numpy references


def ref_semihard(x: np.ndarray, is_pos, is_neg, margin: float) -> float:
    """Loop over every (anchor, positive) pair and pick the negative as the docstring says."""
    x = x.astype(np.float64)
    n = len(x)
    d = np.array([[np.sum((x[i] - x[j]) ** 2) for j in range(n)] for i in range(n)])
    total, count = 0.0, 0
    for a in range(n):
        negs = [d[a, k] for k in range(n) if is_neg(a, k)]
        for p in range(n):
            if not is_pos(a, p):
                continue
            count += 1
            farther = [v for v in negs if v > d[a, p]]
            if farther:
                d_an = min(farther)
            elif negs:
                d_an = max(negs)
            else:
                d_an = 0.0
            total += max(margin + d[a, p] - d_an, 0.0)
    return total / count if count else 0.0


def ref_triplet(labels: np.ndarray, x: np.ndarray, margin: float) -> float:
    return ref_semihard(x, lambda a, p: a != p and labels[a] == labels[p], lambda a, k: labels[a] != labels[k], margin)


def ref_svtcn(x, t, seq, pos_radius, neg_radius, margin) -> float:
    def is_pos(a, p):
        return a != p and seq[a] == seq[p] and abs(t[a] - t[p]) <= pos_radius

    def is_neg(a, k):
        return seq[a] != seq[k] or abs(t[a] - t[k]) > neg_radius

    return ref_semihard(x, is_pos, is_neg, margin)


def ref_npairs(labels, a, p, reg_lambda) -> float:
    a, p = a.astype(np.float64), p.astype(np.float64)
    n = len(a)
    total = 0.0
    for i in range(n):
        logits = np.array([a[i] @ p[j] for j in range(n)])
        log_probs = logits - logsumexp(logits)
        same = np.array([labels[i] == labels[j] for j in range(n)], np.float64)
        total += -np.sum(same / same.sum() * log_probs)
    reg = 0.25 * reg_lambda * (np.mean(np.sum(a**2, 1)) + np.mean(np.sum(p**2, 1)))
    return total / n + reg


# ---------------------------------------------------------------- triplet semi-hard


@pytest.mark.parametrize("n", [2, 5, 12, 33])
@pytest.mark.parametrize("num_labels", [1, 2, 4, 1000])
def test_triplet_matches_reference_random(n, num_labels):
    rng = np.random.default_rng(n * 7 + num_labels)
    x = rng.normal(size=(n, 6)).astype(np.float32)
    labels = rng.integers(0, num_labels, n)
    got = triplet_semihard(torch.from_numpy(labels), torch.from_numpy(x), 0.5).item()
    assert got == pytest.approx(ref_triplet(labels, x, 0.5), rel=1e-5, abs=1e-6)


@pytest.mark.parametrize("seed", range(6))
def test_triplet_matches_reference_with_ties(seed):
    # Small integer coordinates: many exactly equal distances (computed exactly in float32),
    # duplicated points (zero distance) and positives as far as some negatives.
    rng = np.random.default_rng(seed)
    n = int(rng.integers(4, 20))
    x = rng.integers(-1, 2, size=(n, 2)).astype(np.float32)
    labels = rng.integers(0, 3, n)
    for margin in (0.0, 1.0, 3.0):
        got = triplet_semihard(torch.from_numpy(labels), torch.from_numpy(x), margin).item()
        assert got == pytest.approx(ref_triplet(labels, x, margin), abs=1e-6)


def test_triplet_hand_computed():
    # 1-D points: a=0 (label 0), p=1 (label 0), negatives at 0.5 and 3 (label 1).
    x = torch.tensor([[0.0], [1.0], [0.5], [3.0]])
    labels = torch.tensor([0, 0, 1, 1])
    # pairs (0,1): d_ap=1, negatives of 0: 0.25, 9 -> semi-hard 9 -> max(0.2+1-9,0)=0
    # (1,0): d_ap=1, negatives of 1: 0.25, 4 -> 4 -> 0
    # (2,3): d_ap=6.25, negatives of 2: 0.25, 0.25 -> none farther -> 0.25 -> 6.2
    # (3,2): d_ap=6.25, negatives of 3: 9, 4 -> 9 -> 0
    assert triplet_semihard(labels, x, 0.2).item() == pytest.approx(6.2 / 4)


def test_triplet_degenerate_cases():
    x = torch.randn(6, 4)
    # all distinct labels: no positive pair -> 0, finite gradient
    x1 = x.clone().requires_grad_(True)
    loss = triplet_semihard(torch.arange(6), x1, 0.2)
    loss.backward()
    assert loss.item() == 0.0 and torch.all(x1.grad == 0)
    # all the same label: no negatives, d_an = 0 -> mean(margin + d_ap)
    same = torch.zeros(6, dtype=torch.long)
    expected = ref_triplet(same.numpy(), x.numpy(), 0.2)
    assert triplet_semihard(same, x, 0.2).item() == pytest.approx(expected, rel=1e-5)
    # all points identical: every distance 0 -> loss = margin, gradient finite (zero)
    z = torch.zeros(6, 4, requires_grad=True)
    loss = triplet_semihard(torch.tensor([0, 0, 1, 1, 2, 2]), z, 0.3)
    loss.backward()
    assert loss.item() == pytest.approx(0.3) and torch.isfinite(z.grad).all()
    # empty batch
    assert triplet_semihard(torch.zeros(0, dtype=torch.long), torch.zeros(0, 4), 0.2).item() == 0.0


def test_triplet_gradient_pulls_positive_and_pushes_negative():
    x = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 0.5]], requires_grad=True)
    loss = triplet_semihard(torch.tensor([0, 0, 1]), x, 1.0)
    loss.backward()
    # anchor 0's positive is at +x: descent moves it towards the anchor (grad > 0 along x)
    assert x.grad[1, 0] > 0
    # the negative at +y is pushed away from anchor 0 (descent increases y: grad < 0)
    assert x.grad[2, 1] < 0


def test_triplet_autocast_bf16_returns_float32():
    x = torch.randn(8, 4)
    labels = pair_labels(4)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = triplet_semihard(labels, x.bfloat16(), 0.2)
    assert loss.dtype == torch.float32
    expected = ref_triplet(labels.numpy(), x.bfloat16().float().numpy(), 0.2)
    assert loss.item() == pytest.approx(expected, rel=1e-5, abs=1e-6)


def test_pairwise_distances_exact_zero_and_symmetric():
    x = torch.randn(9, 5)
    x[3] = x[7]
    d = pairwise_squared_distances(x)
    assert torch.equal(d, d.T) and d[3, 7] == 0 and torch.all(d.diagonal() == 0)
    assert torch.allclose(d, torch.cdist(x, x) ** 2, atol=1e-5)


# ---------------------------------------------------------------- n-pairs


@pytest.mark.parametrize("p", [1, 3, 16])
@pytest.mark.parametrize("num_labels", [1, 2, 1000])
def test_npairs_matches_reference(p, num_labels):
    rng = np.random.default_rng(p + num_labels)
    a = rng.normal(size=(p, 8)).astype(np.float32)
    b = rng.normal(size=(p, 8)).astype(np.float32)
    labels = rng.integers(0, num_labels, p)
    got = npairs(torch.from_numpy(labels), torch.from_numpy(a), torch.from_numpy(b), reg_lambda=0.01).item()
    assert got == pytest.approx(ref_npairs(labels, a, b, 0.01), rel=1e-5)


def test_npairs_large_logits_and_zero_embeddings():
    a = torch.randn(5, 4, generator=torch.Generator().manual_seed(0)) * 1e3  # seeded: not the global RNG
    b = a.clone()
    labels = torch.arange(5)
    got = npairs(labels, a, b, 0.0)
    assert torch.isfinite(got)
    # Logits of order 1e6 in float32 (24-bit mantissa) against a float64 reference: 1e-5 relative.
    assert got.item() == pytest.approx(ref_npairs(labels.numpy(), a.numpy(), b.numpy(), 0.0), rel=1e-5)
    # identical zero embeddings: uniform softmax -> log(P)
    z = torch.zeros(5, 4, requires_grad=True)
    loss = npairs(labels, z, z, 0.002)
    loss.backward()
    assert loss.item() == pytest.approx(np.log(5), rel=1e-6) and torch.isfinite(z.grad).all()
    assert npairs(torch.zeros(0, dtype=torch.long), torch.zeros(0, 4), torch.zeros(0, 4)).item() == 0.0


def test_npairs_regulariser_weight():
    a, b = torch.randn(4, 3), torch.randn(4, 3)
    labels = torch.arange(4)
    diff = npairs(labels, a, b, 1.0) - npairs(labels, a, b, 0.0)
    expected = 0.25 * (a.pow(2).sum(1).mean() + b.pow(2).sum(1).mean())
    assert diff.item() == pytest.approx(expected.item(), rel=1e-5)


# ---------------------------------------------------------------- single-view TCN


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("multi_sequence", [False, True])
def test_singleview_matches_reference(seed, multi_sequence):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(3, 30))
    x = rng.normal(size=(n, 5)).astype(np.float32)
    t = rng.integers(0, 40, n)  # repeated timesteps happen
    seq = rng.integers(0, 3, n) if multi_sequence else np.zeros(n, np.int64)
    got = singleview_tcn(
        torch.from_numpy(x), torch.from_numpy(t), torch.from_numpy(seq) if multi_sequence else None, 3, 7, 0.4
    ).item()
    assert got == pytest.approx(ref_svtcn(x, t, seq, 3, 7, 0.4), rel=1e-5, abs=1e-6)


def test_singleview_ties_and_window_boundaries():
    # timesteps exactly at pos_radius (positive) and neg_radius (not negative) and beyond it
    x = np.array([[0.0], [1.0], [2.0], [1.0], [0.0], [3.0]], np.float32)
    t = np.array([0, 2, 4, 6, 8, 10])
    got = singleview_tcn(torch.from_numpy(x), torch.from_numpy(t), None, 2, 4, 1.0).item()
    assert got == pytest.approx(ref_svtcn(x, t, np.zeros(6), 2, 4, 1.0), abs=1e-6)
    # a contiguous batch with no frame farther than neg_radius: no negatives, d_an = 0
    t2 = np.arange(6)
    got2 = singleview_tcn(torch.from_numpy(x), torch.from_numpy(t2), None, 1, 10, 0.2).item()
    assert got2 == pytest.approx(ref_svtcn(x, t2, np.zeros(6), 1, 10, 0.2), abs=1e-6)


def test_singleview_other_sequence_is_negative_never_positive():
    # two frames at the same timestep of different sequences
    x = torch.tensor([[0.0], [0.1], [5.0]])
    t = torch.tensor([0, 0, 1])
    seq = torch.tensor([0, 1, 0])
    # positives: (0,2),(2,0) only; negatives: (0,1),(1,0),(1,2),(2,1)
    expected = ref_svtcn(x.numpy(), t.numpy(), seq.numpy(), 1, 2, 0.2)
    assert singleview_tcn(x, t, seq, 1, 2, 0.2).item() == pytest.approx(expected, rel=1e-6)
    # without sequence ids the same batch has (0,1) as a positive: a different value
    assert singleview_tcn(x, t, None, 1, 2, 0.2).item() != pytest.approx(expected)


def test_singleview_rejects_bad_radii():
    with pytest.raises(ConfigError, match="neg_radius"):
        singleview_tcn(torch.randn(4, 2), torch.arange(4), None, 3, 3, 0.2)


def test_singleview_single_frame_is_zero():
    x = torch.randn(1, 4, requires_grad=True)
    loss = singleview_tcn(x, torch.tensor([5]), None, 1, 2, 0.2)
    loss.backward()
    assert loss.item() == 0.0 and torch.all(x.grad == 0)


# ---------------------------------------------------------------- labels


def test_pair_labels_unique_per_pair_across_sequences():
    labels = pair_labels(6)
    assert labels.tolist() == [0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 5]
    assert pair_labels(3, num_sides=1).tolist() == [0, 1, 2]
    # a batch of two sequences x 3 pairs: each anchor has exactly one positive (its partner)
    same = labels[:, None] == labels[None, :]
    assert (same.sum(1) == 2).all()
