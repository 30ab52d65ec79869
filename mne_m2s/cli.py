"""The ``mne-m2s`` command line: a thin layer over the public functions.

Subcommands
-----------
``mne-m2s demo``
    The main job on the embedded :class:`~mne_m2s.datasets.SyntheticEmotion`
    data (:func:`~mne_m2s.evaluation.experiments.run_demo`).
``mne-m2s datasets``
    Registered datasets and whether their files are found.
``mne-m2s sys-info``
    Platform, package versions, torch threads and the memory allocator
    (:func:`~mne_m2s.utils.sys_info`), for bug reports and benchmarks.
``mne-m2s evaluate``
    Registered methods under a protocol on a dataset
    (:func:`~mne_m2s.evaluation.experiments.run_evaluation`).
``mne-m2s ablate``
    One of the paper's ablations (:func:`~mne_m2s.evaluation.ablation.run_ablation`).
``mne-m2s pretrain``
    One encoder set pre-trained on a whole dataset and saved to a model file;
    data-parallel under ``torchrun --nproc-per-node N -m mne_m2s pretrain``.

Each subcommand is a pair ``_add_<command>_parser(sub)`` / ``_<command>(args)`` (hyphens
of the command as underscores);
:func:`build_parser` calls the ``_add_*`` functions of :data:`COMMANDS`. Only
this module prints; the library logs through the ``mne_m2s`` logger.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
import time

from .evaluation.experiments import (
    DEMO_SETTINGS,
    DEMO_STEP,
    DEMO_SUBJECTS,
    QUICK_SETTINGS,
    QUICK_SUBJECTS,
)


def _paragraphs(*paragraphs):
    return "\n\n".join(textwrap.fill(p, 79) for p in paragraphs)


def _settings_text(settings):
    return ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                     for k, v in settings.items())


def _estimator_verbose():
    # Per-epoch bars only where a terminal shows them; logs stay free of bar lines.
    return 1 if sys.stderr.isatty() else 0


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


_ERRORS = (OSError, ValueError, TypeError, ImportError)


# --------------------------------------------------------------------- demo
def _add_demo_parser(sub):
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
            "Writes DIR/results.csv (one row per method, task and subject), DIR/results.png "
            "(bars: mean over subjects, error bars: sd), DIR/paired.png (per-subject scores) "
            "and DIR/report.md, and prints mean ± sd over subjects. Finished units are kept in "
            "DIR/units: a rerun with the same settings reuses them.",
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
    demo.add_argument("--n-jobs", type=int, default=1, metavar="N",
                      help="units (subject x method) run in parallel (default 1)")
    demo.set_defaults(func=_demo)


def _demo(args):
    from .evaluation.experiments import demo_text, run_demo

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
    print(f"mne-m2s demo: SyntheticEmotion ({args.level} level), {n_subjects} subject(s), "
          "3 classes, SEED protocol (trials 1-9 train, the rest test)", flush=True)
    print(f"Model and schedule: {_settings_text(model)}", flush=True)
    try:
        result = run_demo(args.out, quick=args.quick, n_subjects=n_subjects, level=args.level,
                          device=args.device, random_state=args.seed, n_jobs=args.n_jobs,
                          verbose=1)
    except _ERRORS as err:
        return _fail("demo", str(err))
    for line in demo_text(result):
        print(line)
    print(f"({time.perf_counter() - t0:.0f} s)")
    return 0


# ----------------------------------------------------------------- datasets
def _add_datasets_parser(sub):
    datasets = sub.add_parser("datasets", help="registered datasets and whether files are found",
                              description="List the registered datasets, their levels, the "
                              "folder each is looked for in and whether its files are found.")
    datasets.set_defaults(func=_datasets)


def _datasets(args):
    from .datasets._status import dataset_status

    status = dataset_status()
    print(f"{'dataset':<17} {'level':<9} {'found':<6} path / what is missing")
    for row in status.itertuples(index=False):
        found = "yes" if row.found else "no"
        where = row.path if row.found and row.path else row.message
        print(f"{row.code:<17} {row.level:<9} {found:<6} {where}")
    return 0


# ----------------------------------------------------------------- sys-info
def _add_sys_info_parser(sub):
    parser = sub.add_parser("sys-info", help="platform, versions, torch threads, allocator",
                            description="Print the platform, the versions of the packages "
                            "M2S runs on, torch's threads and CPU kernels, and the memory "
                            "allocator of the process (paste it into bug reports).")
    parser.set_defaults(func=_sys_info)


def _sys_info(args):
    from .utils import sys_info

    sys_info()
    return 0


# ------------------------------------------------------- shared: dataset etc.
def _add_data_arguments(parser, path_required=True):
    parser.add_argument("--dataset", required=True, metavar="CODE",
                        help="dataset code, e.g. SEED, SEED-IV, SEED-V, DEAP, DREAMER")
    parser.add_argument("--path", required=path_required, default=None, metavar="DIR",
                        help="root folder of the dataset's files")
    parser.add_argument("--subjects", type=int, nargs="+", default=None, metavar="S",
                        help="subjects to evaluate (default: all)")
    parser.add_argument("--device", default="auto",
                        help="torch device: auto (default), cpu, cuda, cuda:N, mps")
    parser.add_argument("--quick", action="store_true",
                        help="the demo's small model and short schedule")
    parser.add_argument("--protocol", default="within", metavar="NAME",
                        help="within (default, the paper's), cross-session, loso (leave one "
                             "subject out) or reference (the reference implementation's "
                             "selection on TEST data, for comparison only)")
    parser.add_argument("--n-windows", type=int, default=5, metavar="T",
                        help="consecutive windows per sample (default 5, the paper's T)")
    parser.add_argument("--seed", type=int, default=0, help="seed of every model (default 0)")
    parser.add_argument("--n-jobs", type=int, default=1, metavar="N",
                        help="units (subject x session x split x method) in parallel "
                             "(joblib processes; default 1)")
    parser.add_argument("--scheduler", default=None, metavar="ADDRESS",
                        help="run the units on a Dask cluster (scheduler address, e.g. "
                             "tcp://host:8786); needs dask.distributed")
    parser.add_argument("--overwrite", action="store_true",
                        help="accept an output folder holding results of other settings (its "
                             "summary files are replaced; finished units are kept)")


def _load_dataset(args, allow_generated=False):
    """The dataset named by ``--dataset`` / ``--path`` / ``--subjects``, checked."""
    from .datasets import get_dataset
    from .datasets.base import BaseEmotionDataset

    probe = get_dataset(args.dataset)
    generated = type(probe).check_files is not BaseEmotionDataset.check_files
    if generated and not allow_generated:
        raise ValueError(f"{probe.code} is generated on the fly, not read from files; run "
                         "`mne-m2s demo` to evaluate on it.")
    if generated:
        from .evaluation.experiments import DEMO_DATA

        dataset = get_dataset(args.dataset, level="features", modalities=("eeg", "eye"),
                              n_subjects=max(args.subjects or [QUICK_SUBJECTS]),
                              random_state=args.seed, **DEMO_DATA)
    else:
        if args.path is None:
            raise ValueError(f"--path is required for {probe.code} (the folder of its files).")
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
    if args.n_jobs == 0:
        raise ValueError("--n-jobs must be a non-zero int (-1 for all cores), got 0.")
    from .evaluation.cross_modal import check_protocol_name

    check_protocol_name(args.protocol)
    problem = _check_device(args.device)
    if problem:
        raise ValueError(problem)
    dataset.subject_list = list(subjects)
    return dataset


def _model_settings(args, dataset):
    if args.quick:
        settings = dict(DEMO_SETTINGS, **QUICK_SETTINGS)
    else:
        # the paper's model and schedule (SPEC.md §3-4): M2SClassifier's defaults
        settings = {"pretrain_batch_size": 256 if dataset.code == "SEED-IV" else 512}
    settings.update(device=args.device, random_state=args.seed, verbose=_estimator_verbose())
    return settings


# ----------------------------------------------------------------- evaluate
def _add_evaluate_parser(sub):
    from .evaluation.methods import describe_methods

    evaluate = sub.add_parser(
        "evaluate",
        help="evaluate methods on a dataset (resumable)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=_paragraphs(
            "Run registered methods under a protocol on a licensed dataset, at its feature "
            "level where it has one (SEED family), else from its signals (DEAP, DREAMER), or "
            "on SyntheticEmotion features (no --path; the demo's data settings). "
            "Without --quick the model is the paper's (M2SClassifier defaults: 200 "
            "pre-training and fine-tuning epochs), which needs a GPU (--device cuda).",
            "Every finished unit (subject, session, split, method) is written to DIR/units at "
            "once; the same command run again skips finished units. Writes DIR/results.csv, "
            "DIR/report.md (tables in the paper's layout and statistics) and PNG figures.",
        ) + "\n\nMethods:\n" + "\n".join(textwrap.fill(line, 79, initial_indent="  ",
                                                       subsequent_indent="    ")
                                         for line in describe_methods()),
    )
    _add_data_arguments(evaluate, path_required=False)
    evaluate.add_argument("--out", default="mne-m2s-results", metavar="DIR",
                          help="output folder (default: ./mne-m2s-results)")
    evaluate.add_argument("--methods", nargs="+", default=["M2S"], metavar="METHOD",
                          help="registered methods to evaluate (default: M2S), e.g. M2S clip "
                               "supervised fusion svm")
    evaluate.set_defaults(func=_evaluate)


def _evaluate(args):
    from .datasets.base import DatasetLayoutError
    from .evaluation.cross_modal import summarize
    from .evaluation.experiments import run_evaluation
    from .evaluation.methods import get_method
    from .evaluation.report import format_statistics, format_summary, paper_scores
    from .paradigms import EmotionParadigm

    try:
        dataset = _load_dataset(args, allow_generated=True)
        for m in args.methods:
            get_method(m).check_level(dataset.level, f"{dataset.code} (as read here)")
    except (DatasetLayoutError, *_ERRORS) as err:
        return _fail("evaluate", str(err))
    settings = _model_settings(args, dataset)
    from .datasets.base import BaseEmotionDataset

    generated = type(dataset).check_files is not BaseEmotionDataset.check_files
    source = "generated on the fly" if generated else f"from {dataset.data_path()}"
    print(f"mne-m2s evaluate: {dataset.code} ({dataset.level} level) {source}, "
          f"subjects {dataset.subject_list}, methods {args.methods}, protocol {args.protocol}",
          flush=True)
    if args.protocol == "reference":
        print("WARNING: the reference protocol selects on TEST data (best test accuracy over "
              "epochs and the lr x weight-decay grid); its scores are for comparison only.",
              flush=True)
    t0 = time.perf_counter()
    try:
        result = run_evaluation(
            dataset, args.methods, settings=settings, paradigm=EmotionParadigm(args.n_windows),
            protocol=args.protocol, out=args.out, overwrite=args.overwrite, n_jobs=args.n_jobs,
            scheduler=args.scheduler, random_state=args.seed, verbose=1,
        )
    except (DatasetLayoutError, *_ERRORS) as err:
        return _fail("evaluate", str(err))
    print()
    note = " (selected on TEST data)" if args.protocol == "reference" else ""
    print(f"Mean ± sd over subjects{note}:")
    print(format_summary(summarize(result.results, scores=paper_scores(dataset.code))))
    if result.statistics is not None and not result.statistics.empty:
        print("\nM2S against each baseline, over subjects (balanced accuracy):")
        for line in format_statistics(result.statistics):
            print(line)
    written = ", ".join(str(p) for k, p in result.paths.items() if k != "timings")
    print(f"\nWrote {written} ({time.perf_counter() - t0:.0f} s).")
    return 0


# ------------------------------------------------------------------- ablate
def _add_ablate_parser(sub):
    ablate = sub.add_parser(
        "ablate",
        help="one of the paper's ablations (loss, attention, cpc, heatmap)",
        description=_paragraphs(
            "Run an ablation of M2S: --kind loss (each loss term removed), attention (STS, "
            "ordinary multi-head attention, none; task eeg->eeg), cpc (clip with and without "
            "M2M CPC) or heatmap (window length T x prediction steps N, the paper's Figure 5). "
            "Writes DIR/results.csv, DIR/report.md and DIR/ablation_<kind>.png; resumable like "
            "evaluate. --dataset SyntheticEmotion needs no --path.",
        ),
    )
    ablate.add_argument("--kind", required=True, metavar="KIND",
                        help="loss, attention, cpc or heatmap")
    _add_data_arguments(ablate, path_required=False)
    ablate.add_argument("--out", default=None, metavar="DIR",
                        help="output folder (default: ./mne-m2s-ablation-<kind>)")
    ablate.add_argument("--heatmap-windows", type=int, nargs="+", default=None, metavar="T",
                        help="heat map: window lengths T (default 3 5 7 9)")
    ablate.add_argument("--heatmap-steps", type=int, nargs="+", default=None, metavar="N",
                        help="heat map: prediction steps N (default 1 2 3 4)")
    ablate.set_defaults(func=_ablate)


def _ablate(args):
    from .datasets.base import DatasetLayoutError
    from .evaluation.ablation import check_ablation_kind, run_ablation, summarize_ablation
    from .paradigms import EmotionParadigm

    try:
        check_ablation_kind(args.kind)
        dataset = _load_dataset(args, allow_generated=True)
        if args.kind != "heatmap" and (args.heatmap_windows or args.heatmap_steps):
            raise ValueError("--heatmap-windows / --heatmap-steps are for --kind heatmap.")
        if args.protocol == "reference":
            raise ValueError("ablations run under honest protocols only: --protocol within, "
                             "cross-session or loso.")
    except (DatasetLayoutError, *_ERRORS) as err:
        return _fail("ablate", str(err))
    values = None
    if args.kind == "heatmap":
        values = {k: v for k, v in (("n_windows", args.heatmap_windows),
                                    ("cpc_steps", args.heatmap_steps)) if v}
    out = args.out or f"mne-m2s-ablation-{args.kind}"
    settings = _model_settings(args, dataset)
    print(f"mne-m2s ablate --kind {args.kind}: {dataset.code} ({dataset.level} level), "
          f"subjects {dataset.subject_list}, protocol {args.protocol}", flush=True)
    t0 = time.perf_counter()
    try:
        table, _ = run_ablation(
            args.kind, dataset, settings=settings, values=values,
            paradigm=EmotionParadigm(args.n_windows), protocol=args.protocol, out=out,
            overwrite=args.overwrite, n_jobs=args.n_jobs, scheduler=args.scheduler,
            random_state=args.seed, verbose=1,
        )
    except (DatasetLayoutError, *_ERRORS) as err:
        return _fail("ablate", str(err))
    summary = summarize_ablation(table)
    print("\nBalanced accuracy, mean ± sd over subjects:")
    print(summary.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(f"\nWrote {out}/results.csv, {out}/report.md and {out}/ablation_{args.kind}.png "
          f"({time.perf_counter() - t0:.0f} s).")
    return 0


# ------------------------------------------------------------------- parser
#: Subcommands: name -> function adding its parser (each sets ``func``).
COMMANDS = {
    "demo": _add_demo_parser,
    "datasets": _add_datasets_parser,
    "sys-info": _add_sys_info_parser,
    "evaluate": _add_evaluate_parser,
    "ablate": _add_ablate_parser,
    "pretrain": _add_pretrain_parser,
}


def build_parser():
    """The argument parser of ``mne-m2s``.

    Returns
    -------
    parser : argparse.ArgumentParser
    """
    from ._version import __version__

    parser = argparse.ArgumentParser(
        prog="mne-m2s",
        description="Multi-to-Single (M2S) emotion recognition: cross-modal evaluation.",
    )
    parser.add_argument("--version", action="version", version=f"mne-m2s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for add in COMMANDS.values():
        add(sub)
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
