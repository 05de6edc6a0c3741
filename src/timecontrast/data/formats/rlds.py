"""The format ``rlds``: RLDS episodes as TensorFlow Datasets stores them (Open X-Embodiment).

A prepared TFDS dataset is a version folder (``<dataset>/<version>/``) holding
``dataset_info.json`` (the splits and their shards), ``features.json`` (the feature schema)
and TFRecord shards ``<dataset>-<split>.tfrecord-00000-of-00004``. Each record is one
episode, a ``tf.train.Example`` whose ``steps`` are flattened: ``steps/observation/<key>``
holds one value per step (an image key: a bytes list of encoded JPEG/PNG images, one per
step), ``steps/action`` the actions ``[T * A]``, ``steps/is_first`` ... ``steps/reward``
one number per step; ``episode_metadata/<key>`` is per episode. Read without TensorFlow.

Mapping: the image features of ``steps/observation`` (``tfds.features.Image`` in
``features.json``) are the views, named by their key (``image``, ``wrist_image``;
``--cameras`` picks and orders them); episode ``n`` (counted over a split's shards in
order) of split ``s`` is the sequence ``<s>_episode_<n:06d>``. State: ``steps/observation/state``
is the position ``[T, K]`` (``state[0]`` ...); the other numeric observation keys and
``steps/action`` (a tensor, or a dict of them: ``action/<key>``) and ``steps/reward`` go to
the state file's ``extras``. ``--input_dir`` is the version folder, or one shard file (then the
schema is read from the first episode). A view's fingerprint: the shard's name, size,
modification time and the episode's index in it.

Problems, each failing its episode alone: a camera missing from it, views of unequal lengths (a step without an image), a damaged record or image, a state whose size is
not a multiple of the steps. A folder without ``features.json``, a ``features.json`` that is
not an RLDS schema (no ``steps`` dataset, no image observation), a ``--cameras`` key it does
not declare: a :class:`DataError` for the whole run, naming the file.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from timecontrast.data.formats.base import (
    SequenceProblem,
    SourceFormat,
    SourceSequence,
    ViewInfo,
    file_fingerprint,
    image_size,
    natural_key,
    pick_views,
)
from timecontrast.data.formats.tfrecords import (
    EncodedFramesReader,
    RecordRef,
    find_tfrecord_files,
    first_record,
    index_file,
    parse_example,
)
from timecontrast.data.state import SequenceState
from timecontrast.errors import DataError, TimeContrastError
from timecontrast.io.example import Example, feature_value

FEATURES_FILE = "features.json"
INFO_FILE = "dataset_info.json"
STEPS = "steps/"
OBSERVATION = "steps/observation/"
STATE_KEY = "state"
_IMAGE_CLASS = "tensorflow_datasets.core.features.image_feature.Image"
_SHARD = re.compile(r"^(?P<dataset>.+)-(?P<split>[^-]+)\.tfrecord(-(?P<shard>\d+)-of-\d+)?$")


# ------------------------------------------------------------------------ the schema
def _features_of(node: dict[str, Any], where: str) -> dict[str, Any]:
    """The ``{name: feature}`` of a FeaturesDict node of features.json."""
    try:
        return dict(node["featuresDict"]["features"])
    except (KeyError, TypeError):
        raise DataError(f"{where}: expected a FeaturesDict, found {node.get('pythonClassName', node)!r}") from None


def image_keys_of_schema(path: Path) -> list[str]:
    """The image observation keys that ``features.json`` declares, in its order."""
    try:
        schema = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: cannot read it as JSON ({exc}); re-download the dataset's metadata") from None
    top = _features_of(schema, str(path)) if isinstance(schema, dict) else {}
    steps = top.get("steps")
    if not isinstance(steps, dict) or "sequence" not in steps:
        raise DataError(
            f"{path}: not an RLDS schema (no 'steps' dataset among {sorted(top)}); --from rlds reads RLDS episodes"
        )
    try:
        step = _features_of(steps["sequence"]["feature"], f"{path} steps")
    except (KeyError, TypeError):
        raise DataError(f"{path}: 'steps' has no feature; the schema is damaged") from None
    observation = step.get("observation")
    fields = _features_of(observation, f"{path} steps/observation") if isinstance(observation, dict) else {}
    keys = [k for k, f in fields.items() if isinstance(f, dict) and f.get("pythonClassName") == _IMAGE_CLASS]
    if not keys:
        raise DataError(f"{path}: declares no image observation (steps/observation: {sorted(fields)}); nothing to view")
    return keys


def _is_image(data: bytes) -> bool:
    return data.startswith((b"\xff\xd8", b"\x89PNG"))


def image_keys_of_episode(ex: Example) -> list[str]:
    """The ``steps/observation/<key>`` bytes lists holding images, in name order."""
    keys = []
    for key, feature in sorted(ex.features.feature.items()):
        values = feature.bytes_list.value if feature.WhichOneof("kind") == "bytes_list" else []
        if key.startswith(OBSERVATION) and values and _is_image(values[0]):
            keys.append(key[len(OBSERVATION) :])
    return keys


# ------------------------------------------------------------------------ an episode
class RldsEpisode(SourceSequence):
    """One episode: record ``record`` with the views ``cameras`` (observation image keys)."""

    def __init__(self, name: str, record: RecordRef, cameras: list[str]) -> None:
        self.name = name
        self.record = record
        self.source = f"{record.where} (episode {name})"
        self.cameras = cameras
        self._infos: list[ViewInfo] | None = None
        self._state: SequenceState | None = None

    @property
    def view_names(self) -> list[str]:
        return list(self.cameras)

    def _episode(self) -> Example:
        return parse_example(self.record.read(), self.source)

    def views(self) -> list[ViewInfo]:
        """Read once with the state: the episode is parsed in the main process only here."""
        if self._infos is None:
            features = self._episode().features.feature
            infos = []
            for camera in self.cameras:
                key = OBSERVATION + camera
                if key not in features or features[key].WhichOneof("kind") != "bytes_list":
                    raise DataError(f"{self.source}: has no camera '{camera}' ({key})")
                images = features[key].bytes_list.value
                if not images:
                    raise DataError(f"{self.source}: camera '{camera}' holds no images")
                height, width = image_size(images[0], f"{self.source} '{camera}' step 0")
                fingerprint = file_fingerprint(self.record.path, record=self.record.index)
                infos.append(ViewInfo(camera, len(images), height, width, self.record.path, fingerprint))
            steps = _num_steps(features)
            lengths = {i.name: i.length for i in infos}
            if steps is not None and any(n != steps for n in lengths.values()):
                raise DataError(
                    f"{self.source}: {steps} steps but the cameras hold {lengths} images; a step lacks its image"
                )
            self._state = _state_of(features, steps or min(lengths.values()), self.source)
            self._infos = infos
        return self._infos

    def reader(self, view: int) -> EncodedFramesReader:
        info = self.views()[view]
        return EncodedFramesReader(self.record, "example", OBSERVATION + info.name, info.height, info.width)

    def state(self) -> SequenceState | None:
        self.views()
        return self._state


def _state_of(features: Any, steps: int, source: str) -> SequenceState | None:
    """``steps/observation/state`` as the position, the other numbers per step as extras."""
    arrays: dict[str, np.ndarray] = {}
    for key, feature in sorted(features.items()):
        kind = feature.WhichOneof("kind")
        if not key.startswith(STEPS) or kind not in ("float_list", "int64_list") or key in _FLAGS:
            continue
        values = np.asarray(feature_value(feature), np.float64)
        if values.size % steps:
            raise DataError(f"{source}: '{key}' holds {values.size} values for {steps} steps")
        arrays[key[len(STEPS) :]] = values.reshape(steps, -1)
    position = arrays.pop(f"observation/{STATE_KEY}", np.zeros((steps, 0)))
    names = [f"{STATE_KEY}[{i}]" for i in range(position.shape[1])]
    if not names and not arrays:
        return None
    return SequenceState(position, np.zeros((steps, 0)), names, [], extras=arrays)


_FLAGS = {"steps/is_first", "steps/is_last", "steps/is_terminal", "steps/discount"}


def _num_steps(features: Any) -> int | None:
    """The number of steps an episode states (its ``steps/is_first``), or None."""
    flag = features.get("steps/is_first") if hasattr(features, "get") else None
    return len(feature_value(flag)) if flag is not None else None


# ------------------------------------------------------------------------ the format
def _shard_parts(path: Path) -> tuple[str, int]:
    """``(split, shard number)`` of a TFDS shard name; the file stem and 0 otherwise."""
    match = _SHARD.match(path.name)
    if match is None:
        return re.sub(r"\W+", "_", path.name.split(".tfrecord")[0]), 0
    return match.group("split"), int(match.group("shard") or 0)


class RldsFormat(SourceFormat):
    name = "rlds"
    summary = "RLDS/TFDS episodes: a version folder with features.json and <name>-<split>.tfrecord-NNNNN-of-NNNNN"

    def detect(self, path: Path) -> bool:
        if path.is_dir() and (path / FEATURES_FILE).is_file():
            try:
                return '"steps"' in (path / FEATURES_FILE).read_text(encoding="utf-8")
            except OSError:
                return False
        found = first_record(path)
        if found is None:
            return False
        try:
            return any(k.startswith(STEPS) for k in Example.FromString(found[1]).features.feature)
        except Exception:  # not a protobuf message: another format's file
            return False

    def _cameras(self, path: Path, files: list[Path]) -> list[str]:
        """The image keys of the dataset: from features.json, or the first episode of a shard file."""
        if path.is_dir():
            schema = path / FEATURES_FILE
            if not schema.is_file():
                raise DataError(
                    f"{path}: no {FEATURES_FILE}; a TFDS dataset folder holds {INFO_FILE} and {FEATURES_FILE} "
                    "beside its shards: point --input_dir at the version folder (e.g. .../fractal20220817_data/0.1.0), "
                    "or at one shard file"
                )
            return image_keys_of_schema(schema)
        records = index_file(files[0])
        if not records:
            raise DataError(f"{files[0]}: holds no episodes")
        keys = image_keys_of_episode(parse_example(records[0].read(), records[0].where))
        if not keys:
            raise DataError(f"{records[0].where}: no steps/observation/<key> images; is it an RLDS episode?")
        return keys

    def scan(
        self, path: Path, cameras: Sequence[str] | None = None
    ) -> tuple[list[SourceSequence], list[SequenceProblem]]:
        files = find_tfrecord_files(path)
        if not files:
            raise DataError(f"{path}: holds no TFRecord shards (<name>-<split>.tfrecord-NNNNN-of-NNNNN)")
        declared = self._cameras(path, files)
        where = path / FEATURES_FILE if path.is_dir() else path
        views = [declared[i] for i in pick_views(declared, cameras, str(where))]
        by_split: dict[str, list[tuple[int, Path]]] = {}
        for f in files:
            split, shard = _shard_parts(f)
            by_split.setdefault(split, []).append((shard, f))
        sequences: list[SourceSequence] = []
        problems: list[SequenceProblem] = []
        for split in sorted(by_split, key=natural_key):
            count = 0
            for _, f in sorted(by_split[split]):
                try:
                    records = index_file(f)
                except TimeContrastError as exc:  # a damaged shard: its episodes cannot be counted
                    problems.append(
                        SequenceProblem(f.name, f"{exc} (the episodes after it are numbered as if it held none)")
                    )
                    continue
                for record in records:
                    sequences.append(RldsEpisode(f"{split}_episode_{count:06d}", record, views))
                    count += 1
        return sequences, problems


FORMAT = RldsFormat()
