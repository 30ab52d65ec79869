"""The paper's experiments in one call: :func:`run_evaluation` and :func:`run_demo`.

Both run registered methods (:mod:`~mne_m2s.evaluation.methods`) with
:class:`~mne_m2s.evaluation.CrossModalEvaluation`, write every finished unit
to the output folder at once (a rerun resumes), then write ``results.csv``,
``report.md`` and the figures (:func:`~mne_m2s.evaluation.report.write_report`).
The command line (``mne-m2s demo``, ``mne-m2s evaluate``) only parses
arguments and prints what these return.
"""

from __future__ import annotations

from dataclasses import dataclass, field

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
#: Changes for the quick demo.
QUICK_SETTINGS = dict(
    pretrain_max_epochs=30, pretrain_batch_size=128, max_epochs=40, batch_size=128
)
#: Demo subjects, quick-demo subjects, sample stride in windows.
DEMO_SUBJECTS, QUICK_SUBJECTS, DEMO_STEP = 5, 2, 2
#: SyntheticEmotion settings of the demo (besides subjects and seed): SEED-like sessions
#: of 15 trials of 60 s, 3 classes.
DEMO_DATA = dict(n_trials=15, n_classes=3, trial_duration=60.0, difficulty="medium")
#: Methods of the demo.
DEMO_METHODS = ("M2S", "clip", "supervised")


@dataclass
class ExperimentResult:
    """What :func:`run_evaluation`, :func:`run_demo` and the ablations return.

    Attributes
    ----------
    results : pandas.DataFrame
        One row per dataset, subject, session, split, method and task.
    statistics : pandas.DataFrame | None
        :func:`~mne_m2s.evaluation.stats.compare_methods` of M2S against the
        other methods (None without M2S or without baselines).
    paths : dict of str -> pathlib.Path
        Files written (``results``, ``report``, figures …); empty without ``out``.
    settings : dict
        The experiment-level settings.
    """

    results: object
    statistics: object = None
    paths: dict = field(default_factory=dict)
    settings: dict = field(default_factory=dict)


def run_evaluation(datasets, methods=("M2S",), *, settings=None, params=None, paradigm=None,
                   protocol="within", modalities=None, tasks=None, cv=None, reference_grid=None,
                   out=None, overwrite=False, n_jobs=1, scheduler=None, random_state=0,
                   verbose=0, title=None, chance=None, figures=True):
    """Evaluate registered methods on datasets and write the report.

    Parameters
    ----------
    datasets : BaseEmotionDataset | list of BaseEmotionDataset
    methods : list of str
        Registered method names (:func:`~mne_m2s.evaluation.list_methods`).
    settings : dict | None
        Shared settings of the methods (``M2SClassifier`` hyper-parameters;
        ``None``: its defaults, the paper's). ``random_state`` defaults to
        ``random_state``.
    params : dict of str -> dict | None
        Per-method parameters.
    paradigm : EmotionParadigm | None
        Default: ``EmotionParadigm(n_windows=5)``.
    protocol : {"within", "cross-session", "loso", "reference"}
        See :class:`~mne_m2s.evaluation.CrossModalEvaluation`.
    modalities, tasks, cv, reference_grid :
        As in :class:`~mne_m2s.evaluation.CrossModalEvaluation`.
    out : path-like | None
        Output folder: finished units (resumable), results.csv, report.md,
        figures. None: nothing written.
    overwrite : bool
        Accept an ``out`` folder holding results of other settings.
    n_jobs : int
        Units in parallel (joblib).
    scheduler : str | dask.distributed.Client | None
        Run the units on a Dask cluster.
    random_state : int
        Seed of every method.
    verbose : int
        0 silent, 1 progress bar, 2 logs.
    title : str | None
        Report title.
    chance : float | None
        Chance level in the figures (default: 1 / number of classes).
    figures : bool
        Write the PNG figures.

    Returns
    -------
    result : ExperimentResult
    """
    from ..paradigms import EmotionParadigm
    from .cross_modal import CrossModalEvaluation
    from .methods import make_pipelines
    from .stats import compare_methods

    if not isinstance(datasets, (list, tuple)):
        datasets = [datasets]
    methods = [methods] if isinstance(methods, str) else list(methods)
    settings = dict(settings or {})
    settings.setdefault("random_state", random_state)
    levels = {getattr(ds, "level", None) for ds in datasets}
    spec = None
    for level in levels:
        spec = make_pipelines(methods, settings, params=params, level=level)
    paradigm = paradigm if paradigm is not None else EmotionParadigm(n_windows=5)
    evaluation = CrossModalEvaluation(
        paradigm, list(datasets), protocol=protocol, modalities=modalities, tasks=tasks,
        n_jobs=n_jobs, scheduler=scheduler, cv=cv, reference_grid=reference_grid,
        random_state=random_state, verbose=verbose,
    )
    results = evaluation.process(**spec, out=out, overwrite=overwrite)
    stats = None
    if "M2S" in methods and len(methods) > 1:
        stats = compare_methods(results, method="M2S")
    paths = {}
    if out is not None:
        from .report import write_report

        if chance is None:
            n_classes = {len(getattr(ds, "event_id", {}) or {}) for ds in datasets}
            chance = 1.0 / n_classes.pop() if len(n_classes) == 1 and 0 not in n_classes else None
        codes = ", ".join(ds.code for ds in datasets)
        paths = write_report(
            results, out, title=title or f"mne-m2s evaluate: {codes}, protocol {protocol}",
            settings_text=_settings_text(methods, settings, paradigm, datasets),
            chance=chance, figures=figures,
        )
    return ExperimentResult(results=results, statistics=stats, paths=paths,
                            settings=evaluation.settings(**spec))


