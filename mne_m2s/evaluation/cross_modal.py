"""Cross-modal evaluation: pre-train, fine-tune on one modality, test on every modality.

:class:`CrossModalEvaluation` runs the within-subject protocol of the M2S
paper (SPEC.md §4) on one or more datasets and returns one row of scores per
dataset, subject, session, pipeline and task. It is honest by construction:

* each subject-session is split *by trial* with the dataset's published
  protocol (:func:`~mne_m2s.evaluation.splitters.get_protocol`; SEED's trials
  1-9 / 10-15 for :class:`~mne_m2s.datasets.SyntheticEmotion`);
* every pipeline is cloned for every split; pre-training sees the
  *training* trials of that split only (all modalities, no labels);
  fine-tuning sees the training trials of one modality with their labels
  and their trial ids (``groups``), so that any model selection inside
  ``fit`` (e.g. ``M2SClassifier(early_stopping=True)``) holds out whole
  training trials;
* the test trials are used once, to score the fine-tuned model.

No test trial reaches pre-training, fine-tuning or selection.
"""

from __future__ import annotations

import inspect
import time
import warnings

import numpy as np

from ..modalities import DEFAULT_MODALITY_MAP
from ..utils._checks import _suggest, check_int, check_random_state_seed, check_type
from ..utils._logging import logger, set_log_level
from .splitters import TrialHoldoutSplit, get_protocol

#: Result columns, in order.
COLUMNS = (
    "dataset",
    "subject",
    "session",
    "pipeline",
    "method",
    "task",
    "train_modality",
    "test_modality",
    "n_splits",
    "n_train",
    "n_test",
    "balanced_accuracy",
    "kappa",
    "f1",
    "accuracy",
    "time",
    "pretrain_time",
)

#: Protocols of datasets that have no published one (the synthetic dataset
#: mimics SEED: 15 trials, the first 9 train, the last 6 test).
DEFAULT_PROTOCOLS = {"SyntheticEmotion": (TrialHoldoutSplit, {"n_train_trials": 9})}


def parse_task(task):
    """Split a task name ``"a->b"`` into ``(fine-tune modality, test modality)``.

    Parameters
    ----------
    task : str
        E.g. ``"eye->eeg"``: fine-tune on eye movements, test on EEG.

    Returns
    -------
    train_modality, test_modality : str
    """
    if not isinstance(task, str) or task.count("->") != 1:
        raise ValueError(
            f"A task is named 'train_modality->test_modality', e.g. 'eye->eeg'; got {task!r}."
        )
    a, b = (part.strip() for part in task.split("->"))
    if not a or not b:
        raise ValueError(f"Task {task!r} names an empty modality.")
    return a, b


def default_protocol(dataset):
    """The cross-validator of a dataset's protocol (see :func:`get_protocol`).

    Parameters
    ----------
    dataset : BaseEmotionDataset
        A dataset; :class:`~mne_m2s.datasets.SyntheticEmotion` gets SEED's
        :class:`~mne_m2s.evaluation.splitters.TrialHoldoutSplit` ``(9)``.

    Returns
    -------
    cv : cross-validator
    """
    code = getattr(dataset, "code", dataset)
    if code in DEFAULT_PROTOCOLS:
        cls, kwargs = DEFAULT_PROTOCOLS[code]
        return cls(**kwargs)
    return get_protocol(code)


