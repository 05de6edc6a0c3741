"""The Embedder: a trained model you can call on images, sequence records and loaders.

The original release offered three inference modes through ``estimator.inference``;
they are three methods here, with ``inference(x)`` dispatching on the input type:

- ``embed_images(frames)``: ``[N, H, W, 3]`` / ``[H, W, 3]`` uint8 (or float in [0, 1])
  -> ``[N, D]`` float32, with the evaluation preprocessing (mode 3, e.g. a live stream);
- ``embed_sequences(records)``: per multi-view sequence, ``embeddings [V, T, D]``, its
  name and the sequence object for the raw frames (mode 2);
- ``embed_loader(batches)``: per dict batch, ``{"embeddings": [B, D], **metadata}`` (mode 1).

Multi-frame (mfTCN) models embed the clip ending at each timestep (``clip_indices``:
``t - (K-1)*stride .. t``, clamped at the first frame). Everything runs without
gradients, in eval mode, on CPU or GPU, ``data.embed_batch_size`` frames per forward pass;
a sequence is read and preprocessed in chunks, each frame decoded once per view.

Example::

    from timecontrast.inference import Embedder
    emb = Embedder.from_checkpoint("runs/pouring")          # latest checkpoint
    vectors = emb.embed_images(frames)                       # [N, 32]
    for item in emb.embed_sequences("data/val/records"):
        print(item.name, item.embeddings.shape)              # [views, T, 32]
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf
from torch import nn

from timecontrast.config import config_from_dict
from timecontrast.data.records import SequenceRecord, open_sequences
from timecontrast.data.samplers import clip_indices
from timecontrast.data.sequence import MultiViewSequence
from timecontrast.data.transforms import EvalTransform, eval_transform_for
from timecontrast.errors import CheckpointError, ConfigError, DataError, DependencyError
from timecontrast.models import build_embedder, list_checkpoints, load_checkpoint, load_model_state

log = logging.getLogger(__name__)

# Config sections whose trunk weights come from outside (torchvision or a local file).
_PRETRAINED_SECTIONS = ("inception_conv_ss_fc", "resnet", "small_conv", "multi_frame")


class SequenceEmbeddings(NamedTuple):
    """One embedded sequence: ``embeddings [V, T, D]`` float32, its ``name``, and the
    ``sequence`` itself (``sequence.frame(view, t)`` gives the raw frames)."""

    embeddings: np.ndarray
    name: str
    sequence: MultiViewSequence


def resolve_device(device: str | torch.device | None, cfg: DictConfig | None = None) -> torch.device:
    """``device``, else ``runtime.device`` of ``cfg`` ("auto": CUDA when available, else CPU).

    An explicit CUDA ``device`` without CUDA is an error; a CUDA ``runtime.device`` from a
    config (e.g. of a run trained elsewhere) falls back to the CPU with a warning.
    """
    name = str(device) if device is not None else (str(cfg.runtime.device) if cfg is not None else "auto")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"device '{name}' is not a torch device; use cpu, cuda or cuda:N") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        if device is not None:
            raise DependencyError(f"device '{name}' was asked for but CUDA is not available; use --device cpu")
        log.warning("runtime.device is '%s' but CUDA is not available; embedding on the CPU", name)
        return torch.device("cpu")
    return dev


def _without_pretrained(cfg: DictConfig) -> DictConfig:
    """A copy of ``cfg`` whose trunks start random: the weights come from elsewhere (a checkpoint)."""
    out = OmegaConf.create(OmegaConf.to_container(cfg, resolve=True))
    for section in _PRETRAINED_SECTIONS:
        if "pretrained" in out[section]:
            out[section].pretrained = "none"
        out[section].pretrained_checkpoint = ""
    return config_from_dict(OmegaConf.to_container(out), "config")  # type: ignore[arg-type]


@contextlib.contextmanager
def _quiet(logger_name: str, level: int = logging.ERROR):
    """Silence a logger for a moment (the "frozen trunk has random weights" warning
    is wrong when the weights are about to be loaded from a checkpoint)."""
    logger = logging.getLogger(logger_name)
    old = logger.level
    logger.setLevel(level)
    try:
        yield
    finally:
        logger.setLevel(old)


def _build_random(cfg: DictConfig, seed: int | None) -> nn.Module:
    """Build the model of ``cfg`` with random trunk weights (initialised from ``seed`` if given)."""
    with _quiet("timecontrast.models.embedders"), torch.random.fork_rng(devices=[]):
        if seed is not None:
            torch.manual_seed(seed)
        return build_embedder(_without_pretrained(cfg))


def _is_sequence(x: Any) -> bool:
    """Duck-typed MultiViewSequence check on the class (``isinstance`` against the runtime
    protocol would evaluate properties such as ``state``, which loads a file)."""
    return all(hasattr(type(x), a) for a in ("frame", "frames", "num_views", "length"))


class PooledTrunk(nn.Module):
    """A pretrained trunk alone, globally average-pooled: the "ImageNet features" baseline.

    Has the embedder attributes (``input_size``, ``mean``, ``std``, ``num_frames`` = 1,
    ``frame_stride``, ``embedding_size`` = the trunk's channels).
    """

    def __init__(self, trunk, input_size: tuple[int, int]) -> None:
        super().__init__()
        self.trunk = trunk.module
        self.mean, self.std = tuple(trunk.mean), tuple(trunk.std)
        self.input_size = tuple(input_size)
        self.num_frames, self.frame_stride = 1, 1
        self.embedding_size = int(trunk.out_channels)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.trunk(images).mean(dim=(2, 3))  # [B, C, h, w] -> [B, C]


class Embedder:
    """An embedding model in eval mode with its evaluation preprocessing.

    ``Embedder(model, cfg)`` wraps an in-memory model (``cfg`` gives the preprocessing:
    ``data.height``/``width``, ``data.preprocessing.eval_cropping``, and the batch size
    ``data.embed_batch_size``). Build one with :meth:`from_checkpoint`, :meth:`untrained`
    or :meth:`pretrained_trunk`.
    """

    def __init__(
        self,
        model: nn.Module,
        cfg: DictConfig,
        device: str | torch.device | None = None,
        batch_size: int | None = None,
        *,
        step: int | None = None,
        source: str = "model",
    ) -> None:
        self.cfg = cfg
        self.device = resolve_device(device, cfg)
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
        path = Path(path_or_logdir).expanduser()
        if path.is_dir():
            found = list_checkpoints(path)
            if not found:
                raise CheckpointError(f"no checkpoint (ckpt-<step>.pt) under '{path}'; train first or give a file")
            if step is None:
                path = found[-1][1]
            else:
                by_step = dict(found)
                if int(step) not in by_step:
                    raise CheckpointError(
                        f"'{path}' has no checkpoint of step {step}; it has steps {[s for s, _ in found]}"
                    )
                path = by_step[int(step)]
        state = load_checkpoint(path)
        if not state.get("config"):
            raise CheckpointError(f"checkpoint '{path}' holds no config; it cannot be rebuilt")
        cfg = config_from_dict(state["config"], f"config of checkpoint '{path}'")
        model = _build_random(cfg, seed=None)
        load_model_state(model, state["model"], source=f"checkpoint '{path}'")
        return cls(model, cfg, device, batch_size, step=int(state["step"]), source=str(path))

    @classmethod
    def untrained(
        cls, cfg: DictConfig, seed: int = 0, device: str | torch.device | None = None, batch_size: int | None = None
    ) -> Embedder:
        """The same network with random weights everywhere (trunk included): the baseline."""
        return cls(_build_random(cfg, seed), cfg, device, batch_size, source=f"untrained (seed {seed})")

    @classmethod
    def pretrained_trunk(
        cls, cfg: DictConfig, device: str | torch.device | None = None, batch_size: int | None = None
    ) -> Embedder:
        """The configured trunk with its pretrained weights, average-pooled (no head).

        Weights: the trunk section's ``pretrained_checkpoint`` if set, else torchvision's
        ImageNet weights (resnet, inception_conv_ss_fc). Raises :class:`DependencyError`
        when no pretrained weights exist or they cannot be fetched.
        """
        from timecontrast.models import inception_v3_trunk, resnet_trunk, small_conv_trunk

        strategy = cfg.embedder_strategy
        size = (int(cfg.data.height), int(cfg.data.width))
        try:
            if strategy == "resnet":
                s = cfg.resnet
                ckpt = s.pretrained_checkpoint or None
                trunk = resnet_trunk(s.depth, s.pretrained_layer, "none" if ckpt else "imagenet", ckpt)
            elif strategy == "inception_conv_ss_fc":
                s = cfg.inception_conv_ss_fc
                ckpt = s.pretrained_checkpoint or None
                trunk = inception_v3_trunk(s.pretrained_layer, "none" if ckpt else "imagenet", ckpt)
            elif strategy == "small_conv" and cfg.small_conv.pretrained_checkpoint:
                s = cfg.small_conv
                trunk = small_conv_trunk(list(s.channels), 1.0, s.pretrained_checkpoint)
            else:
                raise DependencyError(
                    f"embedder_strategy {strategy} has no pretrained trunk weights (ImageNet weights exist for "
                    "resnet and inception_conv_ss_fc; small_conv needs small_conv.pretrained_checkpoint)"
                )
        except DependencyError:
            raise
        except Exception as exc:  # no internet, a bad weights file, ...
            raise DependencyError(f"pretrained trunk weights for {strategy} are not available: {exc}") from None
        return cls(PooledTrunk(trunk, size), cfg, device, batch_size, source=f"pretrained {strategy} trunk")

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
            for chunk in self.embed_stream(lambda lo, hi, v=v: sequence.frames(v, range(lo, hi)), sequence.length):
                out[i, s : s + len(chunk)] = chunk
                s += len(chunk)
        return out

    def embed_sequences(
        self,
        sequences: str | os.PathLike | Iterable[MultiViewSequence],
        num_sequences: int = -1,
        num_views: int | None = None,
    ) -> Iterator[SequenceEmbeddings]:
        """Yield :class:`SequenceEmbeddings` per sequence of records (a file, directory,
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
            if views is not None and seq.num_views < num_views:
                raise DataError(f"sequence '{seq.name}' has {seq.num_views} views, fewer than the {num_views} asked")
            yield SequenceEmbeddings(self.embed_sequence(seq, views), seq.name, seq)

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

    # ------------------------------------------------------------------- dispatch
    def inference(self, x: Any, **kwargs) -> Any:
        """Dispatch on the input like the original ``estimator.inference``.

        - a callable (an input function returning batches) or an iterable of dict
          batches (e.g. a DataLoader): :meth:`embed_loader`, an iterator of dicts;
        - a path (file, directory or glob of ``.tfrecord``) or a list of paths or of
          sequence objects: :meth:`embed_sequences`, an iterator of SequenceEmbeddings;
        - a numpy array / tensor of images, or a list of them: :meth:`embed_images`,
          ``[N, D]`` (lists are concatenated).
        """
        if isinstance(x, np.ndarray | torch.Tensor):
            return self.embed_images(x, **kwargs)
        if isinstance(x, str | os.PathLike):
            return self.embed_sequences(x, **kwargs)
        if _is_sequence(x):
            return self.embed_sequences([x], **kwargs)
        if callable(x) and not isinstance(x, Iterable):
            return self.embed_loader(x(), **kwargs)
        if isinstance(x, Iterable) and not isinstance(x, bytes | Mapping):
            it = iter(x)
            try:
                first = next(it)
            except StopIteration:
                raise DataError("inference was given an empty collection") from None
            rest = itertools.chain([first], it)
            if isinstance(first, Mapping):
                return self.embed_loader(rest, **kwargs)
            if isinstance(first, np.ndarray | torch.Tensor):
                parts = [self.embed_images(a, **kwargs) for a in rest]
                if kwargs.get("return_preprocessed"):
                    return np.concatenate([p[0] for p in parts]), [p[1] for p in parts]
                return np.concatenate(parts)
            if isinstance(first, str | os.PathLike):
                return self.embed_sequences(
                    [s for p in rest for s in open_sequences(p, num_views=kwargs.get("num_views"))], **kwargs
                )
            if _is_sequence(first):
                return self.embed_sequences(rest, **kwargs)
            raise DataError(f"inference cannot embed a collection of {type(first).__name__}")
        raise DataError(
            f"inference cannot embed a {type(x).__name__}: give images (numpy [N, H, W, 3]), record paths, "
            "sequences, or dict batches"
        )


__all__ = ["Embedder", "PooledTrunk", "SequenceEmbeddings", "resolve_device"]
