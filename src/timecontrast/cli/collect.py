"""Record time-synchronised videos from several cameras, ready for `tcn convert`.

Each camera is read by its own thread and every frame is stamped with its capture
time; a frame of every view is kept only when all views have one within
--sync_tolerance_ms of the same instant (frames of faster cameras are dropped and
counted). Frames are encoded as they arrive to one H.264 file per view,
<viddir>/<dataset>/<mode>/<seq>_view<k>.mp4, at the measured synchronised rate, with
every frame's timestamps in <seq>_timestamps.json. Stop with Ctrl-C, --duration or
--max_frames: all files are finished and playable.

Recording is durable: until it stops, a sequence is written to a hidden folder
.<seq>.recording/ (fragmented videos and a journal of the timestamps, made durable every
half second), so a crash, kill -9 or power loss loses at most about the last second.
Every tcn collect first finishes the interrupted recordings in its output folder (one
line each); --recover_only does only that.

Cameras (comma separated): 0 or /dev/video0 (V4L2 webcam), rtsp://... (stream),
file:PATH (replays a video in real time), synthetic or synthetic:WxH@FPS (generated).

Example (no camera needed; then convert the folder):

    tcn collect --dataset demo --mode train --cameras synthetic,synthetic:320x240@20 --duration 5
    tcn convert --input_dir videos/demo/train --output_dir records/demo/train

With webcams: tcn collect --dataset pouring --mode train --cameras 0,2 --width 640 --height 480 --fps 30
After a crash: tcn collect --dataset pouring --mode train --recover_only
"""

from __future__ import annotations

import argparse
import signal
import sys

from timecontrast.errors import CaptureError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", required=True, help="dataset name (a folder under --viddir)")
    parser.add_argument("--mode", required=True, help="split: train, valid, test, demo, ... (a folder)")
    parser.add_argument(
        "--cameras",
        default=None,
        help="comma-separated cameras: V4L2 index or /dev/videoN, stream URL, file:PATH, synthetic[:WxH@FPS] "
        "(required unless --recover_only)",
    )
    parser.add_argument("--viddir", default="videos", help="root folder of the videos (default: videos)")
    parser.add_argument("--seqname", default=None, help="sequence name (default: the next free integer)")
    parser.add_argument("--width", type=int, default=None, help="requested frame width (default: camera's own)")
    parser.add_argument("--height", type=int, default=None, help="requested frame height (default: camera's own)")
    parser.add_argument("--fps", type=float, default=30.0, help="requested frames per second (default: 30)")
    parser.add_argument(
        "--fourcc",
        default="MJPG",
        help="pixel format asked of V4L2 webcams: MJPG (compressed, default; more cameras per USB bus), "
        "YUYV (raw), or 'any' for the camera's default",
    )
    parser.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    parser.add_argument("--max_frames", type=int, default=None, help="stop after this many multi-view frames")
    parser.add_argument(
        "--sync_tolerance_ms",
        type=float,
        default=None,
        help="every view of a kept frame lies within this of one instant (default: half a frame "
        "period of the slowest camera)",
    )
    parser.add_argument(
        "--warmup_s",
        type=float,
        default=None,
        help="seconds of frames discarded at the start while exposure settles (default: 2 with webcams, else 0)",
    )
    parser.add_argument("--jitter_ms", type=float, default=0.0, help="file/synthetic cameras: delivery-time jitter")
    parser.add_argument("--loop", action="store_true", help="file cameras: restart at the end instead of stopping")
    parser.add_argument("--seed", type=int, default=0, help="seed of the jitter and synthetic content")
    parser.add_argument("--crf", type=int, default=20, help="H.264 quality (lower is better, bigger; default: 20)")
    parser.add_argument(
        "--debug_video",
        action="store_true",
        help="also write a side-by-side video of two views to <viddir>_debug/<dataset>/<mode>/<seq>.mp4",
    )
    parser.add_argument("--debug_views", default="0,1", help="the two views of --debug_video (default: 0,1)")
    parser.add_argument("--preview", action="store_true", help="show a live window (needs a display)")
    parser.add_argument(
        "--recover_only",
        action="store_true",
        help="only finish the recordings a crash interrupted in <viddir>/<dataset>/<mode> (every run does it first)",
    )
    parser.add_argument(
        "--status_interval",
        type=float,
        default=None,
        help="seconds between status lines (default: 1 on a terminal, else 5)",
    )


