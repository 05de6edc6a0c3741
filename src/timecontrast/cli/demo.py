"""The whole TCN chain on a simulated world (cart-pole, or pouring), on a laptop CPU, with a report.

Steps, each a tcn command run in this process (the report lists them to copy):
  1. tcn synth       a multi-view dataset with labels and the true state (--world:
                     cartpole, the default, or pouring: a hand pouring into a cup)
  2. tcn train       a multi-view TCN (configs demo.yaml, or demo_pouring.yaml: small CNN,
                     spatial softmax)
  3. tcn align / labeled-eval / probe / phase-eval
                     alignment error, kNN error per attribute, the state probe and the
                     field's per-frame metrics (Kendall's tau, cycle consistency, phase
                     classification and progression of the label pole_up, or of the
                     pouring's five task phases, checked against targets) of the trained
                     model and of the same network untrained (the baseline)
  4. tcn train       a multi-frame TCN (demo.yaml + demo_mftcn.yaml: 3-frame clips), its
                     per-frame CNN started from step 2's, then its probe and kNN error
  5. tcn imitate     nearest-neighbour imitation videos (mp4 + GIF)
  6. tcn project     TensorBoard projector run and PCA / t-SNE plots
  7. report          OUTDIR/report.md and OUTDIR/report.html: metrics, plots, videos,
                     the commands of every step

Re-running skips the steps already done with the same command (and everything after a
step that runs again is redone, since it reads that step's output); --force redoes all.
--quick is a seconds-long version on tiny data (for tests and a first look); its numbers
mean nothing.

Example::

    tcn demo --outdir demo_output
    tcn demo --world pouring --outdir demo_pouring
    tensorboard --logdir demo_output/runs
"""

from __future__ import annotations

import argparse
import json
import logging
import shlex
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from timecontrast.data import layout
from timecontrast.errors import DataError

log = logging.getLogger(__name__)

STATE_FILE = ".demo_steps.json"


@dataclass(frozen=True)
class Scale:
    """Sizes of one demo variant."""

    train: int  # training sequences
    val: int  # validation sequences
    length: int  # frames per sequence
    size: int  # image size
    mvtcn_steps: int
    mftcn_steps: int
    overrides: tuple[str, ...] = ()  # config overrides for both trainings
    num_embed: int = 800  # projector frames
    sprite_dim: int = 48


FULL = Scale(train=40, val=8, length=100, size=64, mvtcn_steps=1500, mftcn_steps=600)
QUICK = Scale(
    train=3,
    val=2,
    length=20,
    size=32,
    mvtcn_steps=4,
    mftcn_steps=3,
    overrides=(
        "data.height=32",
        "data.width=32",
        "data.batch_size=8",
        "data.examples_per_sequence=4",
        "data.num_workers=0",
        "small_conv.channels=[8,16]",
        "small_conv.fc_hidden_sizes=[32]",
        "multi_frame.conv3d_channels=[8]",
        "multi_frame.fc_hidden_sizes=[16]",
        "logging.checkpoint.save_checkpoints_steps=1000",
    ),
    num_embed=60,
    sprite_dim=16,
)


@dataclass
class Step:
    name: str
    title: str
    argv: list[str]  # tcn arguments; argv[0] is the subcommand
    outputs: list[Path]  # what the step writes (removed before it runs again)
    seconds: float | None = None
    skipped: bool = False

    def command(self) -> str:
        return shlex.join(["tcn", *self.argv])


@dataclass
class Plan:
    outdir: Path
    scale: Scale
    device: str | None
    world: DemoWorld
    steps: list[Step] = field(default_factory=list)

    def path(self, *parts: str) -> Path:
        return self.outdir.joinpath(*parts)


