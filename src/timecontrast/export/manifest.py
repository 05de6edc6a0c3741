"""The model an export came from, and ``manifest.json``: written last, so its presence marks a
complete export.

``manifest.json``::

    format_version   1
    format           "npz" | "parquet"
    model            checkpoint (path), step, config_sha256 (sha256 of the model's config as
                     YAML, the body of its final_training_config.yaml), weights_sha256 (of its
                     parameters and buffers), embedding_size, frames_per_clip
    embedding_size   D
    records          what was exported (the --records path)
    views            the views asked for (null: every view of each sequence)
    unlabeled        the label value of a timestep without a label (-1)
    num_sequences, num_rows (frames x views over all sequences)
    sequences        per sequence: name, file, source, views, length, labels (names),
                     state (position and velocity names, or null)

While an export runs, ``.export.json`` beside it holds what is being exported (the format,
model and views): a later run with another model or format stops instead of mixing files,
unless told to overwrite.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from omegaconf import OmegaConf

from timecontrast import __version__
from timecontrast.errors import DataError
from timecontrast.io.files import write_text

MANIFEST_NAME = "manifest.json"
PENDING_NAME = ".export.json"  # what an unfinished export is writing
FORMAT_VERSION = 1


def config_sha256(cfg: Any) -> str:
    """sha256 of a config tree as YAML (what ``save_config`` writes after its comment line)."""
    return hashlib.sha256(OmegaConf.to_yaml(cfg, sort_keys=False).encode()).hexdigest()


def weights_sha256(model: torch.nn.Module) -> str:
    """sha256 of a network's parameters and buffers (names, dtypes, shapes and bytes)."""
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        t = tensor.detach().cpu().contiguous()
        digest.update(f"{name}:{t.dtype}:{tuple(t.shape)};".encode())
        digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


@dataclass(frozen=True)
class ModelInfo:
    """What the manifest says about the model that made the embeddings."""

    checkpoint: str  # the checkpoint file, or what built the model (e.g. "untrained (seed 0)")
    step: int | None
    config_sha256: str
    weights_sha256: str
    embedding_size: int
    frames_per_clip: int

    @classmethod
    def describe(cls, model: torch.nn.Module, cfg: Any, checkpoint: str, step: int | None) -> ModelInfo:
        return cls(
            checkpoint=checkpoint,
            step=step,
            config_sha256=config_sha256(cfg),
            weights_sha256=weights_sha256(model),
            embedding_size=int(getattr(model, "embedding_size")),  # noqa: B009 - nn.Module's __getattr__ is untyped
            frames_per_clip=int(getattr(model, "num_frames", 1)),
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def export_identity(fmt: str, model: ModelInfo, views: list[int] | None) -> dict[str, Any]:
    """What makes two exports the same: the format, the views asked for and the model (not
    where its checkpoint lies, so a moved run still resumes)."""
    same_model = {k: v for k, v in model.to_dict().items() if k != "checkpoint"}
    return {"format": fmt, "views": views, "model": same_model}


def read_json(path: Path) -> dict[str, Any] | None:
    """A JSON object from ``path`` (None when absent)."""
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: not a readable export file ({exc}); delete it or pass --overwrite") from None
    if not isinstance(data, dict):
        raise DataError(f"{path}: not an export file (a JSON object); delete it or pass --overwrite")
    return data


def previous_identity(outdir: Path) -> dict[str, Any] | None:
    """What ``outdir`` holds an export of: an unfinished export's, else a finished one's."""
    pending = read_json(outdir / PENDING_NAME)
    if pending is not None:
        return pending.get("identity")
    manifest = read_json(outdir / MANIFEST_NAME)
    if manifest is None:
        return None
    return export_identity(manifest.get("format", ""), _model_of(manifest), manifest.get("views"))


def _model_of(manifest: dict[str, Any]) -> ModelInfo:
    model = manifest.get("model") or {}
    try:
        return ModelInfo(**model)
    except TypeError:
        return ModelInfo("", None, "", "", 0, 0)  # another version's manifest: never the same


def describe_difference(old: dict[str, Any], new: dict[str, Any]) -> str:
    """What differs between two identities, for a message."""
    parts = []
    if old.get("format") != new.get("format"):
        parts.append(f"format {old.get('format')} (now {new.get('format')})")
    if old.get("views") != new.get("views"):
        parts.append(f"views {old.get('views')} (now {new.get('views')})")
    old_model, new_model = old.get("model") or {}, new.get("model") or {}
    if old_model != new_model:
        parts.append(f"another model (step {old_model.get('step')}, now step {new_model.get('step')})")
    return ", ".join(parts) or "another export"


def write_manifest(
    outdir: Path,
    fmt: str,
    model: ModelInfo,
    records: str,
    views: list[int] | None,
    sequences: list[dict[str, Any]],
    unlabeled: int,
) -> Path:
    """Write ``outdir/manifest.json`` atomically and durably."""
    manifest = {
        "format_version": FORMAT_VERSION,
        "timecontrast_version": __version__,
        "format": fmt,
        "model": model.to_dict(),
        "embedding_size": model.embedding_size,
        "records": records,
        "views": views,
        "unlabeled": unlabeled,
        "num_sequences": len(sequences),
        "num_rows": sum(len(s["views"]) * s["length"] for s in sequences),
        "sequences": sequences,
    }
    return write_text(outdir / MANIFEST_NAME, json.dumps(manifest, indent=1) + "\n", durable=True)