class CrossModalEvaluation:
    """Within-subject single- and cross-modal evaluation (the M2S protocol).

    For every dataset, subject, session and split of the protocol, each
    pipeline is cloned; estimators that are pre-trained (see ``pretrain`` in
    :meth:`process`) are pre-trained on the multimodal data of the training
    trials; then, for every fine-tune modality of ``tasks``, a clone of the
    (pre-trained) estimator is fitted on the training trials of that modality
    and scored on the test trials of every test modality it has an encoder
    for.

    Parameters
    ----------
    paradigm : EmotionParadigm
        Turns a dataset into samples, labels and metadata
        (``get_data(dataset, subjects=[s])``).
    datasets : BaseEmotionDataset | list of BaseEmotionDataset
        Datasets to evaluate (every subject of each).
    protocol : cross-validator | dict of str -> cross-validator | None
        Trial-wise splitter of each subject-session. ``None``: the dataset's
        published protocol (:func:`default_protocol`); a dict maps dataset
        codes to splitters (missing codes fall back to the default). The
        splitters of :mod:`~mne_m2s.evaluation.splitters` receive the
        subject-session's ``meta``; any other scikit-learn splitter receives
        the trial ids as ``groups`` (it must keep trials whole, e.g.
        :class:`~sklearn.model_selection.GroupKFold`).
    modalities : tuple of str | None
        Modalities used for pre-training and for the default tasks. ``None``:
        every modality of the data.
    tasks : list of str | None
        Tasks ``"train_modality->test_modality"``. ``None``: every ordered
        pair of ``modalities`` (single-modal tasks first), e.g. ``"eeg->eeg"``,
        ``"eye->eye"``, ``"eeg->eye"``, ``"eye->eeg"``.
    n_jobs : int
        Subjects evaluated in parallel (:class:`joblib.Parallel`); 1 runs in
        this process.
    random_state : int | None
        Seed given to the clones of every estimator whose own
        ``random_state`` parameter is None (the splits are deterministic).
    verbose : int | bool
        0: silent; 1: a progress bar over subjects and pipelines (stderr);
        2: also log each pipeline's scores (``mne_m2s`` logger, INFO).

    Notes
    -----
    Pipelines receive what :class:`~mne_m2s.M2SClassifier` accepts: a dict
    ``{modality: array}`` for feature-level datasets, :class:`mne.Epochs`
    restricted to a modality's channels for signal-level ones. ``fit`` is
    given ``groups`` (the trial of every sample) when its signature accepts
    it. The modalities a fitted estimator can predict from are its
    ``modalities_`` attribute when it has one, else only the fitted one; a
    task whose test modality is not among them is not reported (the
    supervised baseline gives single-modal tasks only).

    With a protocol of several folds (DEAP, DREAMER), the row of a
    subject-session holds the mean score over folds, ``n_splits`` folds,
    ``n_train`` the mean number of training samples per fold, ``n_test`` the
    number of test samples over all folds and ``time`` the total time.

    Examples
    --------
    >>> from mne_m2s import M2SClassifier
    >>> from mne_m2s.datasets import SyntheticEmotion
    >>> from mne_m2s.paradigms import EmotionParadigm
    >>> ds = SyntheticEmotion(n_subjects=2, level="features", modalities=("eeg", "eye"))
    >>> evaluation = CrossModalEvaluation(EmotionParadigm(), [ds])
    >>> results = evaluation.process(  # doctest: +SKIP
    ...     {"M2S": M2SClassifier(), "supervised": M2SClassifier()},
    ...     pretrain={"supervised": False},
    ... )
    """

    def __init__(
        self,
        paradigm,
        datasets,
        protocol=None,
        modalities=("eeg", "eye"),
        tasks=None,
        n_jobs=1,
        random_state=0,
        verbose=0,
    ):
        self.paradigm = paradigm
        self.datasets = datasets
        self.protocol = protocol
        self.modalities = modalities
        self.tasks = tasks
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose

    def __repr__(self):
        params = ", ".join(
            f"{k}={getattr(self, k)!r}"
            for k in ("paradigm", "datasets", "protocol", "modalities", "tasks", "n_jobs",
                      "random_state", "verbose")
        )
        return f"{type(self).__name__}({params})"

    # ------------------------------------------------------------ validation
    def _check_datasets(self):
        datasets = self.datasets
        if not isinstance(datasets, (list, tuple)):
            datasets = [datasets]
        if not datasets:
            raise ValueError("datasets is empty; pass at least one dataset.")
        for ds in datasets:
            for attr in ("code", "subject_list", "get_data"):
                if not hasattr(ds, attr):
                    raise TypeError(
                        f"datasets must hold emotion datasets (with code, subject_list and "
                        f"get_data), got {type(ds).__name__}."
                    )
        return list(datasets)

    def _check_modalities(self):
        if self.modalities is None:
            return None
        mods = [self.modalities] if isinstance(self.modalities, str) else list(self.modalities)
        if len(mods) < 1 or len(set(mods)) != len(mods):
            raise ValueError(
                f"modalities must name distinct modalities, e.g. ('eeg', 'eye'); got "
                f"{self.modalities!r}."
            )
        for m in mods:
            check_type("modalities", m, str, "str")
        return mods

    def _check_tasks(self, modalities):
        """Tasks as (name, train modality, test modality) for the data's modalities."""
        if self.tasks is None:
            single = [(m, m) for m in modalities]
            cross = [(a, b) for a in modalities for b in modalities if a != b]
            pairs = single + cross
        else:
            tasks = [self.tasks] if isinstance(self.tasks, str) else list(self.tasks)
            if not tasks:
                raise ValueError("tasks is empty; pass None for every pair of modalities.")
            pairs = [parse_task(t) for t in tasks]
            for a, b in pairs:
                for m in (a, b):
                    if m not in modalities:
                        raise ValueError(
                            f"Task '{a}->{b}' names modality {m!r}, which is not evaluated; "
                            f"modalities are {list(modalities)}.{_suggest(m, modalities)}"
                        )
            if len(set(pairs)) != len(pairs):
                raise ValueError(f"tasks has duplicates: {tasks}.")
        return [(f"{a}->{b}", a, b) for a, b in pairs]

    @staticmethod
    def _check_pipelines(pipelines, pretrain):
        check_type("pipelines", pipelines, dict, "dict of name -> estimator")
        if not pipelines:
            raise ValueError("pipelines is empty; pass e.g. {'M2S': M2SClassifier()}.")
        for name, est in pipelines.items():
            check_type("pipeline names", name, str, "str")
            for method in ("fit", "predict", "get_params"):
                if not callable(getattr(est, method, None)):
                    raise TypeError(
                        f"Pipeline {name!r} must be a scikit-learn estimator with fit and "
                        f"predict, got {type(est).__name__}."
                    )
        if pretrain is None or isinstance(pretrain, (bool, np.bool_)):
            flags = {
                name: (callable(getattr(est, "pretrain", None)) if pretrain is None
                       else bool(pretrain))
                for name, est in pipelines.items()
            }
        elif isinstance(pretrain, dict):
            unknown = [k for k in pretrain if k not in pipelines]
            if unknown:
                raise ValueError(
                    f"pretrain names unknown pipeline(s) {unknown}; pipelines are "
                    f"{list(pipelines)}.{_suggest(unknown[0], list(pipelines))}"
                )
            flags = {}
            for name, est in pipelines.items():
                flag = pretrain.get(name, callable(getattr(est, "pretrain", None)))
                check_type(f"pretrain[{name!r}]", flag, (bool, np.bool_), "bool")
                flags[name] = bool(flag)
        else:
            raise TypeError(
                "pretrain must be None, a bool or a dict of pipeline name -> bool, got "
                f"{type(pretrain).__name__}."
            )
        for name, flag in flags.items():
            est = pipelines[name]
            if flag and not callable(getattr(est, "pretrain", None)):
                raise ValueError(
                    f"Pipeline {name!r} ({type(est).__name__}) has no pretrain method; set "
                    f"pretrain={{{name!r}: False}}."
                )
            if not flag and getattr(est, "pretrained", None) is not None:
                logger.warning(
                    "Pipeline %r carries encoders pre-trained outside this evaluation; they are "
                    "used as given and the evaluation cannot check that they never saw the test "
                    "trials.",
                    name,
                )
        return flags

    # ---------------------------------------------------------------- public
    def process(self, pipelines, pretrain=None):
        """Evaluate pipelines on every subject-session of every dataset.

        Parameters
        ----------
        pipelines : dict of str -> estimator
            Name -> scikit-learn classifier, e.g.
            ``{"M2S": M2SClassifier(), "supervised": M2SClassifier()}``. Each
            is cloned for every split and fine-tune modality.
        pretrain : None | bool | dict of str -> bool
            Which pipelines are pre-trained (on the training trials of each
            split, all ``modalities``, no labels) before fine-tuning.
            ``None``: those with a ``pretrain`` method. A dict overrides
            pipelines by name (unnamed ones keep the ``None`` rule), e.g.
            ``{"supervised": False}`` trains that ``M2SClassifier`` end to end
            on one modality: the supervised unimodal baseline.

        Returns
        -------
        results : pandas.DataFrame
            One row per dataset, subject, session, pipeline and task, sorted
            in that order (pipelines and tasks in the order given), with
            columns ``dataset``, ``subject``, ``session``, ``pipeline``,
            ``method`` (= ``pipeline``), ``task`` (``"eye->eeg"``: fine-tuned
            on eye, tested on EEG), ``train_modality``, ``test_modality``,
            ``n_splits``, ``n_train``, ``n_test``, ``balanced_accuracy``,
            ``kappa`` (Cohen's), ``f1`` (macro), ``accuracy``, ``time``
            (seconds spent fitting the fine-tuned model) and
            ``pretrain_time`` (seconds of pre-training, 0 without).
        """
        import pandas as pd

        datasets = self._check_datasets()
        modalities = self._check_modalities()
        flags = self._check_pipelines(pipelines, pretrain)
        n_jobs = check_int("n_jobs", self.n_jobs)
        if n_jobs == 0:
            raise ValueError("n_jobs must be a non-zero int (-1 for all cores), got 0.")
        verbose = self.verbose
        verbose = check_int("verbose", int(verbose) if isinstance(verbose, (bool, np.bool_))
                            else verbose, min_value=0)
        seed = None if self.random_state is None else check_random_state_seed(self.random_state)
        if modalities is not None:
            self._check_tasks(modalities)  # fail early on bad task names
        for ds in datasets:
            self._protocol_for(ds)  # fail early on a bad or missing protocol
        units = [(ds, subject) for ds in datasets for subject in ds.subject_list]
        job_args = dict(pipelines=pipelines, flags=flags, modalities=modalities, seed=seed,
                        verbose=verbose)
        rows = []
        bar = _progress(len(units) * len(pipelines), verbose)
        try:
            if n_jobs == 1:
                for ds, subject in units:
                    rows.extend(self._evaluate_subject(ds, subject, bar=bar, **job_args))
            else:
                from joblib import Parallel, delayed

                results = Parallel(n_jobs=n_jobs, return_as="generator")(
                    delayed(self._evaluate_subject)(ds, subject, bar=None, **job_args)
                    for ds, subject in units
                )
                for part in results:
                    rows.extend(part)
                    if bar is not None:
                        bar.update(len(pipelines))
        finally:
            if bar is not None:
                bar.close()
        results = pd.DataFrame(rows, columns=list(COLUMNS))
        return self._sort(results, datasets, list(pipelines))

    # ------------------------------------------------------------- internals
    @staticmethod
    def _sort(results, datasets, pipeline_order):
        if results.empty:
            return results
        ds_order = {ds.code: i for i, ds in enumerate(datasets)}
        sessions = sorted(results["session"].unique(), key=_natural_key)
        session_order = {s: i for i, s in enumerate(sessions)}
        task_order = {t: i for i, t in enumerate(dict.fromkeys(results["task"]))}
        pipe_order = {p: i for i, p in enumerate(pipeline_order)}
        keys = results.assign(
            _ds=results["dataset"].map(ds_order),
            _session=results["session"].map(session_order),
            _pipe=results["pipeline"].map(pipe_order),
            _task=results["task"].map(task_order),
        )
        keys = keys.sort_values(["_ds", "subject", "_session", "_pipe", "_task"], kind="stable")
        return results.loc[keys.index].reset_index(drop=True)

    def _protocol_for(self, dataset):
        protocol = self.protocol
        if isinstance(protocol, dict):
            protocol = protocol.get(dataset.code)
        if protocol is None:
            return default_protocol(dataset)
        if isinstance(protocol, str) or not all(
            callable(getattr(protocol, attr, None)) for attr in ("split", "get_n_splits")
        ):
            raise TypeError(
                f"protocol must be a cross-validator with a split method (or a dict of dataset "
                f"code -> cross-validator), got {type(protocol).__name__}."
            )
        return protocol

    def _modality_map(self):
        return getattr(self.paradigm, "modality_map", None) or DEFAULT_MODALITY_MAP

    def _evaluate_subject(self, dataset, subject, *, pipelines, flags, modalities, seed, verbose,
                          bar):
        """Rows of one subject of one dataset (every session, split, pipeline, task)."""
        kwargs = dict(pipelines=pipelines, flags=flags, modalities=modalities, seed=seed, bar=bar)
        if verbose < 2:
            return self._evaluate_subject_rows(dataset, subject, **kwargs)
        old_level = set_log_level("INFO")
        try:
            return self._evaluate_subject_rows(dataset, subject, **kwargs)
        finally:
            set_log_level(old_level)

    def _evaluate_subject_rows(self, dataset, subject, *, pipelines, flags, modalities, seed,
                               bar):
        import pandas as pd

        X, y, meta = self.paradigm.get_data(dataset, subjects=[subject])
        y = np.asarray(y)
        meta = meta.reset_index(drop=True)
        data = _Data(X, self._modality_map())
        present = data.modalities
        if modalities is None:
            mods = present
        else:
            missing = [m for m in modalities if m not in present]
            if missing:
                raise ValueError(
                    f"{dataset.code}, subject {subject}: no {missing} data (the paradigm gives "
                    f"{present}). Set modalities= to a subset of {present}."
                )
            mods = modalities
        tasks = self._check_tasks(mods)
        cv = self._protocol_for(dataset)
        rows = []
        units = []  # per session: sample indices, trial of each sample, splits
        for session in sorted(pd.unique(meta["session"]), key=_natural_key):
            unit = np.flatnonzero((meta["session"] == session).to_numpy())
            unit_meta = meta.iloc[unit].reset_index(drop=True)
            trials = unit_meta["run"].astype(str).to_numpy()
            splits = list(_split(cv, unit_meta, y[unit], trials))
            for train, test in splits:
                _check_disjoint(trials, train, test, dataset.code, subject, session)
            units.append((session, unit, trials, splits))
        for name, est in pipelines.items():
            for session, unit, trials, splits in units:
                folds = [
                    self._run_split(est, flags[name], data, y, unit[train], unit[test],
                                    trials[train], mods, tasks, seed)
                    for train, test in splits
                ]
                part = _aggregate(folds, dataset=dataset.code, subject=int(subject),
                                  session=str(session), pipeline=name)
                for row in part:
                    logger.info(
                        "%s subject %s session %s %s %s: balanced accuracy %.3f, kappa %.3f",
                        row["dataset"], row["subject"], row["session"], name, row["task"],
                        row["balanced_accuracy"], row["kappa"],
                    )
                rows.extend(part)
            if bar is not None:
                bar.update(1)
        return rows

    @staticmethod
    def _run_split(est, do_pretrain, data, y, train, test, train_trials, mods, tasks,
                   seed):
        """Scores of one pipeline on one split: {task: dict}."""
        from sklearn.base import clone

        base = clone(est)
        if seed is not None and "random_state" in base.get_params(deep=False) and (
            base.get_params(deep=False)["random_state"] is None
        ):
            base.set_params(random_state=seed)
        pretrain_time = 0.0
        if do_pretrain:
            t0 = time.perf_counter()
            base.pretrain(data.take(train, mods))
            pretrain_time = time.perf_counter() - t0
        out = {}
        for fit_mod in dict.fromkeys(a for _, a, _ in tasks):
            model = clone(base)
            fit_kwargs = {}
            if _accepts(model.fit, "groups"):
                fit_kwargs["groups"] = train_trials
            t0 = time.perf_counter()
            model.fit(data.take(train, [fit_mod]), y[train], **fit_kwargs)
            fit_time = time.perf_counter() - t0
            usable = list(getattr(model, "modalities_", None) or [fit_mod])
            for task, a, b in tasks:
                if a != fit_mod or b not in usable:
                    continue
                y_pred = np.asarray(model.predict(data.take(test, [b])))
                out[task] = dict(
                    train_modality=a,
                    test_modality=b,
                    n_train=len(train),
                    n_test=len(test),
                    time=fit_time,
                    pretrain_time=pretrain_time,
                    **_scores(y[test], y_pred),
                )
        return {task: out[task] for task, _, _ in tasks if task in out}