# ----------------------------------------------------------------------------- the plan
# The results file each metric command writes (evaluation.summaries names it by metric).
@dataclass(frozen=True)
class DemoWorld:
    """What differs between the demo's worlds: the scene, its config and its phase label."""

    name: str  # tcn synth --world
    config: str  # the training config (the multi-frame run adds demo_mftcn.yaml)
    label: str  # the per-frame label that tcn phase-eval classifies and follows
    scene: str  # the report's first words about the data
    label_text: str  # the report's words on the label and what the per-frame metrics mean here
    phase_targets: bool  # check issue 17's targets for the per-frame metrics (a task with ordered phases)


WORLDS = {
    "cartpole": DemoWorld(
        "cartpole",
        "demo.yaml",
        "pole_up",
        "A cart-pole",
        "The label `pole_up` (the pole's tip above its hinge) stands in for a task phase: accuracy of a linear SVM "
        "trained on 10 %, 50 % and 100 % of the training sequences or on k of them; phase progression: R^2 of "
        "linear regressions to the time from each key event (TCC's), and of a ridge regression to the fraction "
        "of the current up or down stretch completed. Each cart-pole sequence swings the pole up, balances it and "
        "lets it fall, again and again at its own times: sequences are not one pass through the same phases, so "
        "the measures across sequences are lower here than on a task such as pouring (tcn demo --world pouring).",
        False,
    ),
    "pouring": DemoWorld(
        "pouring",
        "demo_pouring.yaml",
        "phase",
        "A hand pouring from a bottle into a cup",
        "The label `phase` holds TCC's five pouring phases (before contact, reaching with the bottle, pouring, "
        "after pouring, bottle back), separated by the key events hand touches bottle, liquid starts exiting, "
        "pouring complete and bottle back on the table: accuracy of a linear SVM trained on 10 %, 50 % and 100 % "
        "of the training sequences or on k of them; phase progression: TCC's mean R^2 of linear regressions to "
        "the time from each key event, and the R^2 of a ridge regression to the fraction of the current phase "
        "completed.",
        True,
    ),
}
_METRIC_OF_COMMAND = {
    "align": "alignment",
    "labeled-eval": "labeled_eval",
    "probe": "probe",
}


def _metric(command: str, label: str) -> str:
    """The results name of a metric command (phase-eval's holds its label unless it is ``phase``)."""
    if command == "phase-eval":
        from timecontrast.cli.phase_eval import results_name

        return results_name("phase_eval", label)
    return _METRIC_OF_COMMAND[command]


def _results_file(evaldir: Path, command: str, label: str = "phase") -> Path:
    from timecontrast.evaluation.summaries import results_path

    return results_path(evaldir, _metric(command, label))