def _settings_text(methods, settings, paradigm, datasets):
    shown = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                      for k, v in settings.items() if k != "verbose")
    subj = "; ".join(f"{ds.code} ({getattr(ds, 'level', '?')} level): subjects "
                     f"{list(ds.subject_list)}" for ds in datasets)
    return (f"Data: {subj}. Paradigm: {paradigm!r}. Methods: {', '.join(methods)}. "
            f"Settings: {shown or 'M2SClassifier defaults (the paper)'}.")


def run_demo(out="mne-m2s-demo", *, quick=False, n_subjects=None, level="features",
             device="cpu", random_state=0, settings=None, data=None, methods=DEMO_METHODS,
             n_jobs=1, scheduler=None, verbose=1):
    """The main job on :class:`~mne_m2s.datasets.SyntheticEmotion`: M2S, clip, supervised.

    Pre-train and evaluate on the synthetic subjects with the SEED protocol
    (per subject, trials 1-9 train, 10-15 test), the four EEG / eye tasks,
    and write ``results.csv``, ``results.png``, ``paired.png`` and
    ``report.md`` into ``out``. Identical finished units already in ``out``
    are reused; summary files of other settings are replaced.

    Parameters
    ----------
    out : path-like
        Output folder.
    quick : bool
        :data:`QUICK_SETTINGS` and :data:`QUICK_SUBJECTS` subjects.
    n_subjects : int | None
        Synthetic subjects (default :data:`DEMO_SUBJECTS`, or
        :data:`QUICK_SUBJECTS` when ``quick``).
    level : {"features", "raw"}
        SyntheticEmotion level.
    device : str
        Torch device.
    random_state : int
        Seed of the data and of every model.
    settings : dict | None
        Model settings replacing :data:`DEMO_SETTINGS` (and the quick
        changes), e.g. a tiny model for tests.
    data : dict | None
        SyntheticEmotion settings replacing :data:`DEMO_DATA`.
    methods : tuple of str
        Registered methods to run.
    n_jobs, scheduler :
        Parallel units (joblib / Dask).
    verbose : int
        Progress bars (1) and logs (2).

    Returns
    -------
    result : ExperimentResult
        With ``chance``, ``dataset`` and ``model_settings`` in ``settings``.
    """
    from ..datasets import SyntheticEmotion
    from ..paradigms import EmotionParadigm
    from ..utils._checks import check_int

    if n_subjects is None:
        n_subjects = QUICK_SUBJECTS if quick else DEMO_SUBJECTS
    n_subjects = check_int("n_subjects", n_subjects, min_value=1)
    if settings is None:
        model = dict(DEMO_SETTINGS, **(QUICK_SETTINGS if quick else {}))
    else:
        model = dict(settings)
    data = DEMO_DATA if data is None else data
    dataset = SyntheticEmotion(n_subjects=n_subjects, level=level, modalities=("eeg", "eye"),
                               random_state=random_state, **data)
    full = dict(model, device=device, random_state=random_state,
                verbose=1 if verbose and _isatty() else 0)
    chance = 1.0 / len(dataset.event_id)
    result = run_evaluation(
        dataset, methods, settings=full, paradigm=EmotionParadigm(n_windows=5, step=DEMO_STEP),
        protocol="within", modalities=("eeg", "eye"), out=out, overwrite=True, n_jobs=n_jobs,
        scheduler=scheduler, random_state=random_state, verbose=verbose,
        title=f"mne-m2s demo: SyntheticEmotion ({level} level), {n_subjects} subject(s)",
        chance=chance,
    )
    result.settings = dict(result.settings, chance=chance, dataset=dataset, model_settings=model)
    return result


def demo_text(result):
    """What ``mne-m2s demo`` prints after the run: scores, the M2S / clip comparison, files.

    Parameters
    ----------
    result : ExperimentResult
        Output of :func:`run_demo`.

    Returns
    -------
    lines : list of str
    """
    from .cross_modal import summarize
    from .report import format_summary, paired_lines

    chance = result.settings.get("chance")
    lines = ["", "Balanced accuracy and Cohen's kappa, mean ± sd over subjects "
             f"(chance {chance:.3f}, kappa 0):", format_summary(summarize(result.results))]
    methods = set(result.results["method"])
    if {"M2S", "clip"} <= methods:
        lines += ["", "M2S vs contrastive-only pre-training (clip), paired over subjects:"]
        lines += paired_lines(result.results, "M2S", "clip")
    if result.paths:
        written = ", ".join(str(p) for k, p in result.paths.items()
                            if k in ("results", "results.png", "paired.png", "report"))
        lines += ["", f"Wrote {written}."]
    return lines


def _isatty():
    import sys

    return sys.stderr.isatty()


__all__ = [
    "DEMO_DATA",
    "DEMO_METHODS",
    "DEMO_SETTINGS",
    "DEMO_STEP",
    "DEMO_SUBJECTS",
    "QUICK_SETTINGS",
    "QUICK_SUBJECTS",
    "ExperimentResult",
    "demo_text",
    "run_demo",
    "run_evaluation",
]