def summarize(results, scores=("balanced_accuracy", "kappa")):
    """Mean and standard deviation over subjects per method and task.

    Sessions of a subject are averaged first, so each subject counts once.

    Parameters
    ----------
    results : pandas.DataFrame
        Output of :meth:`CrossModalEvaluation.process`.
    scores : tuple of str
        Score columns to summarise.

    Returns
    -------
    summary : pandas.DataFrame
        Index ``(dataset, method, task)`` in the order of ``results``; columns
        ``<score>_mean`` and ``<score>_std`` (sample s.d., ``ddof=1``; NaN for
        one subject) for each score, and ``n_subjects``.
    """
    import pandas as pd

    if results.empty:
        raise ValueError("results is empty: nothing to summarise.")
    keys = ["dataset", "method", "task"]
    per_subject = results.groupby([*keys, "subject"], sort=False)[list(scores)].mean()
    grouped = per_subject.groupby(level=keys, sort=False)
    parts = {}
    for score in scores:
        parts[f"{score}_mean"] = grouped[score].mean()
        parts[f"{score}_std"] = grouped[score].std(ddof=1)
    parts["n_subjects"] = grouped.size()
    return pd.DataFrame(parts)


def plot_results(results, score="balanced_accuracy", chance=None, title=None):
    """Grouped bar chart: one group per task, one bar per method, s.d. over subjects.

    Parameters
    ----------
    results : pandas.DataFrame
        Output of :meth:`CrossModalEvaluation.process` (one dataset).
    score : str
        Score column to plot.
    chance : float | None
        Draw a dashed line at this chance level.
    title : str | None
        Figure title.

    Returns
    -------
    fig : matplotlib.figure.Figure
        A figure not attached to pyplot (save it with ``fig.savefig``); no
        display backend is needed.
    """
    from matplotlib.figure import Figure

    summary = summarize(results, scores=(score,)).droplevel("dataset")
    methods = list(dict.fromkeys(summary.index.get_level_values("method")))
    tasks = list(dict.fromkeys(results["task"]))
    fig = Figure(figsize=(1.6 + 1.5 * len(tasks), 4.0), layout="constrained")
    ax = fig.add_subplot()
    width = 0.8 / max(len(methods), 1)
    x = np.arange(len(tasks))
    for k, method in enumerate(methods):
        mean = [summary[f"{score}_mean"].get((method, t), np.nan) for t in tasks]
        std = [summary[f"{score}_std"].get((method, t), np.nan) for t in tasks]
        std = np.nan_to_num(np.asarray(std, dtype=float))
        ax.bar(x + (k - (len(methods) - 1) / 2) * width, mean, width, yerr=std, capsize=3,
               label=method)
    if chance is not None:
        ax.axhline(chance, color="0.4", linestyle="--", linewidth=1, label="chance")
    ax.set_xticks(x, tasks)
    ax.set_xlabel("task (fine-tune modality -> test modality)")
    ax.set_ylabel(score.replace("_", " "))
    ax.set_ylim(0, 1.15)
    ax.set_yticks(np.linspace(0, 1, 6))
    ax.legend(loc="upper right", fontsize="small", ncols=len(methods) + (chance is not None))
    if title:
        ax.set_title(title)
    return fig