def make_plan(outdir: Path, quick: bool, device: str | None, world: str = "cartpole") -> Plan:
    s = QUICK if quick else FULL
    w = WORLDS[world]
    plan = Plan(outdir, s, device, w)
    data, runs = plan.path("data"), plan.path("runs")
    mv, mf = runs / "mvtcn", runs / "mftcn"
    dev = ["--device", device] if device else []
    data_keys = [
        f"data.training={layout.records_dir(data, 'train')}",
        f"data.validation={layout.records_dir(data, 'val')}",
        f"data.labeled.validation={layout.labeled_dir(data, 'val')}",
    ]
    add = plan.steps.append
    add(
        Step(
            "synth",
            "Generate the dataset",
            [
                "synth",
                f"--world={w.name}",
                "--views=2",
                f"--split=train={s.train},val={s.val}",
                f"--length={s.length}",
                f"--size={s.size}",
                # DM Control's own colours and lighting, as the mfTCN paper filmed it: with a random look
                # per sequence the same 1,500 steps learn much less (MLP position probe 0.32 vs 0.12).
                "--appearance=default",
                "--seed=0",
                "--overwrite",
                f"--output_dir={data}",
            ],
            [data],
        )
    )
    add(
        Step(
            "train_mvtcn",
            "Train the multi-view TCN",
            [
                "train",
                f"--config_paths={w.config}",
                f"--logdir={mv}",
                *dev,
                *data_keys,
                f"learning.max_step={s.mvtcn_steps}",
                *s.overrides,
            ],
            [mv],
        )
    )
    mv_eval = mv / "evaluation"
    for metric in ("align", "labeled-eval", "probe"):
        add(
            Step(
                f"{metric}_mvtcn",
                f"Evaluate the multi-view TCN and its untrained baseline: {metric}",
                [metric, f"--checkpointdir={mv}", "--once", "--baseline", *dev],
                [_results_file(mv_eval, metric)],
            )
        )
    add(
        Step(
            "phase_eval_mvtcn",
            "Evaluate the multi-view TCN and its untrained baseline: Kendall's tau, cycle consistency, phases",
            ["phase-eval", f"--checkpointdir={mv}", "--once", "--baseline", f"--label={w.label}", *dev],
            [_results_file(mv_eval, "phase-eval", w.label)],
        )
    )
    final_mv = mv / "checkpoints" / f"ckpt-{s.mvtcn_steps:09d}.pt"
    add(
        Step(
            "train_mftcn",
            "Train the multi-frame TCN (its per-frame CNN starts from the multi-view TCN's)",
            [
                "train",
                f"--config_paths={w.config},demo_mftcn.yaml",
                f"--logdir={mf}",
                *dev,
                *data_keys,
                f"learning.max_step={s.mftcn_steps}",
                f"small_conv.pretrained_checkpoint={final_mv}",
                *s.overrides,
            ],
            [mf],
        )
    )
    for metric in ("align", "labeled-eval", "probe"):
        add(
            Step(
                f"{metric}_mftcn",
                f"Evaluate the multi-frame TCN: {metric}",
                [metric, f"--checkpointdir={mf}", "--once", *dev],
                [_results_file(mf / "evaluation", metric)],
            )
        )
    val_records, train_records = layout.records_dir(data, "val"), layout.records_dir(data, "train")
    add(
        Step(
            "imitate",
            "Imitation videos",
            [
                "imitate",
                f"--checkpointdir={mv}",
                f"--outdir={plan.path('imitation', 'views')}",
                "--mode=same",
                f"--query_records_dir={val_records}",
                "--num_query_sequences=1",
                "--fps=10",
                "--gif",
                *dev,
            ],
            [plan.path("imitation", "views")],
        )
    )
    add(
        Step(
            "imitate_sequences",
            "Imitation of another sequence",
            [
                "imitate",
                f"--checkpointdir={mv}",
                f"--outdir={plan.path('imitation', 'sequences')}",
                "--mode=single",
                f"--query_records_dir={val_records}",
                f"--target_records_dir={train_records}",
                "--num_query_sequences=1",
                "--num_target_sequences=1",
                "--fps=10",
                "--gif",
                *dev,
            ],
            [plan.path("imitation", "sequences")],
        )
    )
    add(
        Step(
            "project",
            "Projector and plots",
            [
                "project",
                f"--checkpointdir={mv}",
                f"--outdir={plan.path('projector')}",
                f"--embedding_records={val_records}",
                f"--num_embed={s.num_embed}",
                f"--sprite_dim={s.sprite_dim}",
                f"--perplexity={min(30, max(2, s.num_embed // 4))}",
                *dev,
            ],
            [plan.path("projector")],
        )
    )
    return plan


# ------------------------------------------------------------------------ running steps
def _load_state(outdir: Path) -> dict[str, Any]:
    path = outdir / STATE_FILE
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text())
        return data if isinstance(data, dict) else {}
    except (OSError, json.JSONDecodeError):
        log.warning("%s is unreadable; every step runs again", path)
        return {}


