"""File formats without TensorFlow: TFRecord, tf.train.Example/SequenceExample, JPEG, video.

This package imports nothing else of timecontrast.
"""

from timecontrast.io.errors import RecordError, TimeContrastError, VideoError
from timecontrast.io.jpeg import decode_jpeg, encode_jpeg
from timecontrast.io.tfrecord import TFRecordWriter, index_records, iter_records, read_record, write_records

__all__ = [
    "RecordError",
    "TFRecordWriter",
    "TimeContrastError",
    "VideoError",
    "decode_jpeg",
    "encode_jpeg",
    "index_records",
    "iter_records",
    "read_record",
    "write_records",
]