class _Data:
    """Sample selection of feature dicts or multimodal Epochs, by modality."""

    def __init__(self, X, modality_map):
        self.X = X
        self.modality_map = modality_map
        if isinstance(X, dict):
            self.modalities = list(X)
            self._picks = None
        elif hasattr(X, "get_channel_types"):
            types = X.get_channel_types()
            self._picks = {
                m: [i for i, t in enumerate(types) if t in ch_types]
                for m, ch_types in modality_map.items()
            }
            self.modalities = [m for m, p in self._picks.items() if p]
        else:
            raise TypeError(
                "The paradigm must return a dict of feature arrays or mne.Epochs, got "
                f"{type(X).__name__}."
            )

    def take(self, idx, modalities):
        """The samples ``idx`` of ``modalities`` (a dict, or Epochs of those channels)."""
        if self._picks is None:
            return {m: self.X[m][idx] for m in modalities}
        picks = sorted(i for m in modalities for i in self._picks[m])
        return self.X[idx].pick(picks)


def _split(cv, meta, y, trials):
    """Splits of one subject-session (the trial-wise splitters get ``meta``)."""
    if _accepts(cv.split, "meta"):
        yield from cv.split(None, y, meta=meta)
    else:
        yield from cv.split(np.zeros((len(y), 1)), y, groups=trials)