def _save_state(outdir: Path, state: dict[str, Any]) -> None:
    from timecontrast.evaluation.summaries import write_json

    write_json(outdir / STATE_FILE, state)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def run_steps(plan: Plan, force: bool) -> None:
    from timecontrast.cli.main import main as tcn_main

    state = {} if force else _load_state(plan.outdir)
    ran = False  # once a step runs, the later ones (which read its outputs) run again too
    for i, step in enumerate(plan.steps, 1):
        done = state.get(step.name)
        if not ran and done and done.get("command") == step.command() and all(p.exists() for p in step.outputs):
            step.seconds, step.skipped = done.get("seconds"), True
            print(f"[{i}/{len(plan.steps)}] {step.title}: done before, skipped (--force redoes it)", flush=True)
            continue
        for p in step.outputs:  # a changed or unfinished step starts clean
            _remove(p)
        state.pop(step.name, None)
        ran = True
        print(f"\n[{i}/{len(plan.steps)}] {step.title}\n$ {step.command()}", flush=True)
        start = time.perf_counter()
        code = tcn_main(list(step.argv))
        step.seconds = time.perf_counter() - start
        if code == 130:  # Ctrl-C inside the step: finished steps stay recorded
            raise KeyboardInterrupt
        if code != 0:
            raise DataError(
                f"demo step '{step.name}' failed (exit code {code}): {step.command()}; see the messages above"
            )
        state[step.name] = {"command": step.command(), "seconds": round(step.seconds, 1)}
        _save_state(plan.outdir, state)


# ------------------------------------------------------------------------------ results
def _latest(outdir: Path, metric: str) -> tuple[dict, dict]:
    """(latest checkpoint entry, baselines) of ``<outdir>/<metric>.json``."""
    from timecontrast.evaluation.summaries import read_results, results_path

    data = read_results(results_path(outdir, metric), metric)  # a DataError names a bad file
    checkpoints = data["checkpoints"]
    if not checkpoints:
        raise DataError(f"{results_path(outdir, metric)}: no evaluated checkpoint; run tcn demo --force")
    return checkpoints[max(checkpoints, key=int)], data["baselines"]


@dataclass
class Results:
    """The numbers of the demo: model -> metric name -> value."""

    alignment: dict[str, float | None]  # mvtcn, untrained, mftcn
    knn: dict[str, dict[str, float | None]]  # model -> attribute (+ "average") -> error@top1
    probe: dict[str, dict[str, float | None]]  # model -> "<probe> <position|velocity>" -> mse
    attributes: list[dict]  # dataset.json attribute docs
    k: int
    step_mv: int
    step_mf: int
    per_frame: dict[str, dict[str, float | None]] = field(default_factory=dict)  # mvtcn / untrained -> tag -> value
    label: str = "phase"  # the per-frame metrics' label
    phase_targets: bool = False  # check the per-frame metrics against issue 17's targets


def _knn(result: dict, k: int) -> dict[str, float | None]:
    out = {attr: by_k.get(str(k), {}).get("error") for attr, by_k in result["attributes"].items()}
    values = [v for v in out.values() if v is not None]
    out["average"] = sum(values) / len(values) if values else None
    return out


def _probe(result: dict) -> dict[str, float | None]:
    return {f"{p} {part}": v for p, parts in result["errors"].items() for part, v in parts.items()}


