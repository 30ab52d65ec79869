"""The ``mne-m2s`` command line: a thin layer over the public functions.

Subcommands
-----------
``mne-m2s demo``
    The main job on the embedded :class:`~mne_m2s.datasets.SyntheticEmotion`
    data: M2S, its contrastive-only ("clip") ablation and the supervised
    unimodal baseline on the four EEG/eye tasks, SEED protocol.
``mne-m2s datasets``
    Registered datasets and whether their files are found.
``mne-m2s evaluate``
    The cross-modal evaluation of M2S on a licensed dataset.
``mne-m2s pretrain``
    One encoder set pre-trained on a whole dataset and saved to a model file;
    data-parallel under ``torchrun --nproc-per-node N -m mne_m2s pretrain``.

Only this module prints; the library logs through the ``mne_m2s`` logger.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
import time
from pathlib import Path

#: Architecture and schedule of the demo (a model much smaller than the
#: paper's, SPEC.md §3, so that the demo runs in minutes on a laptop CPU).
DEMO_SETTINGS = dict(
    embedding_dim=32,
    n_layers=1,
    n_heads=2,
    head_dim=8,
    ffn_dim=64,
    proj_dim=16,
    pretrain_max_epochs=60,
    pretrain_batch_size=64,
    pretrain_lr=1e-3,
    max_epochs=60,
    batch_size=64,
    lr=1e-3,
)
#: Changes for ``--quick``.
QUICK_SETTINGS = dict(
    pretrain_max_epochs=30, pretrain_batch_size=128, max_epochs=40, batch_size=128
)
#: Demo data: subjects (``--subjects``), quick-run subjects, sample stride in windows.
DEMO_SUBJECTS, QUICK_SUBJECTS, DEMO_STEP = 5, 2, 2
#: SyntheticEmotion settings of the demo (besides subjects and seed): SEED-like sessions
#: of 15 trials of 60 s, 3 classes.
DEMO_DATA = dict(n_trials=15, n_classes=3, trial_duration=60.0, difficulty="medium")
#: Loss weights of the contrastive-only ablation (SPEC.md §5, "CLIP").
CLIP_WEIGHTS = dict(cpc_weight=0.0, recon_weight=0.0, club_weight=0.0)
#: Methods of the demo and of ``evaluate --methods``.
METHODS = ("M2S", "clip", "supervised")


def _paragraphs(*paragraphs):
    return "\n\n".join(textwrap.fill(p, 79) for p in paragraphs)


def _settings_text(settings):
    return ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                     for k, v in settings.items())


def make_pipelines(settings, methods=METHODS):
    """The demo's estimators and which of them are pre-trained.

    Parameters
    ----------
    settings : dict
        Keyword arguments of :class:`~mne_m2s.M2SClassifier` shared by all methods.
    methods : tuple of str
        Among ``"M2S"`` (full pre-training), ``"clip"`` (contrastive-only
        pre-training: CPC, reconstruction and CLUB weights 0) and
        ``"supervised"`` (the same encoder trained end to end on one
        modality, no pre-training).

    Returns
    -------
    pipelines : dict of str -> M2SClassifier
    pretrain : dict of str -> bool
        For :meth:`~mne_m2s.evaluation.CrossModalEvaluation.process`.
    """
    from .classifier import M2SClassifier

    pipelines, pretrain = {}, {}
    for method in methods:
        if method == "M2S":
            pipelines[method], pretrain[method] = M2SClassifier(**settings), True
        elif method == "clip":
            pipelines[method] = M2SClassifier(**settings, **CLIP_WEIGHTS)
            pretrain[method] = True
        elif method == "supervised":
            pipelines[method], pretrain[method] = M2SClassifier(**settings), False
        else:
            raise ValueError(f"Unknown method {method!r}; choose among {METHODS}.")
    return pipelines, pretrain


def format_summary(summary):
    """Text table ``mean ± sd`` of a :func:`~mne_m2s.evaluation.summarize` frame.

    Parameters
    ----------
    summary : pandas.DataFrame
        Output of :func:`~mne_m2s.evaluation.summarize`.

    Returns
    -------
    table : str
        One line per method and task; the sd is left out where it is
        undefined (one subject).
    """
    import pandas as pd

    scores = [c[: -len("_mean")] for c in summary.columns if c.endswith("_mean")]
    table = pd.DataFrame(index=summary.index.droplevel("dataset"))
    for score in scores:
        mean = summary[f"{score}_mean"].to_numpy()
        std = summary[f"{score}_std"].to_numpy()  # NaN for a single subject
        table[score] = [f"{m:.3f} ± {s:.3f}" if s == s else f"{m:.3f}"
                        for m, s in zip(mean, std, strict=True)]
    table["subjects"] = summary["n_subjects"].to_numpy()
    return table.to_string()


def compare_methods(results, a="M2S", b="clip"):
    """Paired comparison of two methods on the cross-modal tasks.

    Parameters
    ----------
    results : pandas.DataFrame
        Output of :meth:`~mne_m2s.evaluation.CrossModalEvaluation.process`.
    a, b : str
        Methods to compare.

    Returns
    -------
    lines : list of str
        One line per cross-modal task (mean difference of balanced accuracy
        over subjects, and in how many subjects ``a`` is higher) and one overall.
    """
    cross = results[results["train_modality"] != results["test_modality"]]
    wide = cross.pivot_table(index="subject", columns=["task", "method"],
                             values="balanced_accuracy")
    lines, diffs = [], []
    for task in dict.fromkeys(cross["task"]):
        if (task, a) not in wide.columns or (task, b) not in wide.columns:
            continue
        d = (wide[(task, a)] - wide[(task, b)]).dropna()
        diffs.append(d)
        lines.append(f"  {task}: {a} - {b} = {d.mean():+.3f} balanced accuracy "
                     f"({a} higher in {(d > 0).sum()}, lower in {(d < 0).sum()} of {len(d)} "
                     "subjects)")
    if diffs:
        import pandas as pd

        d = pd.concat(diffs)
        lines.append(f"  cross-modal mean: {a} - {b} = {d.mean():+.3f} ({a} higher in "
                     f"{(d > 0).sum()}, lower in {(d < 0).sum()} of {len(d)} subject-tasks)")
    return lines


def _write_outputs(results, out, chance, title):
    from .evaluation import plot_results

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    csv = out / "results.csv"
    results.to_csv(csv, index=False)
    png = out / "results.png"
    plot_results(results, chance=chance, title=title).savefig(png, dpi=120)
    return csv, png


def _estimator_verbose():
    # Per-epoch bars only where a terminal shows them; logs stay free of bar lines.
    return 1 if sys.stderr.isatty() else 0


# --------------------------------------------------------------------- demo
def _demo(args):
    from .datasets import SyntheticEmotion
    from .evaluation import CrossModalEvaluation, summarize
    from .paradigms import EmotionParadigm

    t0 = time.perf_counter()
    n_subjects = args.subjects
    if n_subjects is None:
        n_subjects = QUICK_SUBJECTS if args.quick else DEMO_SUBJECTS
    if n_subjects < 1:
        return _fail("demo", f"--subjects must be >= 1, got {n_subjects}.")
    problem = _check_device(args.device)
    if problem:
        return _fail("demo", problem)
    model = dict(DEMO_SETTINGS, **(QUICK_SETTINGS if args.quick else {}))
    settings = dict(model, device=args.device, random_state=args.seed,
                    verbose=_estimator_verbose())
    dataset = SyntheticEmotion(n_subjects=n_subjects, level=args.level,
                               modalities=("eeg", "eye"), random_state=args.seed, **DEMO_DATA)
    pipelines, pretrain = make_pipelines(settings)
    print(f"mne-m2s demo: SyntheticEmotion ({args.level} level), {n_subjects} subject(s), "
          f"{len(dataset.event_id)} classes, SEED protocol (trials 1-9 train, the rest test)",
          flush=True)
    print(f"Model and schedule: {_settings_text(model)}", flush=True)
    evaluation = CrossModalEvaluation(
        EmotionParadigm(n_windows=5, step=DEMO_STEP), [dataset], modalities=("eeg", "eye"),
        random_state=args.seed, verbose=1,
    )
    results = evaluation.process(pipelines, pretrain=pretrain)
    elapsed = time.perf_counter() - t0
    chance = 1.0 / len(dataset.event_id)
    csv, png = _write_outputs(results, args.out, chance,
                              f"SyntheticEmotion, {n_subjects} subject(s)")
    print()
    print("Balanced accuracy and Cohen's kappa, mean ± sd over subjects "
          f"(chance {chance:.3f}, kappa 0):")
    print(format_summary(summarize(results)))
    print()
    print("M2S vs contrastive-only pre-training (clip), paired over subjects:")
    for line in compare_methods(results):
        print(line)
    print()
    print(f"Wrote {csv} and {png} ({elapsed:.0f} s).")
    return 0


# ----------------------------------------------------------------- datasets
def _datasets(args):
    from .datasets._status import dataset_status

    status = dataset_status()
    print(f"{'dataset':<17} {'level':<9} {'found':<6} path / what is missing")
    for row in status.itertuples(index=False):
        found = "yes" if row.found else "no"
        where = row.path if row.found and row.path else row.message
        print(f"{row.code:<17} {row.level:<9} {found:<6} {where}")
    return 0


# ----------------------------------------------------------------- evaluate
def _evaluate(args):
    from .datasets import get_dataset
    from .datasets.base import BaseEmotionDataset, DatasetLayoutError
    from .evaluation import CrossModalEvaluation, summarize
    from .paradigms import EmotionParadigm

    try:
        probe = get_dataset(args.dataset)
        if type(probe).check_files is not BaseEmotionDataset.check_files:
            raise ValueError(
                f"{probe.code} is generated on the fly, not read from files; run "
                "`mne-m2s demo` to evaluate on it."
            )
        kwargs = {"path": args.path}
        if len(probe.levels) > 1:  # the feature level where there is one
            kwargs["level"] = "features" if "features" in probe.levels else probe.level
        dataset = get_dataset(args.dataset, **kwargs)
        dataset._check_layout()  # the full message: what is missing where, how to fix it
        subjects = args.subjects or list(dataset.subject_list)
        unknown = [s for s in subjects if s not in dataset.subject_list]
        if unknown:
            raise ValueError(f"{dataset.code} has no subject(s) {unknown}; subjects are "
                             f"{dataset.subject_list}.")
        if args.n_windows < 1:
            raise ValueError(f"--n-windows must be >= 1, got {args.n_windows}.")
        problem = _check_device(args.device)
        if problem:
            raise ValueError(problem)
    except (DatasetLayoutError, OSError, ValueError, TypeError) as err:
        return _fail("evaluate", str(err))
    dataset.subject_list = list(subjects)
    if args.quick:
        settings = dict(DEMO_SETTINGS, **QUICK_SETTINGS)
    else:
        # the paper's model and schedule (SPEC.md §3-4): M2SClassifier's defaults
        settings = {"pretrain_batch_size": 256 if dataset.code == "SEED-IV" else 512}
    settings.update(device=args.device, random_state=args.seed, verbose=_estimator_verbose())
    pipelines, pretrain = make_pipelines(settings, tuple(args.methods))
    print(f"mne-m2s evaluate: {dataset.code} ({dataset.level} level) from {dataset.data_path()}, "
          f"subjects {subjects}, methods {list(pipelines)}", flush=True)
    evaluation = CrossModalEvaluation(EmotionParadigm(n_windows=args.n_windows), [dataset],
                                      modalities=None, random_state=args.seed, verbose=1)
    t0 = time.perf_counter()
    try:
        results = evaluation.process(pipelines, pretrain=pretrain)
    except (DatasetLayoutError, OSError, ValueError) as err:
        return _fail("evaluate", str(err))
    chance = 1.0 / len(dataset.event_id)
    csv, png = _write_outputs(results, args.out, chance, f"{dataset.code}, {len(subjects)} "
                              "subject(s)")
    print()
    print("Mean ± sd over subjects:")
    print(format_summary(summarize(results, scores=("balanced_accuracy", "kappa", "f1"))))
    print(f"\nWrote {csv} and {png} ({time.perf_counter() - t0:.0f} s).")
    return 0


# ----------------------------------------------------------------- pretrain
def _add_pretrain_parser(sub):
    """The ``pretrain`` subcommand (corpus pre-training, data-parallel under torchrun)."""
    pretrain = sub.add_parser(
        "pretrain",
        help="pre-train one encoder set on a whole dataset (data-parallel under torchrun)",
        description=_paragraphs(
            "Pre-train the M2S encoders on the unlabelled paired multimodal samples of every "
            "selected subject and session of a dataset (feature level for the SEED family) and "
            "save them to a model file; M2SClassifier(pretrained=PretrainedM2S.load(FILE)) "
            "fine-tunes from it.",
            "Started as `torchrun --nproc-per-node N -m mne_m2s pretrain ...` the pre-training "
            "is data-parallel (gloo on CPU, nccl on GPUs, one GPU per process); --batch-size "
            "stays the global batch. A checkpoint is written every --checkpoint-every epochs; "
            "--resume continues from it to the result of an uninterrupted run.",
        ),
    )
    pretrain.add_argument("--dataset", required=True, metavar="CODE",
                          help="dataset code, e.g. SEED, SEED-IV, SEED-V, DEAP, DREAMER")
    pretrain.add_argument("--path", required=True, metavar="DIR",
                          help="root folder of the dataset's files")
    pretrain.add_argument("--subjects", type=int, nargs="+", default=None, metavar="S",
                          help="subjects to pre-train on (default: all; every session of each)")
    pretrain.add_argument("--out", required=True, metavar="FILE",
                          help="model file of the pre-trained encoders (written atomically)")
    pretrain.add_argument("--resume", action="store_true",
                          help="continue from the checkpoint in --checkpoint-dir if there is one")
    pretrain.add_argument("--checkpoint-dir", default=None, metavar="DIR",
                          help="folder of the checkpoint (default: FILE.checkpoint next to --out)")
    pretrain.add_argument("--checkpoint-every", type=int, default=10, metavar="N",
                          help="epochs between checkpoints (default 10)")
    pretrain.add_argument("--device", default="auto",
                          help="torch device: auto (default), cpu, cuda, cuda:N, mps; under "
                               "torchrun with cuda each process uses cuda:LOCAL_RANK")
    pretrain.add_argument("--precision", default="float32",
                          choices=("float32", "bf16", "fp16"),
                          help="float32 (default), bf16 (bfloat16 autocast) or fp16 (float16 "
                               "autocast with a gradient scaler; CUDA)")
    pretrain.add_argument("--epochs", type=int, default=None, metavar="N",
                          help="pre-training epochs (default: the paper's 200)")
    pretrain.add_argument("--batch-size", type=int, default=None, metavar="B",
                          help="global batch (default: the paper's, 256 for SEED-IV, else 512)")
    pretrain.add_argument("--n-windows", type=int, default=5, metavar="T",
                          help="consecutive windows per sample (default 5, the paper's T)")
    pretrain.add_argument("--cpc-steps", type=int, default=2, metavar="N",
                          help="M2M CPC prediction steps (default 2, the paper's)")
    pretrain.add_argument("--quick", action="store_true",
                          help="the demo's small model and short schedule")
    pretrain.add_argument("--seed", type=int, default=0, help="seed of the run (default 0)")
    pretrain.set_defaults(func=_pretrain)
    return pretrain


def _pretrain(args):
    """``mne-m2s pretrain``: a thin layer over :func:`mne_m2s.corpus.pretrain_corpus`."""
    from .distributed import DistributedError, get_context, init_from_env

    try:
        created, device = init_from_env(args.device)
    except (RuntimeError, ValueError) as err:
        return _fail("pretrain", str(err))
    context = get_context()
    where = f"[rank {context.rank}/{context.world_size}] " if context is not None else ""
    try:
        clf, meta, seconds = _pretrain_run(args, device, context)
    except (DistributedError, OSError, ValueError, TypeError) as err:
        return _fail("pretrain", where + str(err))
    finally:
        if created:
            import torch.distributed as dist

            dist.destroy_process_group()
    if context is None or context.is_main:
        from .corpus import corpus_summary

        info = corpus_summary(meta)
        ranks = f" on {context.world_size} processes" if context is not None else ""
        print(f"Pre-trained {', '.join(clf.pretrained.modalities)} encoders on "
              f"{info['subjects']} subject(s), {info['sessions']} subject-session(s), "
              f"{info['samples']} samples{ranks} in {seconds:.0f} s; wrote {args.out}.")
    return 0


def _pretrain_run(args, device, context):
    from . import M2SClassifier
    from .corpus import _collective, pretrain_corpus
    from .datasets import get_dataset
    from .datasets.base import DatasetLayoutError
    from .paradigms import EmotionParadigm

    def _setup():
        for name in ("n_windows", "cpc_steps", "checkpoint_every"):
            if getattr(args, name) < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be >= 1, got "
                                 f"{getattr(args, name)}.")
        for name in ("epochs", "batch_size"):
            if getattr(args, name) is not None and getattr(args, name) < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be >= 1, got "
                                 f"{getattr(args, name)}.")
        problem = _check_device(device)
        if problem:
            raise ValueError(problem)
        try:
            probe = get_dataset(args.dataset)
            kwargs = {"path": args.path}
            if len(probe.levels) > 1:  # the feature level where there is one
                kwargs["level"] = "features" if "features" in probe.levels else probe.level
            dataset = get_dataset(args.dataset, **kwargs)
            dataset._check_layout()  # what is missing where, how to fix it
        except DatasetLayoutError as err:
            raise ValueError(str(err)) from err
        subjects = args.subjects or list(dataset.subject_list)
        unknown = [s for s in subjects if s not in dataset.subject_list]
        if unknown:
            raise ValueError(f"{dataset.code} has no subject(s) {unknown}; subjects are "
                             f"{dataset.subject_list}.")
        return dataset, subjects

    dataset, subjects = _collective(context, _setup)
    if args.quick:
        settings = dict(DEMO_SETTINGS, **QUICK_SETTINGS)
    else:
        settings = {"pretrain_batch_size": 256 if dataset.code == "SEED-IV" else 512}
    if args.epochs is not None:
        settings["pretrain_max_epochs"] = args.epochs
    if args.batch_size is not None:
        settings["pretrain_batch_size"] = args.batch_size
    checkpoint_dir = args.checkpoint_dir or f"{args.out}.checkpoint"
    verbose = _estimator_verbose() if context is None or context.is_main else 0
    estimator = M2SClassifier(
        **settings, cpc_steps=args.cpc_steps, device=device, precision=args.precision,
        checkpoint_dir=checkpoint_dir, checkpoint_every=args.checkpoint_every,
        resume=args.resume, random_state=args.seed, verbose=verbose,
    )
    if context is None or context.is_main:
        print(f"mne-m2s pretrain: {dataset.code} ({dataset.level} level) from "
              f"{dataset.data_path()}, subjects {subjects}"
              + (f", {context.world_size} processes ({context.backend})" if context else ""),
              flush=True)
    t0 = time.perf_counter()
    paradigm = EmotionParadigm(n_windows=args.n_windows)
    clf, meta = pretrain_corpus(dataset, subjects, paradigm=paradigm, estimator=estimator,
                                out=args.out)
    return clf, meta, time.perf_counter() - t0


def _check_device(device):
    """Why ``device`` cannot be used here, or an empty string."""
    from .utils.device import resolve_device

    try:
        resolve_device(device)
    except (ValueError, TypeError, RuntimeError) as err:
        return str(err)
    return ""


def _fail(command, message):
    print(f"mne-m2s {command}: error: {message}", file=sys.stderr)
    return 2


# ------------------------------------------------------------------- parser
def build_parser():
    """The argument parser of ``mne-m2s``.

    Returns
    -------
    parser : argparse.ArgumentParser
    """
    parser = argparse.ArgumentParser(
        prog="mne-m2s",
        description="Multi-to-Single (M2S) emotion recognition: cross-modal evaluation.",
    )
    from ._version import __version__

    parser.add_argument("--version", action="version", version=f"mne-m2s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    demo = sub.add_parser(
        "demo",
        help="the main job on the embedded synthetic dataset",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=_paragraphs(
            "Pre-train and evaluate M2S on SyntheticEmotion at its feature level (per-window "
            "EEG differential entropy, 62 channels x 5 bands, and 33 eye-movement features; "
            "15 trials of 60 s per subject, 3 classes) with the SEED protocol: per subject, "
            "trials 1-9 train (pre-training without labels, then fine-tuning), trials 10-15 "
            "test. Samples are 5 consecutive 1-s windows taken every "
            f"{DEMO_STEP} windows. --level raw renders the signals instead (EEG, eye "
            "tracking) and M2SClassifier extracts the features from the epochs (its default "
            "extractors): the same job, about 15 % slower.",
            "Methods: M2S (the full pre-training loss), clip (contrastive-only pre-training: "
            "CPC, reconstruction and CLUB weights 0) and supervised (the same encoder "
            "trained end to end on one modality, no pre-training). Tasks: eeg->eeg, "
            "eye->eye, eeg->eye, eye->eeg (fine-tune modality -> test modality; supervised "
            "has no cross-modal task). Scores: balanced accuracy and Cohen's kappa. No model "
            "selection: fixed schedules, and the test trials are used once.",
            "Model, smaller than the paper's 128-d, 4-layer encoders: "
            f"{_settings_text(DEMO_SETTINGS)}. About 3 minutes on a 2-core CPU.",
            f"--quick: {QUICK_SUBJECTS} subjects, {_settings_text(QUICK_SETTINGS)}; under a "
            "minute.",
            "Writes DIR/results.csv (one row per method, task and subject) and "
            "DIR/results.png (bars: mean over subjects, error bars: sd), and prints "
            "mean ± sd over subjects.",
        ),
    )
    demo.add_argument("--out", default="mne-m2s-demo", metavar="DIR",
                      help="output folder (default: ./mne-m2s-demo)")
    demo.add_argument("--quick", action="store_true",
                      help=f"a run of about a minute ({QUICK_SUBJECTS} subjects, fewer epochs)")
    demo.add_argument("--subjects", type=int, default=None, metavar="N",
                      help=f"number of synthetic subjects (default {DEMO_SUBJECTS}, "
                           f"{QUICK_SUBJECTS} with --quick)")
    demo.add_argument("--level", default="features", choices=("features", "raw"),
                      help="SyntheticEmotion level: per-window features (default) or signals")
    demo.add_argument("--device", default="cpu",
                      help="torch device: cpu (default), auto, cuda, cuda:N, mps")
    demo.add_argument("--seed", type=int, default=0,
                      help="seed of the data and of every model (default 0)")
    demo.set_defaults(func=_demo)

    datasets = sub.add_parser("datasets", help="registered datasets and whether files are found",
                              description="List the registered datasets, their levels, the "
                              "folder each is looked for in and whether its files are found.")
    datasets.set_defaults(func=_datasets)

    evaluate = sub.add_parser(
        "evaluate",
        help="cross-modal evaluation of M2S on a dataset read from files",
        description=(
            "Run the cross-modal evaluation (pre-training on the training trials, fine-tuning "
            "on one modality, testing on every modality; the dataset's published protocol) on "
            "a licensed dataset, at its feature level where it has one (SEED family), else "
            "from its signals (DEAP, DREAMER). Without --quick the model is the paper's "
            "(M2SClassifier defaults: 200 pre-training and fine-tuning epochs), which needs a "
            "GPU (--device cuda)."
        ),
    )
    evaluate.add_argument("--dataset", required=True, metavar="CODE",
                          help="dataset code, e.g. SEED, SEED-IV, SEED-V, DEAP, DREAMER")
    evaluate.add_argument("--path", required=True, metavar="DIR",
                          help="root folder of the dataset's files")
    evaluate.add_argument("--subjects", type=int, nargs="+", default=None, metavar="S",
                          help="subjects to evaluate (default: all)")
    evaluate.add_argument("--device", default="auto",
                          help="torch device: auto (default), cpu, cuda, cuda:N, mps")
    evaluate.add_argument("--out", default="mne-m2s-results", metavar="DIR",
                          help="output folder (default: ./mne-m2s-results)")
    evaluate.add_argument("--quick", action="store_true",
                          help="the demo's small model and short schedule")
    evaluate.add_argument("--methods", nargs="+", default=["M2S"], choices=METHODS,
                          help="methods to evaluate (default: M2S)")
    evaluate.add_argument("--n-windows", type=int, default=5, metavar="T",
                          help="consecutive windows per sample (default 5, the paper's T)")
    evaluate.add_argument("--seed", type=int, default=0, help="seed of every model (default 0)")
    evaluate.set_defaults(func=_evaluate)
    _add_pretrain_parser(sub)
    return parser


def main(argv=None):
    """Run the ``mne-m2s`` command line.

    Parameters
    ----------
    argv : list of str | None
        Arguments without the program name (default: ``sys.argv[1:]``).

    Returns
    -------
    code : int
        Exit status: 0 on success, 2 on a usage or data error.
    """
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