def _check_disjoint(trials, train, test, code, subject, session):
    shared = set(trials[train]) & set(trials[test])
    if shared:
        raise ValueError(
            f"{code} subject {subject} session {session}: the protocol puts trial(s) "
            f"{sorted(shared)} on both training and test sides; use a splitter that keeps "
            "trials whole (TrialHoldoutSplit, TrialKFold, GroupKFold)."
        )


def _accepts(func, name):
    try:
        params = inspect.signature(func).parameters
    except (TypeError, ValueError):
        return False
    return name in params


def _scores(y_true, y_pred):
    from sklearn.metrics import (
        accuracy_score,
        balanced_accuracy_score,
        cohen_kappa_score,
        f1_score,
    )

    with warnings.catch_warnings():
        # A test set without some class (possible in k-fold protocols) still has
        # a defined balanced accuracy: the mean recall over the classes present.
        warnings.filterwarnings("ignore", message="y_pred contains classes not in y_true")
        bacc = balanced_accuracy_score(y_true, y_pred)
    labels = np.unique(np.concatenate([y_true, y_pred]))
    return dict(
        balanced_accuracy=float(bacc),
        kappa=float(cohen_kappa_score(y_true, y_pred, labels=labels)),
        f1=float(f1_score(y_true, y_pred, labels=np.unique(y_true), average="macro",
                          zero_division=0)),
        accuracy=float(accuracy_score(y_true, y_pred)),
    )