def collect_results(plan: Plan) -> Results:
    mv_eval, mf_eval = plan.path("runs", "mvtcn", "evaluation"), plan.path("runs", "mftcn", "evaluation")
    align_mv, align_base = _latest(mv_eval, "alignment")
    align_mf, _ = _latest(mf_eval, "alignment")
    knn_mv, knn_base = _latest(mv_eval, "labeled_eval")
    knn_mf, _ = _latest(mf_eval, "labeled_eval")
    k = min(int(x) for x in next(iter(knn_mv["result"]["attributes"].values())))
    probe_mv, probe_base = _latest(mv_eval, "probe")
    probe_mf, _ = _latest(mf_eval, "probe")
    frames_metric = _metric("phase-eval", plan.world.label)
    frames_mv, frames_base = _latest(mv_eval, frames_metric)
    untrained = "untrained"
    for name, base in (
        ("alignment", align_base),
        ("labeled_eval", knn_base),
        ("probe", probe_base),
        (frames_metric, frames_base),
    ):
        if "result" not in base.get(untrained, {}):
            raise DataError(f"{mv_eval / (name + '.json')}: no untrained baseline; run tcn demo --force")
    from timecontrast.data.dataset_info import read_dataset_info

    try:
        attributes = read_dataset_info(layout.dataset_info_path(plan.path("data"))).get("attributes", [])
    except (OSError, DataError) as exc:
        log.warning("%s; the report lists no attribute descriptions", exc)
        attributes = []
    if not isinstance(attributes, list):
        attributes = []
    attributes = [a for a in attributes if isinstance(a, dict) and isinstance(a.get("name"), str)]
    return Results(
        alignment={
            "mvtcn": align_mv["result"]["error"],
            "untrained": align_base[untrained]["result"]["error"],
            "mftcn": align_mf["result"]["error"],
        },
        knn={
            "mvtcn": _knn(knn_mv["result"], k),
            "untrained": _knn(knn_base[untrained]["result"], k),
            "mftcn": _knn(knn_mf["result"], k),
        },
        probe={
            "mvtcn": _probe(probe_mv["result"]),
            "untrained": _probe(probe_base[untrained]["result"]),
            "mftcn": _probe(probe_mf["result"]),
        },
        attributes=attributes,
        k=k,
        step_mv=int(align_mv["step"]),
        step_mf=int(align_mf["step"]),
        per_frame={"mvtcn": frames_mv["scalars"], "untrained": frames_base[untrained]["scalars"]},
        label=plan.world.label,
        phase_targets=plan.world.phase_targets,
    )


@dataclass
class Check:
    claim: str
    holds: bool
    detail: str


def _f(value: float | None, digits: int = 4) -> str:
    """A number for the summary lines; '-' where a metric had no value (NaN in the results)."""
    from timecontrast.viz.report import format_cell

    return format_cell(value, digits)


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def checks(r: Results) -> list[Check]:
    """What the demo is meant to show, each with the numbers behind it."""
    a_mv, a_base = r.alignment["mvtcn"], r.alignment["untrained"]
    k_mv, k_base = r.knn["mvtcn"]["average"], r.knn["untrained"]["average"]
    motion = [a["name"] for a in r.attributes if a.get("kind") == "motion" and a["name"] in r.knn["mftcn"]]
    out = [
        Check(
            "trained alignment error is at most half the untrained baseline's",
            a_mv is not None and a_base is not None and a_mv <= 0.5 * a_base,
            f"{_f(a_mv)} vs {_f(a_base)} (ratio {_f(_ratio(a_mv, a_base), 2)})",
        ),
        Check(
            f"trained kNN error (average over attributes, top-{r.k}) is clearly below the baseline's",
            k_mv is not None and k_base is not None and k_mv <= k_base - 0.05,
            f"{_f(k_mv)} vs {_f(k_base)}",
        ),
    ]
    for probe in ("linear", "mlp"):
        key = f"{probe} velocity"
        v_mf, v_mv = r.probe["mftcn"].get(key), r.probe["mvtcn"].get(key)
        if v_mf is not None and v_mv is not None:
            out.append(
                Check(
                    f"multi-frame velocity probe error ({probe}) is below the single-frame one's",
                    v_mf < v_mv,
                    f"{_f(v_mf)} vs {_f(v_mv)}",
                )
            )
    motion_mf = [e for a in motion if (e := r.knn["mftcn"].get(a)) is not None]
    motion_mv = [e for a in motion if (e := r.knn["mvtcn"].get(a)) is not None]
    if motion and len(motion_mf) == len(motion_mv) == len(motion):
        m_mf = sum(motion_mf) / len(motion)
        m_mv = sum(motion_mv) / len(motion)
        out.append(
            Check(
                f"multi-frame kNN error on motion attributes ({', '.join(motion)}) is below the single-frame one's",
                m_mf < m_mv,
                f"{_f(m_mf)} vs {_f(m_mv)}",
            )
        )
    if r.phase_targets:
        out += _phase_checks(r)
    return out


