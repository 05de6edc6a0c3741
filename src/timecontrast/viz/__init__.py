"""Visualisation of embeddings: nearest-neighbour imitation videos, the TensorBoard
projector, PCA / t-SNE plots.

Everything here works on plain arrays (embeddings ``[V, T, D]`` per sequence) plus a
:class:`~timecontrast.data.sequence.MultiViewSequence` for the raw frames; the command
line (``tcn imitate``, ``tcn project``) computes the embeddings with
:mod:`timecontrast.inference` and hands them over. Submodules are imported on use
(matplotlib and scikit-learn load only when a plot is drawn).
"""