def _aggregate(folds, **keys):
    """One row per task: fold scores averaged, sizes and times summed as documented."""
    tasks = list(dict.fromkeys(t for fold in folds for t in fold))
    rows = []
    for task in tasks:
        parts = [fold[task] for fold in folds if task in fold]
        row = dict(keys, method=keys["pipeline"], task=task,
                   train_modality=parts[0]["train_modality"],
                   test_modality=parts[0]["test_modality"], n_splits=len(parts))
        row["n_train"] = int(round(np.mean([p["n_train"] for p in parts])))
        row["n_test"] = int(sum(p["n_test"] for p in parts))
        for score in ("balanced_accuracy", "kappa", "f1", "accuracy"):
            row[score] = float(np.mean([p[score] for p in parts]))
        row["time"] = float(sum(p["time"] for p in parts))
        row["pretrain_time"] = float(sum(p["pretrain_time"] for p in parts))
        rows.append(row)
    return rows


def _natural_key(value):
    text = str(value)
    return (0, int(text), "") if text.lstrip("-").isdigit() else (1, 0, text)


def _progress(total, verbose):
    if not verbose:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="subjects x pipelines", unit="fit", dynamic_ncols=True)


__all__ = [
    "COLUMNS",
    "CrossModalEvaluation",
    "default_protocol",
    "parse_task",
    "plot_results",
    "summarize",
]