def _phase_checks(r: Results) -> list[Check]:
    """The per-frame metrics' targets on a task with ordered phases (pouring)."""
    trained, base = r.per_frame["mvtcn"], r.per_frame["untrained"]
    tau = "validation/kendall_tau/across sequences"
    accuracy = f"validation/phase_classification/{r.label} accuracy 100%"
    progression = f"validation/phase_progression/{r.label} r2"
    t_mv, t_base = trained.get(tau), base.get(tau)
    a_mv, a_base = trained.get(accuracy), base.get(accuracy)
    p_mv = trained.get(progression)
    return [
        Check(
            "trained Kendall's tau across sequences is at least the untrained one's + 0.3",
            t_mv is not None and t_base is not None and t_mv >= t_base + 0.3,
            f"{_f(t_mv)} vs {_f(t_base)}",
        ),
        Check(
            f"phase classification ({r.label}, 100 % of training) is at least 15 points above the untrained one's",
            a_mv is not None and a_base is not None and a_mv >= a_base + 0.15,
            f"{_f(a_mv)} vs {_f(a_base)}",
        ),
        Check("phase progression R^2 (TCC's) is at least 0.5", p_mv is not None and p_mv >= 0.5, f"{_f(p_mv)}"),
    ]


# ------------------------------------------------------------------------------- report
def _first(folder: Path, pattern: str) -> Path | None:
    found = sorted(folder.glob(pattern))
    return found[0] if found else None


