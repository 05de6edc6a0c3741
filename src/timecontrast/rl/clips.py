"""From a stream of frames to TCN observations, for several environments at once.

An environment gives one frame per step; a single-frame model embeds it, a multi-frame
(mfTCN) model embeds the clip ending at it. The clip is the one training uses:
:func:`timecontrast.data.samplers.clip_indices` ``(t, K, stride)``, i.e. frames
``t - (K-1)*stride, ..., t`` of the episode, with the first frame repeated at the start
of an episode (as the training loaders clamp at the start of a sequence). Only the last
``(K-1)*stride + 1`` frames of each episode are kept.

A single-frame model can also be given ``frames=K > 1``: the observation is then the
concatenation of the embeddings of the last ``K`` frames (stride 1, the first repeated at
the start), the usual frame stacking of RL, with each frame embedded once.

Every call of :meth:`EmbeddingClips.embed` makes one batched embedder call, however many
environments and episode boundaries it covers.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

import numpy as np

from timecontrast.data.samplers import clip_indices
from timecontrast.errors import ConfigError, DataError
from timecontrast.inference import Embedder


def check_frame(frame: np.ndarray, where: str) -> np.ndarray:
    """An RGB frame ``[H, W, 3]`` uint8 as a numpy array, or a :class:`DataError` naming ``where``."""
    frame = np.asarray(frame)
    if frame.ndim != 3 or frame.shape[-1] != 3 or frame.dtype != np.uint8:
        raise DataError(
            f"{where} must be an RGB frame [H, W, 3] uint8, got {frame.dtype} {tuple(frame.shape)}; "
            "wrap an environment whose render() or observation is an RGB image"
        )
    return frame


class EmbeddingClips:
    """The per-episode frame (or embedding) history of ``num_envs`` environments.

    ``frames``: None takes the model's clip length (``embedder.num_frames``); a
    multi-frame model accepts only its own; a single-frame model stacks ``frames``
    embeddings. ``size`` is the observation length: ``D``, or ``frames * D`` when stacking.
    """

    def __init__(self, embedder: Embedder, num_envs: int = 1, frames: int | None = None) -> None:
        if num_envs < 1:
            raise ConfigError(f"num_envs must be at least 1, got {num_envs}")
        self.embedder = embedder
        self.model_frames = int(embedder.num_frames)
        self.stride = int(embedder.frame_stride)
        if frames is None:
            frames = self.model_frames
        if not isinstance(frames, (int, np.integer)) or frames < 1:
            raise ConfigError(f"frames must be a whole number >= 1, got {frames!r}")
        if self.model_frames > 1 and frames != self.model_frames:
            raise ConfigError(
                f"the multi-frame model of {embedder.source} embeds clips of {self.model_frames} frames "
                f"(multi_frame.num_frames); frames={frames} does not fit it: leave frames unset or pass "
                f"frames={self.model_frames}"
            )
        self.frames = int(frames)
        self.stack = self.frames if self.model_frames == 1 else 1
        self.size = int(embedder.embedding_size) * self.stack
        span = (self.model_frames - 1) * self.stride + 1
        self._frames: list[deque[np.ndarray]] = [deque(maxlen=span) for _ in range(num_envs)]
        self._embeddings: list[deque[np.ndarray]] = [deque(maxlen=self.stack) for _ in range(num_envs)]
        self._t = [-1] * num_envs  # timestep of the latest frame of each env's episode

    @property
    def num_envs(self) -> int:
        return len(self._t)

    def timestep(self, env: int = 0) -> int:
        """The episode timestep of env ``env``'s latest frame (0 = the frame of the reset)."""
        return self._t[env]

    def clip(self, env: int = 0) -> np.ndarray:
        """The clip a multi-frame model embeds now for env ``env``: ``[K, H, W, 3]`` uint8
        (``[1, H, W, 3]``, the latest frame, for a single-frame model)."""
        t, kept = self._t[env], self._frames[env]
        if t < 0:
            raise DataError("no frame yet: the environment must be reset before it is stepped")
        first = t - len(kept) + 1  # episode timestep of kept[0]
        return np.stack([kept[int(u) - first] for u in clip_indices(t, self.model_frames, self.stride)])

    def embed(self, updates: Sequence[tuple[int, np.ndarray, bool]]) -> np.ndarray:
        """Add frames and return the observation after each: ``[len(updates), size]`` float32.

        ``updates``: ``(env, frame [H, W, 3] uint8, starts_episode)`` in the order they
        happened (an env may appear twice: its episode's last frame, then the first of the
        next). One embedder call for all of them.
        """
        if not updates:
            return np.zeros((0, self.size), np.float32)
        inputs, timesteps = [], []
        for env, frame, starts in updates:
            frame = check_frame(frame, "the frame")
            if starts:
                self._frames[env].clear()
                self._t[env] = -1
            self._t[env] += 1
            self._frames[env].append(frame)
            timesteps.append(self._t[env])
            inputs.append(self.clip(env) if self.model_frames > 1 else frame)
        emb = np.asarray(self.embedder.embed_images(np.stack(inputs)), dtype=np.float32)  # [N, D]
        if self.stack == 1:
            return emb
        out = np.empty((len(updates), self.size), np.float32)
        for row, ((env, _, starts), t, e) in enumerate(zip(updates, timesteps, emb)):
            kept = self._embeddings[env]
            if starts:
                kept.clear()
            kept.append(e)
            first = t - len(kept) + 1
            out[row] = np.concatenate([kept[int(u) - first] for u in clip_indices(t, self.stack, 1)])
        return out


__all__ = ["EmbeddingClips", "check_frame"]
