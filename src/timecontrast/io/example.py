"""``tf.train.Example`` and ``tf.train.SequenceExample`` without TensorFlow.

The message classes are built at import time from descriptors equivalent to
TensorFlow's ``feature.proto`` and ``example.proto`` (package ``tensorflow``), in a
private descriptor pool so they never clash with a TensorFlow installed beside us.
Serialised bytes are wire-identical to TensorFlow's.
"""

from __future__ import annotations

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

_F = descriptor_pb2.FieldDescriptorProto


def _field(
    msg,
    name: str,
    number: int,
    ftype: int,
    label: int = _F.LABEL_OPTIONAL,
    type_name: str = "",
    packed: bool | None = None,
    oneof: int | None = None,
) -> None:
    f = msg.field.add(name=name, number=number, type=ftype, label=label)
    if type_name:
        f.type_name = type_name
    if packed is not None:
        f.options.packed = packed
    if oneof is not None:
        f.oneof_index = oneof
    f.json_name = "".join(p.capitalize() if i else p for i, p in enumerate(name.split("_")))


def _map_field(msg, name: str, number: int, entry_name: str, value_type: str) -> None:
    entry = msg.nested_type.add(name=entry_name)
    entry.options.map_entry = True
    _field(entry, "key", 1, _F.TYPE_STRING)
    _field(entry, "value", 2, _F.TYPE_MESSAGE, type_name=value_type)
    _field(msg, name, number, _F.TYPE_MESSAGE, _F.LABEL_REPEATED, f".tensorflow.{msg.name}.{entry_name}")


def _build_pool() -> descriptor_pool.DescriptorPool:
    feature = descriptor_pb2.FileDescriptorProto(
        name="tensorflow/core/example/feature.proto", package="tensorflow", syntax="proto3"
    )
    m = feature.message_type.add(name="BytesList")
    _field(m, "value", 1, _F.TYPE_BYTES, _F.LABEL_REPEATED)
    m = feature.message_type.add(name="FloatList")
    _field(m, "value", 1, _F.TYPE_FLOAT, _F.LABEL_REPEATED, packed=True)
    m = feature.message_type.add(name="Int64List")
    _field(m, "value", 1, _F.TYPE_INT64, _F.LABEL_REPEATED, packed=True)
    m = feature.message_type.add(name="Feature")
    m.oneof_decl.add(name="kind")
    _field(m, "bytes_list", 1, _F.TYPE_MESSAGE, type_name=".tensorflow.BytesList", oneof=0)
    _field(m, "float_list", 2, _F.TYPE_MESSAGE, type_name=".tensorflow.FloatList", oneof=0)
    _field(m, "int64_list", 3, _F.TYPE_MESSAGE, type_name=".tensorflow.Int64List", oneof=0)
    m = feature.message_type.add(name="Features")
    _map_field(m, "feature", 1, "FeatureEntry", ".tensorflow.Feature")
    m = feature.message_type.add(name="FeatureList")
    _field(m, "feature", 1, _F.TYPE_MESSAGE, _F.LABEL_REPEATED, ".tensorflow.Feature")
    m = feature.message_type.add(name="FeatureLists")
    _map_field(m, "feature_list", 1, "FeatureListEntry", ".tensorflow.FeatureList")

    example = descriptor_pb2.FileDescriptorProto(
        name="tensorflow/core/example/example.proto",
        package="tensorflow",
        syntax="proto3",
        dependency=["tensorflow/core/example/feature.proto"],
    )
    m = example.message_type.add(name="Example")
    _field(m, "features", 1, _F.TYPE_MESSAGE, type_name=".tensorflow.Features")
    m = example.message_type.add(name="SequenceExample")
    _field(m, "context", 1, _F.TYPE_MESSAGE, type_name=".tensorflow.Features")
    _field(m, "feature_lists", 2, _F.TYPE_MESSAGE, type_name=".tensorflow.FeatureLists")

    pool = descriptor_pool.DescriptorPool()
    pool.Add(feature)
    pool.Add(example)
    return pool


_POOL = _build_pool()


def _cls(name: str):
    return message_factory.GetMessageClass(_POOL.FindMessageTypeByName(f"tensorflow.{name}"))


BytesList = _cls("BytesList")
FloatList = _cls("FloatList")
Int64List = _cls("Int64List")
Feature = _cls("Feature")
Features = _cls("Features")
FeatureList = _cls("FeatureList")
FeatureLists = _cls("FeatureLists")
Example = _cls("Example")
SequenceExample = _cls("SequenceExample")


def bytes_feature(values: list[bytes] | bytes) -> object:
    return Feature(bytes_list=BytesList(value=[values] if isinstance(values, bytes) else list(values)))


def int64_feature(values: list[int] | int) -> object:
    return Feature(int64_list=Int64List(value=[values] if isinstance(values, int) else list(values)))


def float_feature(values: list[float] | float) -> object:
    return Feature(float_list=FloatList(value=[values] if isinstance(values, float) else list(values)))


def feature_value(feature) -> list:
    """The values of a Feature, whichever list it holds ([] when empty)."""
    kind = feature.WhichOneof("kind")
    return list(getattr(feature, kind).value) if kind else []


__all__ = [
    "BytesList",
    "Example",
    "Feature",
    "FeatureList",
    "FeatureLists",
    "Features",
    "FloatList",
    "Int64List",
    "SequenceExample",
    "bytes_feature",
    "feature_value",
    "float_feature",
    "int64_feature",
]
