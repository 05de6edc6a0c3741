"""Metric-learning losses of TCN: triplet semi-hard, n-pairs and the single-view TCN loss.

Pure functions of embeddings and labels/timesteps: no sampling, no random state. Every
loss computes in float32 with autocast switched off inside, so it can be called from an
autocast region (bf16/fp16 embeddings in, float32 scalar out), and returns a scalar that
is attached to the graph even when the batch has nothing to learn from (zero loss, zero
gradients, never NaN).

The semantics are those of the original release, which used TensorFlow contrib's
``triplet_semihard_loss`` and ``npairs_loss`` and its own ``singleview_tcn_loss``. We
write them ourselves rather than use pytorch-metric-learning because its semi-hard
miner differs (it keeps *all* semi-hard triplets and drops the fallback to the hardest
negative), which changes the loss value and what is learned.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import Tensor

from timecontrast.errors import ConfigError

# Row chunks of the pairwise-difference tensor hold at most this many elements.
_MAX_CHUNK_ELEMENTS = 1 << 24


@contextlib.contextmanager
def _float32(device: torch.device) -> Iterator[None]:
    """Switch autocast off (if the device type supports it) so the loss runs in float32."""
    ctx: contextlib.AbstractContextManager[object]
    try:
        ctx = torch.autocast(device_type=device.type, enabled=False)
    except RuntimeError:  # a device type without autocast support
        ctx = contextlib.nullcontext()
    with ctx:
        yield


def pairwise_squared_distances(embeddings: Tensor) -> Tensor:
    """Squared Euclidean distances between all rows: ``[N, D] -> [N, N]``.

    Computed from differences rather than the Gram form ``|a|^2 + |b|^2 - 2 a.b`` (which
    TensorFlow used): the result is exactly symmetric and exactly zero for identical
    rows, so the strict "farther than the positive" test of semi-hard mining does not
    flip on rounding noise. No square root, so gradients are finite at zero distance.
    """
    x = embeddings
    n, d = x.shape
    if n == 0:
        return x.new_zeros(0, 0)
    rows = max(1, _MAX_CHUNK_ELEMENTS // max(1, n * d))
    chunks = [(x[i : i + rows, None, :] - x[None, :, :]).pow(2).sum(-1) for i in range(0, n, rows)]
    return torch.cat(chunks, dim=0)  # [N, N]


def _semihard_loss_from_masks(dist: Tensor, positive: Tensor, negative: Tensor, margin: float) -> Tensor:
    """Semi-hard triplet hinge averaged over positive pairs.

    ``dist [N, N]`` squared distances; ``positive``/``negative`` ``[N, N]`` bool masks
    (row = anchor). For each positive pair (a, p) the negative distance is the smallest
    ``dist[a, n]`` over negatives n that is strictly greater than ``dist[a, p]``; if
    there is none, the largest ``dist[a, n]`` over negatives; if the anchor has no
    negative at all, 0 (TensorFlow's masked maximum then returns the row minimum, which
    is the anchor's zero distance to itself). Loss: ``mean over positive pairs of
    max(margin + d_ap - d_an, 0)``; 0 when there is no positive pair.
    """
    n = dist.shape[0]
    inf = torch.tensor(float("inf"), device=dist.device, dtype=dist.dtype)
    neg_dist = torch.where(negative, dist, inf)  # [N, N], non-negatives at +inf
    sorted_neg, _ = neg_dist.sort(dim=1)  # [N, N] ascending, the anchor's negatives first
    num_neg = negative.sum(dim=1, keepdim=True)  # [N, 1]
    # first negative strictly farther than the positive: index into each sorted row
    first_farther = torch.searchsorted(sorted_neg.detach().contiguous(), dist.detach().contiguous(), right=True)
    has_semihard = first_farther < num_neg  # [N, N]
    semihard = sorted_neg.gather(1, first_farther.clamp(max=n - 1))  # [N, N]
    hardest = sorted_neg.gather(1, (num_neg - 1).clamp(min=0))  # [N, 1] the farthest negative
    fallback = torch.where(num_neg > 0, hardest, torch.zeros_like(hardest))  # [N, 1]
    d_an = torch.where(has_semihard, semihard, fallback)  # [N, N], finite everywhere
    hinge = (margin + dist - d_an).clamp(min=0)
    total = torch.where(positive, hinge, torch.zeros_like(hinge)).sum()
    return total / positive.sum().clamp(min=1)


def triplet_semihard(labels: Tensor, embeddings: Tensor, margin: float = 0.2) -> Tensor:
    """TensorFlow contrib's ``triplet_semihard_loss``.

    ``labels [N]`` (int), ``embeddings [N, D]`` -> scalar. Distances are squared
    Euclidean. Every ordered pair (i, j), i != j, with equal labels is a positive pair;
    every k with a different label from the anchor i is a negative. For each positive
    pair the negative distance is the smallest d(i, k) strictly greater than d(i, j),
    or, if none is greater, the largest d(i, k) over the anchor's negatives (0 if it has
    none). The loss is ``max(margin + d(i, j) - d_neg, 0)`` averaged over all positive
    pairs, and 0 for a batch without positive pairs.

    For multi-view TCN the batch is ``[anchors; positives]`` with
    ``labels = pair_labels(num_pairs)``.
    """
    if embeddings.dim() != 2 or labels.shape != embeddings.shape[:1]:
        raise ValueError(
            f"expected labels [N] and embeddings [N, D], got {tuple(labels.shape)} and {tuple(embeddings.shape)}"
        )
    with _float32(embeddings.device):
        x = embeddings.float()
        n = x.shape[0]
        same = labels[:, None] == labels[None, :]  # [N, N]
        eye = torch.eye(n, dtype=torch.bool, device=x.device)
        return _semihard_loss_from_masks(pairwise_squared_distances(x), same & ~eye, ~same, margin)


def npairs(labels: Tensor, anchors: Tensor, positives: Tensor, reg_lambda: float = 0.002) -> Tensor:
    """TensorFlow contrib's ``npairs_loss``.

    ``labels [P]``, ``anchors [P, D]``, ``positives [P, D]`` -> scalar. Logits are the
    dot products ``anchors @ positives.T`` ``[P, P]``; the target of row i is the
    indicator of ``labels == labels[i]`` divided by its sum; the loss is the mean over
    rows of the softmax cross-entropy plus
    ``0.25 * reg_lambda * (mean_i |a_i|^2 + mean_i |p_i|^2)``. 0 for an empty batch.
    """
    if anchors.dim() != 2 or anchors.shape != positives.shape or labels.shape != anchors.shape[:1]:
        raise ValueError(
            f"expected labels [P], anchors [P, D] and positives [P, D], got {tuple(labels.shape)}, "
            f"{tuple(anchors.shape)} and {tuple(positives.shape)}"
        )
    with _float32(anchors.device):
        a, p = anchors.float(), positives.float()
        if a.shape[0] == 0:
            return (a.sum() + p.sum()) * 0.0
        reg = 0.25 * reg_lambda * (a.pow(2).sum(1).mean() + p.pow(2).sum(1).mean())
        logits = a @ p.T  # [P, P]
        same = (labels[:, None] == labels[None, :]).float()  # [P, P]
        targets = same / same.sum(dim=1, keepdim=True)
        xent = -(targets * logits.log_softmax(dim=1)).sum(dim=1).mean()
        return xent + reg


def singleview_tcn(
    embeddings: Tensor,
    timesteps: Tensor,
    sequence_ids: Tensor | None = None,
    pos_radius: int = 6,
    neg_radius: int = 12,
    margin: float = 0.2,
) -> Tensor:
    """The original's ``singleview_tcn_loss`` (with its multi-sequence mode).

    ``embeddings [N, D]``, ``timesteps [N]`` (frame indices), ``sequence_ids [N]`` (or
    None: all from one sequence) -> scalar. Positive pairs: i != j of the same sequence
    with ``|t_i - t_j| <= pos_radius``. Negatives of anchor i: frames of the same
    sequence with ``|t_i - t_k| > neg_radius`` and every frame of another sequence;
    frames in between are neither. Semi-hard mining and averaging as in
    :func:`triplet_semihard` (squared distances, hinge with ``margin``).
    """
    if neg_radius <= pos_radius:
        raise ConfigError(
            f"singleview_tcn: neg_radius ({neg_radius}) must be greater than pos_radius ({pos_radius}); "
            "set svtcn.neg_radius above svtcn.pos_radius"
        )
    n = embeddings.shape[0]
    if embeddings.dim() != 2 or timesteps.shape != (n,) or (sequence_ids is not None and sequence_ids.shape != (n,)):
        raise ValueError(
            f"expected embeddings [N, D], timesteps [N] and sequence_ids [N] or None, got "
            f"{tuple(embeddings.shape)}, {tuple(timesteps.shape)} and "
            f"{None if sequence_ids is None else tuple(sequence_ids.shape)}"
        )
    with _float32(embeddings.device):
        x = embeddings.float()
        dt = (timesteps[:, None].long() - timesteps[None, :].long()).abs()  # [N, N]
        if sequence_ids is None:
            same_seq = torch.ones(n, n, dtype=torch.bool, device=x.device)
        else:
            same_seq = sequence_ids[:, None] == sequence_ids[None, :]
        eye = torch.eye(n, dtype=torch.bool, device=x.device)
        positive = (dt <= pos_radius) & same_seq & ~eye
        negative = (dt > neg_radius) | ~same_seq
        return _semihard_loss_from_masks(pairwise_squared_distances(x), positive, negative, margin)


def pair_labels(num_pairs: int, num_sides: int = 2, device: torch.device | str | None = None) -> Tensor:
    """Labels unique per anchor/positive pair across the whole batch: ``[num_sides * P]``.

    ``num_sides=2`` gives ``[0..P-1, 0..P-1]`` for a batch laid out as ``[anchors;
    positives]`` (triplet loss); ``num_sides=1`` gives ``[0..P-1]`` (n-pairs labels of
    the anchors). Pairs from different sequences never share a label, unlike the
    original, which restarted labels at 1 in every sequence of a batch.
    """
    return torch.arange(num_pairs, device=device).repeat(num_sides)


__all__ = ["npairs", "pair_labels", "pairwise_squared_distances", "singleview_tcn", "triplet_semihard"]
