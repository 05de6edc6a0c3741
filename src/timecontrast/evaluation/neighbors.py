"""Exact nearest neighbours in chunks with vectorised torch (CPU or GPU).

Two searches back the metrics:
- :func:`nearest_frames`: the nearest row of one set in another and back (k = 1), in
  float64; used by the alignment error on one pair of views at a time.
- :func:`cross_sequence_neighbors`: the k nearest rows of a pool, searching only rows of
  other groups (sequences); used by the kNN classification error on up to ~10^5 rows.

Why our own code and not sklearn/faiss: the exclusion of the query's own sequence is a
per-query mask that neither ``NearestNeighbors`` nor a flat faiss index supports without
searching k + (longest sequence) neighbours. Here rows are sorted by group, so the
excluded keys of a query are one contiguous column block that is masked in place.

Ranking is done in float32 on ``q.k - |k|^2 / 2`` (the squared distance up to a per-query
constant, one matrix product per chunk), keeping ``k + margin`` candidates; the
candidates are then re-ranked by the exact float64 squared distance with ties broken by
the lower index. The result equals a float64 brute force up to ties among more than
``margin`` equidistant points.
"""

from __future__ import annotations

import logging

import numpy as np
import torch

from timecontrast.errors import DataError

log = logging.getLogger(__name__)

# Bytes of float32 scores held at once per chunk (queries x keys).
DEFAULT_CHUNK_BYTES = 128 * 2**20


def _device(device: str | torch.device | None) -> torch.device:
    return torch.device(device) if device is not None else torch.device("cpu")


