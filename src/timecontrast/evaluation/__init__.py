"""Evaluation of embeddings: alignment, cross-sequence kNN error, state probe, TCC's and
XIRL's per-frame metrics (``kendall``, ``cycles``, ``phases``, ``sequence_metrics``), watcher.

Metrics are plain functions of numpy arrays (``alignment``, ``knn``, ``probe``); the
``tcn align``, ``tcn labeled-eval`` and ``tcn probe`` commands embed data with
:class:`timecontrast.inference.Embedder`, call them and record the results with
``summaries``. ``watcher.iter_new_checkpoints`` hands each new checkpoint over once.
Submodules are imported on use so that importing one metric stays light.
"""
