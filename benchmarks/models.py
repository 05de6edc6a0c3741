"""Forward + backward throughput of each embedder on this CPU, with and without channels_last.

Each embedder is built by ``build_embedder`` from the default config with its own
``finetune`` default (a frozen trunk only runs backward through the head) at the input
size it is meant for, and trained on random input with the triplet loss: one SGD step
per iteration, in train mode. The two memory formats take turns step by step and the
rate of each one's fastest step is reported (the least disturbed one on a shared machine). Prints a Markdown table (images/s; clips/s for the
multi-frame embedders, where one clip is K frames).

Example::

    .venv/bin/python benchmarks/models.py --threads 2
    .venv/bin/python benchmarks/models.py --quick
"""

from __future__ import annotations

import argparse
import logging
import os
import time

import torch

from timecontrast.config import load_config
from timecontrast.losses import pair_labels, triplet_semihard
from timecontrast.models import build_embedder

# (row name, input side, overrides, batch divisor): each embedder at the size it is meant for;
# the video networks run a quarter of the batch (clips of K frames are costly).
CASES: list[tuple[str, int, list[str], int]] = [
    ("inception_conv_ss_fc (Mixed_5d, frozen)", 299, ["embedder_strategy=inception_conv_ss_fc"], 1),
    ("resnet-50 stage 4 (frozen)", 224, ["embedder_strategy=resnet"], 1),
    ("resnet-18 stage 3 (finetuned)", 128, ["embedder_strategy=resnet", "resnet.depth=18",
                                            "resnet.pretrained_layer=3", "resnet.finetune=true"], 1),
    ("small_conv", 128, ["embedder_strategy=small_conv"], 1),
    ("small_conv", 64, ["embedder_strategy=small_conv"], 1),
    ("multi_frame small_conv K=3", 112, ["embedder_strategy=multi_frame"], 1),
    ("multi_frame r3d_18 K=4", 112, ["embedder_strategy=multi_frame", "multi_frame.trunk=r3d_18",
                                     "multi_frame.num_frames=4"], 4),
    ("multi_frame r2plus1d_18 K=4", 112, ["embedder_strategy=multi_frame", "multi_frame.trunk=r2plus1d_18",
                                          "multi_frame.num_frames=4"], 4),
]  # fmt: skip


def make_step(model: torch.nn.Module, batch: torch.Tensor, channels_last: bool):
    """A closure running one forward + loss + backward + SGD step of ``model``."""
    if channels_last:
        model.to(memory_format=torch.channels_last)
        if batch.dim() == 4:
            batch = batch.contiguous(memory_format=torch.channels_last)
    model.train()
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    labels = pair_labels(batch.shape[0] // 2)

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        triplet_semihard(labels, model(batch), 0.2).backward()
        opt.step()

    return step


def best_rates(steps: list, items: int, iterations: int) -> list[float]:
    """Items/s of each step function, from its fastest of ``iterations`` timed calls.

    The functions take turns, so a burst of load from other processes hits all of them
    alike; the fastest call is the least disturbed one. One untimed warm-up call each.
    """
    for step in steps:
        step()
    best = [float("inf")] * len(steps)
    for _ in range(iterations):
        for i, step in enumerate(steps):
            start = time.perf_counter()
            step()
            best[i] = min(best[i], time.perf_counter() - start)
    return [items / t for t in best]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--batch", type=int, default=8, help="images (or clips) per step; even")
    parser.add_argument("--iterations", type=int, default=3, help="timed steps per measurement")
    parser.add_argument("--quick", action="store_true", help="batch 4, 2 timed steps")
    args = parser.parse_args()
    if args.quick:
        args.batch, args.iterations = 4, 2
    logging.basicConfig(level=logging.ERROR)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print(f"### Embedder training throughput (CPU, {args.threads} threads, "
          f"best of {args.iterations} timed steps)\n")  # fmt: skip
    load_before = os.getloadavg()[0]
    print("| embedder | input | batch | params (trainable) | items/s | items/s channels_last | ratio |")
    print("|---|---|---|---|---|---|---|")
    for name, side, overrides, divisor in CASES:
        batch = max(2, args.batch // divisor)
        cfg = load_config(overrides=[*overrides, f"data.height={side}", f"data.width={side}"])
        steps = []
        for channels_last in (False, True):
            torch.manual_seed(0)
            model = build_embedder(cfg)
            shape = (batch, 3, side, side)
            if cfg.embedder_strategy == "multi_frame":
                shape = (batch, model.num_frames, 3, side, side)
            steps.append(make_step(model, torch.randn(shape), channels_last))
        results = best_rates(steps, batch, args.iterations)
        total = sum(p.numel() for p in model.parameters()) / 1e6
        trainable = sum(p.numel() for p in model.parameters() if p.requires_grad) / 1e6
        unit = "clips" if cfg.embedder_strategy == "multi_frame" else "img"
        print(
            f"| {name} | {side}x{side} | {batch} | {total:.1f}M ({trainable:.1f}M) | {results[0]:.1f} {unit}/s "
            f"| {results[1]:.1f} {unit}/s | {results[1] / results[0]:.2f} |",
            flush=True,
        )
    print(
        f"\nLoad average (1 min) {load_before:.1f} before, {os.getloadavg()[0]:.1f} after, on "
        f"{os.cpu_count()} cores: above the core count, other processes shared the CPU and rates are low."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