def write_report(plan: Plan, r: Results, found: list[Check], total_seconds: float, quick: bool) -> tuple[Path, Path]:
    from timecontrast import __version__
    from timecontrast.viz.report import Report, machine_summary

    out = plan.outdir
    rep = Report(f"timecontrast demo: TCN on the simulated {plan.world.name}")
    rep.text(
        f"Generated {time.strftime('%Y-%m-%d %H:%M')} by timecontrast {__version__} on {machine_summary()}; "
        f"all steps {total_seconds / 60:.1f} min."
        + (" **--quick run: tiny data, the numbers mean nothing.**" if quick else "")
    )
    rep.text(
        f"{plan.world.scene} filmed by two cameras ({plan.scale.train} training and {plan.scale.val} validation sequences "
        f"of {plan.scale.length} frames at {plan.scale.size}x{plan.scale.size}, DM Control's own look; each "
        "sequence places its cameras anew). The multi-view TCN learns, without "
        "labels, an embedding in which the two cameras' frames of the same moment are close and other moments "
        "are far. Below, the trained network against the same network untrained."
    )
    rep.heading("What it shows")
    rep.bullets([f"{'PASS' if c.holds else 'FAIL'}: {c.claim}: {c.detail}" for c in found])

    rep.heading("Multi-view TCN against the untrained baseline")
    rows: list[list] = [
        ["alignment error (0 = perfect, ~0.33 = chance)", r.alignment["mvtcn"], r.alignment["untrained"]]
    ]
    for attr in [a for a in r.knn["mvtcn"] if a != "average"] + ["average"]:
        kind = next((a.get("kind") for a in r.attributes if a["name"] == attr), None)
        label = f"kNN error@top{r.k}: {attr}" + (f" ({kind})" if kind else "")
        rows.append([label, r.knn["mvtcn"][attr], r.knn["untrained"][attr]])
    for key in r.probe["mvtcn"]:
        rows.append([f"state probe MSE/variance: {key}", r.probe["mvtcn"][key], r.probe["untrained"][key]])
    rep.table(["metric (lower is better)", f"trained (step {r.step_mv})", "untrained"], rows)
    rep.text(
        "Alignment error: for each frame of one camera, how far in time (as a fraction of the sequence) its "
        "nearest neighbour in the other camera's video is. kNN error: a frame's label is missed by its nearest "
        "frame in *other* sequences (class-balanced). State probe: a linear (ridge) and an MLP regressor from "
        "the embedding and its change to the true position and velocity, fitted on the training sequences and "
        "scored on the validation ones (1 = no better than the mean)."
    )

    _per_frame_section(rep, r, plan.world)

    rep.heading("What motion adds: single-frame against multi-frame TCN")
    motion = {a["name"] for a in r.attributes if a.get("kind") == "motion"}
    rows = [
        [f"state probe MSE/variance: {key}", r.probe["mvtcn"][key], r.probe["mftcn"].get(key)]
        for key in r.probe["mvtcn"]
    ]
    rows += [
        [
            f"kNN error@top{r.k}: {a} ({'motion' if a in motion else 'static'})",
            r.knn["mvtcn"][a],
            r.knn["mftcn"].get(a),
        ]
        for a in r.knn["mvtcn"]
        if a != "average"
    ]
    rows.append(["alignment error", r.alignment["mvtcn"], r.alignment["mftcn"]])
    rep.table(["metric (lower is better)", "single-frame (mvTCN)", f"multi-frame (mfTCN, step {r.step_mf})"], rows)
    rep.text(
        "The multi-frame TCN embeds a clip of 3 frames (every 2nd frame) ending at each timestep, so its "
        "embedding can hold how things move, not only where they are."
    )

    rep.heading("Imitation")
    for sub, caption in (
        ("views", "Camera 1 (left) and, for each of its frames, the nearest frame of camera 0 (right)"),
        ("sequences", "A validation sequence and its nearest frames in a training sequence"),
    ):
        folder = out / "imitation" / sub
        video, gif = _first(folder, "*.mp4"), _first(folder, "*.gif")
        if gif is not None:
            rep.image(gif, caption)
        if video is not None:
            rep.video(video, f"{caption} (mp4)")
        plot = _first(folder, "*_alignment.png")
        if plot is not None:
            rep.image(plot, "Query time against the time of the matched frame")

    rep.heading("Embedding plots and projector")
    for name, caption in (
        ("pca.png", "PCA of the embeddings of validation frames"),
        ("tsne.png", "t-SNE of the same frames"),
        ("trajectories.png", "Sequences as paths through the embedding (PCA)"),
    ):
        if (out / "projector" / name).is_file():
            rep.image(out / "projector" / name, caption)
    rep.text(f"The projector run (sprites and labels): `tensorboard --logdir {out / 'projector'}`, tab Projector.")

    rep.heading("Reproduce")
    rep.text("Each step is a tcn command (run from the directory the demo ran in):")
    lines = []
    for step in plan.steps:
        took = "" if step.seconds is None else f" ({step.seconds:.0f} s{', earlier run' if step.skipped else ''})"
        lines += [f"# {step.title}{took}", step.command()]
    rep.code("\n".join(lines))
    rep.text("Training curves and evaluation scalars in TensorBoard:")
    rep.code(f"tensorboard --logdir {out / 'runs'}")
    return rep.write(out)


def _per_frame_section(rep, r: Results, world: DemoWorld) -> None:
    """The metrics papers on self-supervised video embeddings report (tcn phase-eval)."""
    from timecontrast.evaluation.sequence_metrics import describe_scalar

    rep.heading("The field's per-frame metrics (TCC, XIRL)")
    rows = [
        [describe_scalar(tag), value, r.per_frame["untrained"].get(tag)] for tag, value in r.per_frame["mvtcn"].items()
    ]
    rep.table(["metric (higher is better)", f"trained (step {r.step_mv})", "untrained"], rows)
    rep.text(
        "What TCC, XIRL and later papers report, on camera 0 of the validation sequences (definitions and how "
        "they differ from the papers': docs/evaluation.md). Kendall's tau: each frame's nearest frame in *another* "
        "sequence should come later when the frame does (1 = aligned, 0 = unrelated); across views: the same "
        "between the two cameras of one sequence. Cycle consistency: the share of frames that come back to "
        "themselves through the nearest frames of one (2-way) or two (3-way) other sequences. " + world.label_text
    )


