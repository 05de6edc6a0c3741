"""The Embedder: a trained model you can call on images, sequence records and loaders.

The original release offered three inference modes through ``estimator.inference``;
they are three methods here:

- ``embed_images(frames)``: ``[N, H, W, 3]`` / ``[H, W, 3]`` uint8 (or float in [0, 1])
  -> ``[N, D]`` float32, with the evaluation preprocessing (mode 3, e.g. a live stream);
- ``embed_sequences(records)``: per multi-view sequence, an
  :class:`~timecontrast.data.sequence.EmbeddedSequence` (``embeddings [V, T, D]``, its
  name and the sequence object for the raw frames) (mode 2);
- ``embed_loader(batches)``: per dict batch, ``{"embeddings": [B, D], **metadata}`` (mode 1).
- ``export(records, outdir, format)``: every sequence's embeddings, labels and state to
  ``npz`` or ``parquet`` files and a ``manifest.json``, for other tools (``tcn export``).

Multi-frame (mfTCN) models embed the clip ending at each timestep (``clip_indices``:
``t - (K-1)*stride .. t``, clamped at the first frame). Everything runs without
gradients, in eval mode, on CPU or GPU, ``data.embed_batch_size`` frames per forward pass;
a sequence is read and preprocessed in chunks, each frame decoded once per view.

The networks come from :mod:`timecontrast.models` (a checkpoint's network:
:func:`~timecontrast.models.load_trained_model`; the baselines:
:func:`~timecontrast.models.build_untrained_embedder`,
:func:`~timecontrast.models.build_pretrained_trunk`); this module only runs them.

Example::

    from timecontrast.inference import Embedder
    emb = Embedder.from_checkpoint("runs/pouring")          # latest checkpoint
    vectors = emb.embed_images(frames)                       # [N, 32]
    for item in emb.embed_sequences("data/val/records"):
        print(item.name, item.embeddings.shape)              # [views, T, 32]
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import torch

from timecontrast.config import TCNConfig
from timecontrast.data.records import SequenceRecord, open_sequences
from timecontrast.data.samplers import clip_indices
from timecontrast.data.sequence import EmbeddedSequence, MultiViewSequence
from timecontrast.data.transforms import EvalTransform, eval_transform_for
from timecontrast.devices import resolve_device
from timecontrast.errors import ConfigError, DataError
from timecontrast.export import ExportResult, ModelInfo, export_embeddings
from timecontrast.models import (
    EmbeddingNetwork,
    PooledTrunk,
    build_pretrained_trunk,
    build_untrained_embedder,
    load_trained_model,
)


class Embedder:
    """An embedding model in eval mode with its evaluation preprocessing.

    ``Embedder(model, cfg)`` wraps an in-memory model (``cfg`` gives the preprocessing:
    ``data.height``/``width``, ``data.preprocessing.eval_cropping``, the batch size
    ``data.embed_batch_size`` and, when ``device`` is None, ``runtime.device``). Build one
    with :meth:`from_checkpoint`, :meth:`untrained` or :meth:`pretrained_trunk`.
    """

    def __init__(
        self,
        model: EmbeddingNetwork | PooledTrunk,
        cfg: TCNConfig,
        device: str | torch.device | None = None,
        batch_size: int | None = None,
        *,
        step: int | None = None,
        source: str = "model",
    ) -> None:
        self.cfg = cfg
        # A CUDA runtime.device of a run trained elsewhere falls back to the CPU with a warning.
        self.device = resolve_device(device, cfg.runtime.device, fall_back_to_cpu=True)
        self.model = model.to(self.device).eval()
        self.transform: EvalTransform = eval_transform_for(cfg, model)
        self.batch_size = int(batch_size or cfg.data.embed_batch_size)
        if self.batch_size < 1:
            raise ConfigError(f"data.embed_batch_size must be >= 1, got {self.batch_size}")
        self.num_frames = int(getattr(model, "num_frames", 1))
        self.frame_stride = int(getattr(model, "frame_stride", 1))
        self.embedding_size = int(model.embedding_size)
        self.step = step
        self.source = source

    def __repr__(self) -> str:
        return (
            f"Embedder({self.source}, step={self.step}, {type(self.model).__name__}, frames={self.num_frames}, "
            f"D={self.embedding_size}, device={self.device})"
        )

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_checkpoint(
        cls,
        path_or_logdir: str | os.PathLike,
        step: int | None = None,
        device: str | torch.device | None = None,
        batch_size: int | None = None,
    ) -> Embedder:
        """Rebuild the model from a checkpoint's own config and load its weights strictly.

        ``path_or_logdir``: a ``ckpt-<step>.pt`` file, a checkpoints folder or a logdir
        (its latest checkpoint, or the one of ``step``).
        """
        trained = load_trained_model(path_or_logdir, step)
        return cls(trained.model, trained.config, device, batch_size, step=trained.step, source=str(trained.path))

    @classmethod
    def untrained(
        cls, cfg: TCNConfig, seed: int = 0, device: str | torch.device | None = None, batch_size: int | None = None
    ) -> Embedder:
        """The same network with random weights everywhere (trunk included): the baseline.
        The global torch random state is left untouched."""
        return cls(build_untrained_embedder(cfg, seed), cfg, device, batch_size, source=f"untrained (seed {seed})")

    @classmethod
    def pretrained_trunk(
        cls, cfg: TCNConfig, device: str | torch.device | None = None, batch_size: int | None = None
    ) -> Embedder:
        """The configured trunk with its pretrained weights, average-pooled (no head).

        Weights: the trunk section's ``pretrained_checkpoint`` if set, else torchvision's
        ImageNet weights (resnet, inception_conv_ss_fc). Raises :class:`DependencyError`
        when no pretrained weights exist or they cannot be fetched.
        """
        model = build_pretrained_trunk(cfg)
        return cls(model, cfg, device, batch_size, source=f"pretrained {cfg.embedder_strategy} trunk")

    # ------------------------------------------------------------------------ core
    @torch.no_grad()
    def _forward(self, x: torch.Tensor) -> np.ndarray:
        """Normalised ``[B, 3, h, w]`` (or clips ``[B, K, 3, h, w]``) -> ``[B, D]`` float32 numpy."""
        return self.model(x.to(self.device)).float().cpu().numpy()

    def _preprocess(self, frames: np.ndarray | torch.Tensor) -> torch.Tensor:
        """uint8 ``[N, H, W, 3]`` -> normalised ``[N, 3, h, w]`` on the device."""
        x = torch.from_numpy(np.ascontiguousarray(frames)) if isinstance(frames, np.ndarray) else frames
        return self.transform(x.to(self.device))

    def embed_stream(self, read: Callable[[int, int], np.ndarray], length: int) -> Iterator[np.ndarray]:
        """Embed timesteps ``0..length-1`` of one frame stream, in order, chunk by chunk.

        ``read(lo, hi)`` returns uint8 frames ``[hi - lo, H, W, 3]``. Each frame is read
        and preprocessed once; a multi-frame model keeps the last ``(K-1)*stride``
        preprocessed frames for the next chunk's clips. Yields ``[c, D]`` arrays.
        """
        k, stride = self.num_frames, self.frame_stride
        span = (k - 1) * stride
        per_batch = max(1, self.batch_size // k)  # clips per forward pass
        kept: torch.Tensor | None = None  # preprocessed frames [n, 3, h, w] of timesteps [kept_lo, kept_lo + n)
        kept_lo = 0
        for s in range(0, length, per_batch):
            e = min(length, s + per_batch)
            lo = max(0, s - span)
            have_hi = kept_lo + len(kept) if kept is not None else lo
            parts = [kept[lo - kept_lo :]] if kept is not None else []
            parts.append(self._preprocess(read(max(have_hi, lo), e)))
            frames = torch.cat(parts) if len(parts) > 1 else parts[0]  # timesteps [lo, e)
            if k == 1:
                x = frames[s - lo :]  # [c, 3, h, w]
            else:
                idx = np.stack([clip_indices(t, k, stride) for t in range(s, e)]) - lo  # [c, K]
                x = frames[torch.from_numpy(idx).to(frames.device)]  # [c, K, 3, h, w]
            kept, kept_lo = frames, lo
            yield self._forward(x)

    # ---------------------------------------------------------------- mode 3: images
    def _as_uint8(self, images: Any) -> np.ndarray:
        if isinstance(images, torch.Tensor):
            images = images.detach().cpu().numpy()
        if not isinstance(images, np.ndarray):
            raise DataError(f"embed_images takes a numpy array of images, got {type(images).__name__}")
        if images.ndim == 3:
            images = images[None]
        lead_ok = images.ndim == 4 or (images.ndim == 5 and self.num_frames > 1)
        if not lead_ok or images.shape[-1] != 3:
            want = "[N, H, W, 3] or [H, W, 3]" + (" (or clips [N, K, H, W, 3])" if self.num_frames > 1 else "")
            raise DataError(f"images must be RGB {want}, got shape {images.shape}")
        if images.dtype == np.uint8:
            return images
        if np.issubdtype(images.dtype, np.floating):
            lo, hi = (float(images.min()), float(images.max())) if images.size else (0.0, 0.0)
            if lo < 0.0 or hi > 1.0 or not np.isfinite([lo, hi]).all():
                raise DataError(
                    f"float images must lie in [0, 1], got values in [{lo:g}, {hi:g}]; divide uint8 frames by 255 "
                    "or pass them as uint8"
                )
            # 8-bit quantisation is exact for frames that came from uint8 (x / 255).
            return np.round(images * 255.0).astype(np.uint8)
        raise DataError(f"images must be uint8 or float in [0, 1], got dtype {images.dtype}")

    def embed_images(
        self, images: np.ndarray | torch.Tensor, return_preprocessed: bool = False
    ) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """``[N, D]`` float32 embeddings of ``[N, H, W, 3]`` or ``[H, W, 3]`` frames.

        uint8, or float in [0, 1]. A multi-frame model treats ``[N, H, W, 3]`` as a stream
        of consecutive frames (the clip ending at each frame, clamped at the first) and
        also takes clips ``[N, K, H, W, 3]``. ``return_preprocessed``: also return the
        cropped and resized frames ``[N, h, w, 3]`` uint8 (for display).
        """
        frames = self._as_uint8(images)
        if frames.ndim == 5:  # explicit clips [N, K, H, W, 3]
            if frames.shape[1] != self.num_frames:
                raise DataError(f"clips must have {self.num_frames} frames, got shape {frames.shape}")
            per_batch = max(1, self.batch_size // self.num_frames)
            chunks = [
                self._forward(self._preprocess(frames[s : s + per_batch])) for s in range(0, len(frames), per_batch)
            ]
        else:
            chunks = list(self.embed_stream(lambda lo, hi: frames[lo:hi], len(frames)))
        emb = np.concatenate(chunks) if chunks else np.zeros((0, self.embedding_size), np.float32)
        if not return_preprocessed:
            return emb
        last = frames[:, -1] if frames.ndim == 5 else frames
        shown = self.transform.uint8(torch.from_numpy(np.ascontiguousarray(last)))  # [N, 3, h, w]
        return emb, shown.permute(0, 2, 3, 1).contiguous().numpy()

    # ------------------------------------------------------------- mode 2: sequences
    def embed_sequence(self, sequence: MultiViewSequence, views: Sequence[int] | None = None) -> np.ndarray:
        """``[V, T, D]`` float32 embeddings of one multi-view sequence (``views``: all by default)."""
        views = list(range(sequence.num_views)) if views is None else list(views)
        out = np.empty((len(views), sequence.length, self.embedding_size), np.float32)
        for i, v in enumerate(views):
            s = 0

            def read(lo: int, hi: int, view: int = v) -> np.ndarray:
                return sequence.frames(view, range(lo, hi))

            for chunk in self.embed_stream(read, sequence.length):
                out[i, s : s + len(chunk)] = chunk
                s += len(chunk)
        return out

    def embed_sequences(
        self,
        sequences: str | os.PathLike | Iterable[MultiViewSequence],
        num_sequences: int = -1,
        num_views: int | None = None,
    ) -> Iterator[EmbeddedSequence]:
        """Yield an :class:`~timecontrast.data.sequence.EmbeddedSequence` (``name``,
        ``embeddings [V, T, D]``, ``sequence``) per sequence of records (a file, directory,
        glob, or sequence objects), up to ``num_sequences`` (-1 = all). ``num_views``:
        the first views only (None = every view)."""
        if isinstance(sequences, str | os.PathLike):
            sequences = open_sequences(sequences, num_views=num_views)
        views = None if num_views is None else list(range(num_views))
        for i, seq in enumerate(sequences):
            if 0 <= num_sequences <= i:
                return
            if isinstance(seq, str | os.PathLike):
                seq = SequenceRecord(seq, num_views=num_views)
            if num_views is not None and seq.num_views < num_views:
                raise DataError(f"sequence '{seq.name}' has {seq.num_views} views, fewer than the {num_views} asked")
            yield EmbeddedSequence(seq.name, self.embed_sequence(seq, views), seq)

    # --------------------------------------------------------------- mode 1: loaders
    def embed_loader(self, batches: Iterable[Mapping[str, Any]], image_key: str = "images") -> Iterator[dict]:
        """For each dict batch, ``{"embeddings": [B, D] float32, **every other entry}``.

        ``batch[image_key]``: normalised float ``[B, 3, h, w]`` (clips ``[B, K, 3, h, w]``),
        as the training loaders make, or raw uint8 frames ``[B, H, W, 3]`` that get the
        evaluation preprocessing here.
        """
        for i, batch in enumerate(batches):
            if not isinstance(batch, Mapping) or image_key not in batch:
                raise DataError(f"batch {i}: embed_loader needs dict batches with an '{image_key}' entry")
            x = batch[image_key]
            x = torch.as_tensor(x) if not isinstance(x, torch.Tensor) else x
            if x.dtype == torch.uint8 and x.shape[-1] == 3:  # raw frames [B, H, W, 3] (clips [B, K, H, W, 3])
                x = self._preprocess(x)
            elif not torch.is_floating_point(x):
                raise DataError(f"batch {i}: '{image_key}' must be float (normalised) or uint8 [B, H, W, 3]")
            out = {k: v for k, v in batch.items() if k != image_key}
            out["embeddings"] = self._forward(x)
            yield out

    # ---------------------------------------------------------------------- export
    def export(
        self,
        records: str | os.PathLike | Iterable[MultiViewSequence],
        outdir: str | os.PathLike,
        format: str = "npz",
        views: Sequence[int] | None = None,
        overwrite: bool = False,
        num_sequences: int = -1,
    ) -> ExportResult:
        """Write every sequence's embeddings to ``outdir``, one file each, then ``manifest.json``.

        Per sequence ``[V, T, D]`` float32 embeddings with the sequence name, views, timesteps,
        every per-frame label and (where known) the true state, as ``format`` ``npz`` or
        ``parquet`` (:mod:`timecontrast.export.formats`). Streams; each file is written
        atomically; a re-run skips what this model already exported (``overwrite``: redo all).
        """
        model = ModelInfo.describe(self.model, self.cfg, checkpoint=self.source, step=self.step)
        wanted = None if views is None else list(views)
        return export_embeddings(records, self.embed_sequence, outdir, model, format, wanted, overwrite, num_sequences)


__all__ = ["EmbeddedSequence", "Embedder"]
