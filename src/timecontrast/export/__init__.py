"""Embeddings out, for other tools: ``npz`` or ``parquet`` files per sequence and a ``manifest.json``.

``Embedder.export`` (and ``tcn export``) run :func:`export_embeddings` with the embedder's
own ``embed_sequence``; the file layout is in :mod:`timecontrast.export.formats` and
:mod:`timecontrast.export.manifest` (and docs/data-format.md).
"""

from timecontrast.export.content import UNLABELED, SequenceExport, sequence_labels
from timecontrast.export.exporter import (
    ExportResult,
    check_format,
    check_outdir,
    check_records,
    export_embeddings,
    file_name,
)
from timecontrast.export.formats import FORMATS, LABEL_PREFIX, METADATA_KEY
from timecontrast.export.manifest import MANIFEST_NAME, ModelInfo, config_sha256, weights_sha256

__all__ = [
    "FORMATS",
    "LABEL_PREFIX",
    "MANIFEST_NAME",
    "METADATA_KEY",
    "UNLABELED",
    "ExportResult",
    "ModelInfo",
    "SequenceExport",
    "check_format",
    "check_outdir",
    "check_records",
    "config_sha256",
    "export_embeddings",
    "file_name",
    "sequence_labels",
    "weights_sha256",
]