# --------------------------------------------------------------------------------- CLI
def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--outdir",
        default="demo_output",
        help="where everything goes: a new or empty folder, or an earlier demo's (default: demo_output)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a seconds-long run on tiny data, to check the chain (numbers mean nothing)",
    )
    parser.add_argument(
        "--world",
        choices=sorted(WORLDS),
        default="cartpole",
        help="cartpole (default): the chain on a cart-pole swing-up; pouring: a hand pouring into a cup, whose "
        "five task phases the per-frame metrics (Kendall's tau, phase classification and progression) are "
        "checked on (use another --outdir than the cart-pole demo's)",
    )
    parser.add_argument("--device", default=None, help="cpu | cuda | cuda:N (default: runtime.device, auto)")
    parser.add_argument("--force", action="store_true", help="redo every step, also those done before")


def run(args: argparse.Namespace) -> int:
    outdir = Path(args.outdir)
    if outdir.exists() and not outdir.is_dir():
        raise DataError(f"--outdir '{outdir}' is a file; give a directory")
    # The demo removes a step's old outputs before redoing it, so it only ever writes into
    # a new or empty folder, or one it made before (marked by its step record).
    if outdir.is_dir() and any(outdir.iterdir()) and not (outdir / STATE_FILE).is_file():
        raise DataError(
            f"--outdir '{outdir}' already holds files that tcn demo did not write; give a new or empty directory"
        )
    outdir.mkdir(parents=True, exist_ok=True)
    if not (outdir / STATE_FILE).is_file():
        _save_state(outdir, {})  # marks the folder as the demo's before anything is written
    plan = make_plan(outdir, args.quick, args.device, args.world)
    start = time.perf_counter()
    run_steps(plan, args.force)
    results = collect_results(plan)
    found = checks(results)
    total = sum(s.seconds or 0.0 for s in plan.steps)
    md, html_path = write_report(plan, results, found, total, args.quick)
    print("\n" + "=" * 72)
    print(f"demo finished in {(time.perf_counter() - start) / 60:.1f} min")
    print(f"alignment error: trained {_f(results.alignment['mvtcn'])}, untrained {_f(results.alignment['untrained'])}")
    print(
        f"kNN error (average, top-{results.k}): trained {_f(results.knn['mvtcn']['average'])}, "
        f"untrained {_f(results.knn['untrained']['average'])}"
    )
    for key in ("linear velocity", "mlp velocity"):
        if key in results.probe["mvtcn"]:
            print(
                f"velocity probe ({key.split()[0]}): single-frame {_f(results.probe['mvtcn'][key])}, "
                f"multi-frame {_f(results.probe['mftcn'][key])}"
            )
    from timecontrast.evaluation.sequence_metrics import describe_scalar

    for tag in (
        "validation/kendall_tau/across sequences",
        f"validation/phase_classification/{plan.world.label} accuracy 100%",
        f"validation/phase_progression/{plan.world.label} r2",
    ):
        if tag in results.per_frame["mvtcn"]:
            print(
                f"{describe_scalar(tag)}: trained {_f(results.per_frame['mvtcn'][tag])}, "
                f"untrained {_f(results.per_frame['untrained'].get(tag))}"
            )
    for c in found:
        print(f"  {'PASS' if c.holds else 'FAIL'}  {c.claim}")
    print(f"report: {html_path}  ({md.name} beside it)")
    print(f"TensorBoard: tensorboard --logdir {outdir / 'runs'}")
    return 0


__all__ = ["FULL", "QUICK", "WORLDS", "add_arguments", "run"]
