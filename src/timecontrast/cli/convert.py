"""Convert multi-view videos (or frame folders, TCC, RLDS, LeRobot data) into sequence records.

Input (--from, detected when not given; docs/data-format.md describes each layout):
videos  <seq>_view<k>.<ext> (mp4, mov, avi, mkv, webm, m4v) anywhere under --input_dir,
        the views of a sequence numbered 0..N-1 (the default);
frames  frame folders <seq>/<view>/*.png|jpg or <seq>_view<k>/*.png|jpg, labels.csv optional;
tcc     TCC-format TFRecords (one view; frame_labels become labeled frames);
rlds    RLDS/TFDS episodes (TFRecord shards; image keys become views, state and action state);
lerobot LeRobot datasets v2.1/v3.0 (observation.images.* views; observation.state, action).
--cameras picks and orders the views by name (tcn inspect PATH lists them). State and
labels of a source go beside the records, as tcn synth writes them, when --output_dir is a
folder named records (DIR/<split>/records -> DIR/<split>/state, DIR/<split>/labeled).
Output: <output_dir>/<seq>.tfrecord,
or <seq>_shardNN.tfrecord for sequences longer than --max_per_shard, and <seq>.convert.json,
the settings that made them. The number of views is found in the videos (every sequence
must have the same; --expected_views sets it). A re-run skips sequences already converted
with the same settings from the same videos (name, size and modification time), so an
interrupted run resumes, unless --overwrite; it converts again those made with other
settings or from changed videos, removing their old files (e.g. the shards of another
--max_per_shard), and removes the temporary files of a run that was killed. A sequence
whose videos cannot be read is reported at the end and the others are converted; exit
status 1 if any failed. A failure to write (a full disk, a read-only folder) stops the run
with one line naming the file (exit 2). Ctrl-C stops at once (exit 130); what is complete
is kept. Progress: a bar of frames on a terminal; with output to a file, a line every 30 s
(tcn --progress_interval) with frames done of the (estimated) total, rate, ETA and sequences done.

Example:
    tcn convert --input_dir ~/tcn_data/videos/train --output_dir ~/tcn_data/records/train \\
        --max_per_shard 400
    tcn convert --from rlds --input_dir ~/tensorflow_datasets/fractal/0.1.0 \\
        --output_dir data/fractal/train/records --cameras image --resize_min_edge 128
    tcn convert --input_dir videos --output_dir records --resize_min_edge 360 \\
        --rotate 90 --rotate_if_matching 'iphone' --workers 4
"""

from __future__ import annotations

import argparse
import sys
import time

from timecontrast.data.formats import FORMATS
from timecontrast.data.videos import DEFAULT_VIEW_PATTERN


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--input_dir",
        required=True,
        help="the source: a folder of <seq>_view<k>.<ext> videos (searched recursively), or a dataset of --from",
    )
    parser.add_argument(
        "--from",
        dest="input_format",
        choices=tuple(FORMATS),
        default=None,
        help="the input format (default: detected; videos when no format recognises --input_dir): "
        + "; ".join(f"{name}: {fmt.summary}" for name, fmt in FORMATS.items()),
    )
    parser.add_argument(
        "--cameras",
        default=None,
        help="comma-separated view names to convert, in this order (default: every view; tcn inspect lists them; "
        "videos are named view0, view1, ...)",
    )
    parser.add_argument("--output_dir", required=True, help="where the .tfrecord files go (created if needed)")
    parser.add_argument(
        "--max_per_shard",
        type=int,
        default=-1,
        help="split sequences longer than this many timesteps into shards <seq>_shardNN (<= 0: no sharding; "
        "the original recommends 400 for training data, no sharding for validation)",
    )
    parser.add_argument(
        "--resize_min_edge", type=int, default=0, help="scale frames so the shorter edge has this many pixels (0: keep)"
    )
    parser.add_argument(
        "--rotate", type=int, default=0, choices=(0, 90, 180, 270), help="rotate frames clockwise by this many degrees"
    )
    parser.add_argument(
        "--rotate_if_matching", default=None, help="rotate only videos whose path matches this regular expression"
    )
    parser.add_argument(
        "--expected_views",
        type=int,
        default=None,
        help="number of views every sequence must have; sequences with another number fail (default: inferred "
        "from the videos, and all sequences must have the same number; 0: any number)",
    )
    parser.add_argument(
        "--max_views_discrepancy",
        type=int,
        default=100,
        help="fail a sequence whose view lengths differ by more frames than this (views are cut to the shortest)",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="rewrite every output (without it, outputs made with the same settings are kept)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=0,
        help="views (videos) decoded and JPEG-encoded at once (0: one per CPU)",
    )
    parser.add_argument(
        "--processes",
        action="store_true",
        help="run the workers as processes instead of threads (no GIL; about a second to start)",
    )
    parser.add_argument(
        "--view_pattern",
        default=DEFAULT_VIEW_PATTERN,
        help="videos: regex searched in each file name; group 1 is the view number, the text before it the "
        "sequence name",
    )


def run(args: argparse.Namespace) -> int:
    from tqdm.contrib.logging import logging_redirect_tqdm

    from timecontrast.data.convert import convert_sequences
    from timecontrast.data.formats.base import split_cameras

    start = time.perf_counter()
    with logging_redirect_tqdm():  # log lines above the progress bar, not through it
        result = convert_sequences(
            args.input_dir,
            args.output_dir,
            args.input_format,
            split_cameras(args.cameras),
            max_per_shard=args.max_per_shard,
            resize_min_edge=args.resize_min_edge,
            rotate=args.rotate,
            rotate_if_matching=args.rotate_if_matching,
            expected_views=args.expected_views,
            max_views_discrepancy=args.max_views_discrepancy,
            overwrite=args.overwrite,
            workers=args.workers or None,
            parallel="processes" if args.processes else "threads",
            view_pattern=args.view_pattern,
        )
    seconds = time.perf_counter() - start
    rate = f" ({result.frames_encoded / seconds:.0f} frames/s)" if result.frames_encoded else ""
    print(
        f"{len(result.written)} file(s) written, {len(result.skipped)} already complete and skipped, "
        f"{len(result.failed)} sequence(s) failed; {result.frames_encoded} frames encoded in {seconds:.1f} s{rate}"
    )
    if result.removed:
        print(f"{len(result.removed)} old file(s) of sequences converted again with other settings removed")
    print(f"output: {args.output_dir}")
    if result.failed:
        print(f"\n{len(result.failed)} sequence(s) failed and were not written:", file=sys.stderr)
        for name, reason in result.failed.items():
            print(f"  {name}: {reason}", file=sys.stderr)
        return 1
    return 0