def _debug_views(text: str) -> tuple[int, int]:
    try:
        left, right = (int(v) for v in text.split(","))
    except ValueError:
        raise CaptureError(f"--debug_views {text!r}: give two view numbers, e.g. --debug_views 0,1") from None
    return left, right


def _positive(value: float | None, flag: str) -> None:
    if value is not None and value <= 0:
        raise CaptureError(f"{flag} {value}: must be positive")


def _recover(args: argparse.Namespace) -> bool:
    """Finish the interrupted recordings of the output folder, one line each; False if one failed."""
    from timecontrast.capture import recover_interrupted_takes
    from timecontrast.capture.layout import sequence_dir

    directory = sequence_dir(args.viddir, args.dataset, args.mode)
    results = recover_interrupted_takes(directory)
    for result in results:
        print(result.line(), file=sys.stderr if result.error else sys.stdout)
    if args.recover_only and not results:
        print(f"no interrupted recording in {directory}")
    return not any(result.error for result in results)


def run(args: argparse.Namespace) -> int:
    from timecontrast.capture import open_session, split_camera_specs
    from timecontrast.capture.preview import PreviewWindow, display_available
    from timecontrast.errors import DependencyError

    for value, flag in [(args.duration, "--duration"), (args.max_frames, "--max_frames"), (args.fps, "--fps")]:
        _positive(value, flag)
    if not args.recover_only and not args.cameras:
        raise CaptureError("--cameras: give at least one camera, e.g. --cameras 0,2 or --cameras synthetic")
    recovered = _recover(args)
    if args.recover_only:
        return 0 if recovered else 2
    session = open_session(
        split_camera_specs(args.cameras),
        args.viddir,
        args.dataset,
        args.mode,
        args.seqname,
        width=args.width,
        height=args.height,
        fps=args.fps,
        fourcc=None if args.fourcc.lower() == "any" else args.fourcc,
        jitter_ms=args.jitter_ms,
        loop=args.loop,
        seed=args.seed,
        tolerance_ms=args.sync_tolerance_ms,
        warmup=args.warmup_s,
        debug_views=_debug_views(args.debug_views) if args.debug_video else None,
        crf=args.crf,
    )
    for k, info in enumerate(session.infos):
        print(f"view {k}: {info.summary()}", file=sys.stderr)
    print(
        f"sequence {session.seqname!r} -> {session.writer.paths[0].parent}/, sync tolerance "
        f"{session.tolerance * 1000:.1f} ms; Ctrl-C to stop",
        file=sys.stderr,
    )

    preview = None
    if args.preview:
        if not display_available():
            print("--preview: no display here (DISPLAY is not set); recording without a window", file=sys.stderr)
        else:
            try:
                preview = PreviewWindow()
            except DependencyError as exc:
                print(f"--preview: {exc}; recording without a window", file=sys.stderr)

    tty = sys.stderr.isatty()

    def show_status(status) -> None:
        if tty:
            print("\r" + status.line(), end="", file=sys.stderr, flush=True)
        else:
            print(status.line(), file=sys.stderr, flush=True)

    def on_signal(signum, frame) -> None:
        # First Ctrl-C: finish the files. A second one interrupts at once.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        session.request_stop()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        result = session.run(
            duration=args.duration,
            max_frames=args.max_frames,
            on_status=show_status,
            status_interval=args.status_interval or (1.0 if tty else 5.0),
            on_frame=preview.show if preview is not None else None,
            metadata={"dataset": args.dataset, "mode": args.mode, "sequence": session.seqname},
        )
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if preview is not None:
            preview.close()
        if tty:
            print(file=sys.stderr)
    if not result.num_frames:
        print("nothing recorded: no moment had a frame from every camera", file=sys.stderr)
        return 1
    print(
        f"recorded {result.num_frames} frames x {len(session.cameras)} views in {result.duration:.1f} s "
        f"({result.fps:.2f} fps, stopped by {result.stop_reason.replace('_', ' ')}); dropped per camera {result.dropped}"
    )
    for path in result.files:
        print(f"  {path}")
    directory = session.writer.paths[0].parent
    print(f"next: tcn convert --input_dir {directory} --output_dir records/{args.dataset}/{args.mode}")
    return 0