def nearest_frames(
    a: np.ndarray, b: np.ndarray, device: str | torch.device | None = None, chunk_bytes: int = DEFAULT_CHUNK_BYTES
) -> tuple[np.ndarray, np.ndarray]:
    """Nearest rows in both directions: ``(a_to_b [Na], b_to_a [Nb])`` int64.

    ``a`` [Na, D], ``b`` [Nb, D]; ``a_to_b[t]`` is the row of ``b`` nearest to ``a[t]``.
    Euclidean distance in float64 (one distance matrix serves both directions); ties go
    to the lower index.
    """
    dev = _device(device)
    qa = torch.as_tensor(np.asarray(a, np.float64), device=dev)  # [Na, D]
    kb = torch.as_tensor(np.asarray(b, np.float64), device=dev)  # [Nb, D]
    a_sq = (qa * qa).sum(1)  # [Na]
    b_sq = (kb * kb).sum(1)  # [Nb]
    rows = max(1, chunk_bytes // (8 * max(1, kb.shape[0])))
    a_to_b = torch.empty(qa.shape[0], dtype=torch.int64, device=dev)
    best_b = torch.full((kb.shape[0],), torch.inf, dtype=torch.float64, device=dev)  # running min over a
    b_to_a = torch.zeros(kb.shape[0], dtype=torch.int64, device=dev)
    for s in range(0, qa.shape[0], rows):
        # |a - b|^2 = |a|^2 + |b|^2 - 2 a.b ; min(dim) returns the first minimum.
        d = torch.mm(qa[s : s + rows], kb.T).mul_(-2.0).add_(b_sq).add_(a_sq[s : s + rows, None])  # [c, Nb]
        a_to_b[s : s + rows] = d.min(dim=1).indices
        val, idx = d.min(dim=0)  # [Nb]; first minimum within the chunk
        better = val < best_b  # strict: an earlier chunk (lower index) wins ties
        best_b = torch.where(better, val, best_b)
        b_to_a = torch.where(better, idx + s, b_to_a)
    return a_to_b.cpu().numpy(), b_to_a.cpu().numpy()


def nearest_frames_batched(
    a: np.ndarray, b: np.ndarray, device: str | torch.device | None = None, chunk_bytes: int = DEFAULT_CHUNK_BYTES
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`nearest_frames` for S pairs at once: ``a`` [S, Na, D], ``b`` [S, Nb, D] ->
    ``(a_to_b [S, Na], b_to_a [S, Nb])``.

    One batched matrix product per chunk of pairs instead of a few small operations per
    pair (small operations cost more in thread synchronisation than in arithmetic).
    """
    dev = _device(device)
    qa = torch.as_tensor(np.asarray(a, np.float64), device=dev)  # [S, Na, D]
    kb = torch.as_tensor(np.asarray(b, np.float64), device=dev)  # [S, Nb, D]
    s, na, nb = qa.shape[0], qa.shape[1], kb.shape[1]
    per = max(1, chunk_bytes // (8 * max(1, na * nb)))
    a_to_b = np.empty((s, na), np.int64)
    b_to_a = np.empty((s, nb), np.int64)
    for c in range(0, s, per):
        qc, kc = qa[c : c + per], kb[c : c + per]
        d = torch.bmm(qc, kc.transpose(1, 2)).mul_(-2.0)  # [c, Na, Nb]
        d.add_((kc * kc).sum(2).unsqueeze(1)).add_((qc * qc).sum(2).unsqueeze(2))
        a_to_b[c : c + per] = d.min(dim=2).indices.cpu().numpy()  # first minimum
        b_to_a[c : c + per] = d.min(dim=1).indices.cpu().numpy()
    return a_to_b, b_to_a


BLOCK = 128  # columns per block of the two-stage top-k selection


def _top_columns(scores: torch.Tensor, k: int, block: int = BLOCK) -> torch.Tensor:
    """``[R, k]`` column indices of the k largest scores of each row of ``scores`` [R, Np].

    Two stages, because ``topk`` over long rows costs several times a plain reduction:
    the maximum of every block of ``block`` columns (one vectorised pass), the k blocks
    with the largest maxima, then ``topk`` over their k * block columns. The k largest scores
    always lie in those blocks: k blocks hold k distinct scores >= the k-th largest block
    maximum, so the k-th largest score is at least that, and so is the maximum of any
    block that holds one of the k largest.
    """
    r, n_pad = scores.shape
    num_blocks = n_pad // block
    if num_blocks <= 2 * k:  # short rows: one topk is cheaper
        return scores.topk(k, dim=1, sorted=False).indices
    block_max = scores.view(r, num_blocks, block).amax(dim=2)  # [R, nb]
    blocks = block_max.topk(k, dim=1, sorted=False).indices  # [R, k]
    cols = (blocks.unsqueeze(2) * block + torch.arange(block, device=scores.device)).reshape(r, k * block)
    best = scores.gather(1, cols).topk(k, dim=1, sorted=False).indices  # [R, k]
    return cols.gather(1, best)


def group_codes(groups) -> np.ndarray:
    """Integer codes ``[N]`` for any array of group names or ids."""
    _, codes = np.unique(np.asarray(groups), return_inverse=True)
    return codes.reshape(-1).astype(np.int64)


def cross_sequence_neighbors(
    embeddings: np.ndarray,
    groups,
    k: int,
    device: str | torch.device | None = None,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    margin: int = 4,
    block: int = BLOCK,
) -> np.ndarray:
    """``[N, k]`` int64: the k nearest rows of each row, among rows of *other* groups.

    ``embeddings`` [N, D]; ``groups`` [N] (sequence names or ids). Neighbours are sorted by
    increasing Euclidean distance (ties: lower index first). Raises :class:`DataError`
    when a row has fewer than ``k`` rows of other groups.
    """
    x = np.asarray(embeddings)
    if x.ndim != 2:
        raise DataError(f"embeddings must be [N, D], got shape {x.shape}")
    n = x.shape[0]
    codes = group_codes(groups)
    if codes.shape[0] != n:
        raise DataError(f"{n} embeddings but {codes.shape[0]} group ids")
    counts = np.bincount(codes)
    available = n - int(counts.max()) if n else 0
    if k < 1 or available < k:
        raise DataError(
            f"cross-sequence kNN with k={k} needs at least {k} frames from other sequences for every frame, "
            f"but the largest sequence leaves only {available}; use more sequences or a smaller k "
            "(val.recall_at_k_list)"
        )
    num_cand = min(k + margin, available)

    order = np.argsort(codes, kind="stable")  # sorted position -> original row
    codes_s = codes[order]
    starts = np.concatenate([[0], np.cumsum(counts)])  # group g occupies [starts[g], starts[g+1])
    x64 = x.astype(np.float64)[order]  # [N, D] for the exact re-ranking

    dev = _device(device)
    xs = torch.as_tensor(x64, dtype=torch.float32, device=dev)  # [N, D]
    # Augmented keys: q'.k' = q.k - |k|^2/2, the negated squared distance up to |q|^2/2.
    # Columns are padded to whole blocks (the padding scores -inf).
    n_pad = -(-n // block) * block
    keys_t = torch.zeros(x.shape[1] + 1, n_pad, device=dev)  # [D+1, Np]
    keys_t[:-1, :n] = xs.T
    keys_t[-1, :n] = -0.5 * (xs * xs).sum(1)
    queries = torch.cat([xs, torch.ones(n, 1, device=dev)], 1)  # [N, D+1]
    rows = max(1, min(n, chunk_bytes // (4 * n_pad)))
    scores = torch.empty(rows, n_pad, device=dev)  # reused buffer [rows, Np]
    cand = np.empty((n, num_cand), np.int64)
    for s in range(0, n, rows):
        e = min(n, s + rows)
        sc = torch.mm(queries[s:e], keys_t, out=scores[: e - s])  # [c, Np]
        sc[:, n:] = -torch.inf
        # Mask each query's own group: rows of one group are contiguous, so are its columns.
        g0, g1 = codes_s[s], codes_s[e - 1]
        for g in range(g0, g1 + 1):
            r0, r1 = max(starts[g], s) - s, min(starts[g + 1], e) - s
            if r1 > r0:
                sc[r0:r1, starts[g] : starts[g + 1]] = -torch.inf
        cand[s:e] = _top_columns(sc, num_cand, block).cpu().numpy()

    # Exact float64 re-ranking; ties broken by the lower original index.
    out = np.empty((n, k), np.int64)
    step = max(1, chunk_bytes // (8 * num_cand * x.shape[1] + 1))
    for s in range(0, n, step):
        c = order[cand[s : s + step]]  # original indices [c, num_cand]
        c.sort(axis=1)
        q = np.asarray(x[order[s : s + step]], np.float64)  # [c, D]
        d = ((np.asarray(x[c], np.float64) - q[:, None, :]) ** 2).sum(-1)  # [c, num_cand]
        rank = np.argsort(d, axis=1, kind="stable")[:, :k]
        out[order[s : s + step]] = np.take_along_axis(c, rank, axis=1)
    return out
