"""Speed and memory of the evaluation metrics, beside straightforward numpy references.

- kNN classification error (cross-sequence, recall@k) on 100,000 embeddings of size 32
  from 200 sequences, with vectorised chunked torch (``timecontrast.evaluation.knn``).
  Budget: under 30 s on 2 cores and under 2 GB of memory. The numpy reference (one
  query at a time, float64 distances, a stable sort) is O(N^2) in Python, so it runs on a
  random subset of 10,000 embeddings, where both are also compared for identical results.
- Alignment error on 200 sequences x 2 views x 400 frames, beside the original's numpy
  procedure (``np.linalg.norm`` per frame, one direction and the other), on all of it.

Prints Markdown tables. ``--quick`` shrinks every size by 5 (a smoke run). Threads:
``--threads`` (default 2, the budget's core count).

Example::

    .venv/bin/python benchmarks/evaluation.py
    .venv/bin/python benchmarks/evaluation.py --quick
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np
import torch

from timecontrast.evaluation.alignment import alignment_error
from timecontrast.evaluation.knn import knn_classification, recall_at_k
from timecontrast.evaluation.neighbors import cross_sequence_neighbors


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kB


# ------------------------------------------------------------------------------ kNN
def knn_data(n: int, num_sequences: int, dim: int, rng: np.random.Generator):
    """Sequences as random walks on the unit sphere (like L2-normalised embeddings) and
    labels of three attributes (2, 3 and 5 classes) that change along each sequence."""
    per = n // num_sequences
    groups = np.repeat(np.arange(num_sequences), per)
    steps = rng.normal(scale=0.15, size=(num_sequences, per, dim)) + rng.normal(size=(num_sequences, 1, dim))
    x = np.cumsum(steps, axis=1).reshape(-1, dim)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    phase = np.tile(np.arange(per) / per, num_sequences)
    labels = {
        "contact": (phase > 0.4).astype(np.int64),
        "stage": np.minimum((phase * 3).astype(np.int64), 2),
        "noise": rng.integers(0, 5, size=len(x)),
    }
    return x.astype(np.float32), groups, labels


def numpy_knn_reference(x: np.ndarray, groups: np.ndarray, k: int) -> np.ndarray:
    """The straightforward way: one query at a time, float64 distances, stable sort."""
    x64 = x.astype(np.float64)
    out = np.empty((len(x), k), np.int64)
    for i in range(len(x)):
        d = ((x64 - x64[i]) ** 2).sum(1)
        d[groups == groups[i]] = np.inf
        out[i] = np.argsort(d, kind="stable")[:k]
    return out


def bench_knn(n: int, n_ref: int, num_sequences: int, ks: list[int], rng: np.random.Generator) -> list[str]:
    x, groups, labels = knn_data(n, num_sequences, 32, rng)
    rss_before = peak_rss_mb()
    start = time.perf_counter()
    result = knn_classification(x, groups, labels, ks)
    seconds = time.perf_counter() - start
    rss_after = peak_rss_mb()

    sub = np.sort(rng.choice(len(x), n_ref, replace=False))
    xs, gs = x[sub], groups[sub]
    start = time.perf_counter()
    ours = cross_sequence_neighbors(xs, gs, max(ks))
    ours_sub_seconds = time.perf_counter() - start
    start = time.perf_counter()
    ref = numpy_knn_reference(xs, gs, max(ks))
    ref_seconds = time.perf_counter() - start
    same_neighbours = bool(np.array_equal(ours, ref))
    same_recall = all(
        recall_at_k(lab[sub][ours], lab[sub], k).recall == recall_at_k(lab[sub][ref], lab[sub], k).recall
        for lab in labels.values()
        for k in ks
    )
    lines = [
        f"### kNN classification error (N = {n:,}, D = 32, {num_sequences} sequences, k = {ks})",
        "",
        "| what | N | seconds | peak RSS (MB) |",
        "|---|---:|---:|---:|",
        f"| torch, chunked (all attributes, all k) | {n:,} | {seconds:.1f} | {rss_after:.0f} |",
        f"| torch neighbours, subset | {n_ref:,} | {ours_sub_seconds:.2f} | |",
        f"| numpy reference (per query, float64), subset | {n_ref:,} | {ref_seconds:.1f} | |",
        "",
        f"Identical on the subset: neighbour indices {same_neighbours}, recall {same_recall}. "
        f"Peak RSS before the kNN call: {rss_before:.0f} MB (imports and data). "
        f"Average error@top{ks[0]} = {result.average_error(ks[0]):.4f} (micro {result.average_micro_error(ks[0]):.4f}). "
        f"Budget: < 30 s and < 2048 MB: {'met' if seconds < 30 and rss_after < 2048 else 'NOT met'}.",
        "",
    ]
    return lines


# ------------------------------------------------------------------------ alignment
def numpy_alignment_reference(sequences: list[np.ndarray]) -> tuple[float, dict[tuple[int, int], float]]:
    """The original's procedure (np.linalg.norm per frame), in both directions."""
    forward, pairs = [], {}
    for emb in sequences:
        v, t, _ = emb.shape
        for i in range(v):
            for j in range(v):
                if i == j:
                    continue
                nn = np.array([np.argmin(np.linalg.norm(emb[j] - emb[i][s], axis=1)) for s in range(t)])
                err = float(np.mean(np.abs(np.arange(t) - nn)) / t)
                pairs.setdefault((i, j), []).append(err)
                if i < j:
                    forward.append(err)
    return float(np.mean(forward)), {p: float(np.mean(e)) for p, e in pairs.items()}


def bench_alignment(num_sequences: int, length: int, rng: np.random.Generator) -> list[str]:
    sequences = []
    for _ in range(num_sequences):
        walk = np.cumsum(rng.normal(scale=0.1, size=(length, 32)), axis=0)
        sequences.append(np.stack([walk, walk + rng.normal(scale=0.8, size=walk.shape)]).astype(np.float32))
    start = time.perf_counter()
    ours = alignment_error(sequences)
    seconds = time.perf_counter() - start
    start = time.perf_counter()
    ref_error, ref_pairs = numpy_alignment_reference(sequences)
    ref_seconds = time.perf_counter() - start
    identical = ours.error == ref_error and all(ours.pair_errors[p] == e for p, e in ref_pairs.items())
    return [
        f"### Alignment error ({num_sequences} sequences x 2 views x {length} frames, D = 32)",
        "",
        "| what | seconds | error (i<j) | error 0->1 | error 1->0 |",
        "|---|---:|---:|---:|---:|",
        f"| torch (sequences batched; both directions from one distance matrix) | {seconds:.2f} | {ours.error:.4f} | "
        f"{ours.pair_errors[(0, 1)]:.4f} | {ours.pair_errors[(1, 0)]:.4f} |",
        f"| numpy reference (per frame, np.linalg.norm) | {ref_seconds:.2f} | {ref_error:.4f} | "
        f"{ref_pairs[(0, 1)]:.4f} | {ref_pairs[(1, 0)]:.4f} |",
        "",
        f"Identical results: {identical}.",
        "",
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="sizes divided by 5")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    div = 5 if args.quick else 1
    rng = np.random.default_rng(args.seed)
    lines = [f"Evaluation metrics on CPU, {args.threads} torch threads{' (quick)' if args.quick else ''}.", ""]
    lines += bench_knn(100_000 // div, 10_000 // div, 200, [1, 5], rng)
    lines += bench_alignment(200 // div, 400, rng)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
