"""Generate a multi-view dataset from a simulated world: frames, labels and true state.

A MuJoCo world (cartpole, cheetah, finger or pouring) is filmed by several cameras at once.
Per split, it writes sequence records (records/), labeled frame records (labeled/),
the true state with camera poses (state/), optionally mp4 videos (videos/), and
DIR/dataset.json documenting the world and every label attribute. Progress: a bar on a
terminal, else a line every 30 s (tcn --progress_interval) with sequences done, rate and ETA.

Example::

    tcn synth --world cartpole --views 2 --sequences 20 --length 120 --size 128 \\
        --split train=16,val=4 --output_dir data/cartpole
    # the multi-frame TCN paper's cart-pole data: random actions, DM Control's cameras and look, 96x48
    tcn synth --world cartpole --policy random --cameras fixed,lookatcart --appearance default \\
        --width 96 --height 48 --length 1000 --fps 100 --split train=160,val=20 --workers 0 \\
        --output_dir data/cartpole_paper
    # the pouring world (labels contact, distance, liquid_flowing, has_liquid, container_angle, phase)
    tcn synth --world pouring --views 2 --split train=40,val=8 --length 100 --size 64 \\
        --appearance default --output_dir demo_pouring_data
"""

from __future__ import annotations

import argparse
import os
import time

from timecontrast.sim.cameras import MAX_VIEWS
from timecontrast.sim.generate import APPEARANCES, POLICIES
from timecontrast.sim.worlds import DEFAULT_WORLD, WORLDS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--world", default=DEFAULT_WORLD, choices=list(WORLDS), help="the simulated world")
    parser.add_argument("--views", type=int, default=2, help=f"cameras filming at once, 1 to {MAX_VIEWS}")
    parser.add_argument(
        "--sequences", type=int, default=None, help="number of sequences (default: the sum of --split, else 20)"
    )
    parser.add_argument("--length", type=int, default=120, help="frames per sequence")
    parser.add_argument("--size", type=int, default=128, help="image height and width in pixels")
    parser.add_argument("--width", type=int, default=None, help="image width in pixels (default: --size)")
    parser.add_argument("--height", type=int, default=None, help="image height in pixels (default: --size)")
    parser.add_argument(
        "--cameras",
        default=None,
        help="the world model's own cameras, one per view, comma separated, instead of the randomised rig "
        "(cartpole: fixed,lookatcart, the DM Control defaults: a fixed front view and one following the cart)",
    )
    parser.add_argument(
        "--appearance",
        default="random",
        choices=list(APPEARANCES),
        help="random: a new look (colours, lights) per sequence; default: the model's own, as DM Control renders it",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="processes simulating and writing sequences at once (0: one per core); same files for any number",
    )
    parser.add_argument("--fps", type=float, default=20.0, help="frames per second of simulated time")
    parser.add_argument("--seed", type=int, default=0, help="the same seed gives identical files")
    parser.add_argument(
        "--split", default=None, help="sequences per split, e.g. train=16,val=4 (default: all in train)"
    )
    parser.add_argument(
        "--policy", default="scripted", choices=list(POLICIES), help="scripted task behaviour or random actions"
    )
    parser.add_argument("--moving_camera", action="store_true", help="the last view sweeps round during a sequence")
    parser.add_argument("--videos", action="store_true", help="also write <seq>_view<k>.mp4 per split")
    parser.add_argument("--jpeg_quality", type=int, default=90, help="JPEG quality of the record frames")
    parser.add_argument("--overwrite", action="store_true", help="replace a dataset already in --output_dir")
    parser.add_argument("--output_dir", required=True, help="where to write the dataset")


def run(args: argparse.Namespace) -> int:
    from timecontrast.progress import Progress
    from timecontrast.sim.dataset import generate_dataset, parse_splits

    splits = parse_splits(args.split) if args.split else None
    sequences = args.sequences if args.sequences is not None or splits is not None else 20
    total = sequences if sequences is not None else sum((splits or {}).values())
    start = time.perf_counter()
    frames_per_sequence = args.length * args.views
    with Progress(total=total, desc=f"synth {args.world}", unit="seq", units="sequences") as bar:
        info = generate_dataset(
            args.output_dir,
            world=args.world,
            views=args.views,
            sequences=sequences,
            length=args.length,
            size=args.size,
            fps=args.fps,
            seed=args.seed,
            splits=splits,
            policy=args.policy,
            moving_camera=args.moving_camera,
            videos=args.videos,
            jpeg_quality=args.jpeg_quality,
            overwrite=args.overwrite,
            on_sequence=lambda split, name: bar.update(1, counts={"frames": frames_per_sequence}),
            width=args.width,
            height=args.height,
            cameras=[c.strip() for c in args.cameras.split(",") if c.strip()] if args.cameras else None,
            workers=args.workers if args.workers > 0 else (os.cpu_count() or 1),
            appearance=args.appearance,
        )
    seconds = time.perf_counter() - start
    frames = total * args.length * args.views
    print(f"wrote {info['world']} dataset to {args.output_dir} in {seconds:.1f} s ({frames / seconds:.0f} frames/s)")
    for split, names in info["splits"].items():
        print(f"  {split}: {len(names)} sequences x {args.length} frames x {args.views} views")
    for attribute in info["attributes"]:
        counts = [
            sum(info["class_counts"][s][attribute["name"]][c] for s in info["splits"])
            for c in range(len(attribute["classes"]))
        ]
        shares = ", ".join(
            f"{name} {count / max(sum(counts), 1):.0%}" for name, count in zip(attribute["classes"], counts)
        )
        print(f"  {attribute['name']} ({attribute['kind']}): {shares}")
    return 0
