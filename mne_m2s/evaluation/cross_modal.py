"""Cross-modal evaluation: pre-train, fine-tune on one modality, test on every modality.

:class:`CrossModalEvaluation` runs the M2S paper's experiments (SPEC.md §4)
on one or more datasets and returns one row of scores per dataset, subject,
session, split, method and task. It is honest by construction:

* under the ``"within"`` protocol (the paper's, the default) each
  subject-session is split *by trial* with the dataset's published protocol
  (:func:`~mne_m2s.evaluation.splitters.get_protocol`; SEED's trials 1-9 /
  10-15 for :class:`~mne_m2s.datasets.SyntheticEmotion`);
  ``"cross-session"`` trains on a subject's other sessions and tests on one;
  ``"loso"`` pre-trains and fine-tunes on the other subjects and tests on
  the held-out one (the authors' cross-subject setting);
* every method is cloned for every unit; pre-training sees the training
  side of that unit only (all modalities, no labels); fine-tuning sees the
  training side of one modality with its labels and its trial ids
  (``groups``), so that any model selection inside ``fit`` (e.g.
  ``M2SClassifier(early_stopping=True)``) holds out whole training trials;
* the test side is used once, to score the fine-tuned model — except under
  the ``"reference"`` protocol, which reproduces the reference
  implementation's selection of the best test score over epochs and a
  learning-rate x weight-decay grid, for comparison only, and says so in the
  ``selection`` column of every row.

Units (one dataset, subject, session, split and method) are independent: they
run in parallel with ``n_jobs`` (joblib) or on a Dask cluster
(``scheduler``), and with ``out`` each finished unit is written at once to a
:class:`~mne_m2s.evaluation.units.ResultStore`, so an interrupted run
resumes where it stopped.
"""

from __future__ import annotations

import inspect
import threading
import time
import warnings

import numpy as np

from ..modalities import DEFAULT_MODALITY_MAP, channel_modalities
from ..utils._checks import _suggest, check_int, check_random_state_seed, check_type
from ..utils._logging import logger, set_log_level
from .splitters import TrialHoldoutSplit, get_protocol

#: Result columns, in order (``time`` and ``pretrain_time`` are seconds; they
#: are left out of ``results.csv``, which is identical between runs).
COLUMNS = (
    "dataset",
    "protocol",
    "subject",
    "session",
    "split",
    "pipeline",
    "method",
    "task",
    "train_modality",
    "test_modality",
    "n_train",
    "n_test",
    "balanced_accuracy",
    "kappa",
    "f1",
    "accuracy",
    "selection",
    "selected",
    "time",
    "pretrain_time",
)
#: Columns that change between identical runs.
TIME_COLUMNS = ("time", "pretrain_time")

#: Protocols of :class:`CrossModalEvaluation`.
PROTOCOL_NAMES = ("within", "cross-session", "loso", "reference")

#: Protocols of datasets that have no published one (the synthetic dataset
#: mimics SEED: 15 trials, the first 9 train, the last 6 test).
DEFAULT_PROTOCOLS = {"SyntheticEmotion": (TrialHoldoutSplit, {"n_train_trials": 9})}

#: ``selection`` column of rows whose model was not selected on anything.
NO_SELECTION = "none (fixed schedule; test data used once)"
#: ``selection`` column of rows whose estimator selected on held-out training trials.
VALIDATION_SELECTION = "validation trials carved out of the training trials"


def parse_task(task):
    """Split a task name ``"a->b"`` into ``(fine-tune modality, test modality)``.

    Parameters
    ----------
    task : str
        E.g. ``"eye->eeg"``: fine-tune on eye movements, test on EEG;
        ``"eeg+eye->eeg+eye"``: a multimodal method trained and tested on
        both.

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


def multimodal_task(modalities):
    """Name of the task of multimodal methods, e.g. ``"eeg+eye->eeg+eye"``."""
    joined = "+".join(modalities)
    return f"{joined}->{joined}"


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


def check_protocol_name(protocol):
    """Validate a protocol name: "within", "cross-session", "loso" or "reference"."""
    if protocol not in PROTOCOL_NAMES:
        raise ValueError(
            f"Unknown protocol {protocol!r}; protocols are {list(PROTOCOL_NAMES)}."
            f"{_suggest(protocol, PROTOCOL_NAMES)}"
        )
    return protocol


class CrossModalEvaluation:
    """Single- and cross-modal evaluation of methods under the papers' protocols.

    For every dataset and every unit of the protocol (subject, session,
    split), each method is cloned; methods that are pre-trained (see
    ``pretrain`` in :meth:`process`) are pre-trained on the multimodal data
    of the training side; then, for every fine-tune modality of ``tasks``, a
    clone of the (pre-trained) estimator is fitted on the training side of
    that modality and scored on the test side of every test modality it has
    an encoder for. Multimodal methods (``kinds``) are fitted and tested on
    all modalities at once (task ``"eeg+eye->eeg+eye"``).

    Parameters
    ----------
    paradigm : EmotionParadigm
        Turns a dataset into samples, labels and metadata
        (``get_data(dataset, subjects=[s])``).
    datasets : BaseEmotionDataset | list of BaseEmotionDataset
        Datasets to evaluate (every subject of each).
    protocol : str | cross-validator | dict of str -> cross-validator | None
        ``"within"`` (default; also ``None``): within subject-session, split
        by trial with ``cv``. ``"cross-session"``: per subject, each session
        in turn is the test side and the subject's other sessions the
        training side (needs >= 2 sessions). ``"loso"``: leave one subject
        out — pre-training and fine-tuning on every other subject (all their
        sessions), test on the held-out subject (needs >= 2 subjects; the
        row's session is ``"all"``). ``"reference"``: the within protocol
        with the reference implementation's selection on TEST data (best
        test accuracy over epochs and the lr x weight-decay grid
        ``reference_grid``), for comparison only; M2SClassifier methods
        only. A cross-validator, or a dict of dataset code ->
        cross-validator, means ``"within"`` with that ``cv`` (as in earlier
        versions).
    modalities : tuple of str | None
        Modalities used for pre-training and for the default tasks. ``None``:
        every modality of the data.
    tasks : list of str | None
        Tasks ``"train_modality->test_modality"``. ``None``: every ordered
        pair of ``modalities`` (single-modal tasks first), e.g. ``"eeg->eeg"``,
        ``"eye->eye"``, ``"eeg->eye"``, ``"eye->eeg"``. Multimodal methods
        always run their one task.
    n_jobs : int
        Units evaluated in parallel (:class:`joblib.Parallel`, processes);
        1 runs in this process, -1 uses every core.
    scheduler : str | dask.distributed.Client | None
        Run the units on a Dask cluster: the scheduler's address (e.g.
        ``"tcp://10.0.0.1:8786"``) or a connected client. Overrides
        ``n_jobs``. Units that land in threads of one worker process run one
        at a time (torch's random generators are process-global); use
        process workers (Dask's default) for parallel units.
    cv : cross-validator | dict of str -> cross-validator | None
        Trial-wise splitter of each subject-session for ``"within"`` and
        ``"reference"``. ``None``: the dataset's published protocol
        (:func:`default_protocol`); a dict maps dataset codes to splitters.
        The splitters of :mod:`~mne_m2s.evaluation.splitters` receive the
        subject-session's ``meta``; any other scikit-learn splitter receives
        the trial ids as ``groups`` (it must keep trials whole, e.g.
        :class:`~sklearn.model_selection.GroupKFold`).
    reference_grid : dict | None
        ``"reference"`` protocol: ``{"lr": [...], "weight_decay": [...]}``
        (default: the reference implementation's 3 x 3 grid,
        :data:`~mne_m2s.evaluation.reference.REFERENCE_GRID`).
    random_state : int | None
        Seed given to the clones of every estimator whose own
        ``random_state`` parameter is None (the splits are deterministic).
        Every unit gets the same seed, so results do not depend on the order
        or place units run in.
    verbose : int | bool
        0: silent; 1: a progress bar over units (stderr); 2: also log each
        unit's scores (``mne_m2s`` logger, INFO).

    Notes
    -----
    Methods receive what :class:`~mne_m2s.M2SClassifier` accepts: a dict
    ``{modality: array}`` for feature-level datasets, :class:`mne.Epochs`
    restricted to a modality's channels for signal-level ones. ``fit`` is
    given ``groups`` (the trial of every sample) when its signature accepts
    it. The modalities a fitted estimator can predict from are its
    ``modalities_`` attribute when it has one, else only the fitted one; a
    task whose test modality is not among them is not reported (the
    supervised baseline gives single-modal tasks only).

    With a protocol of several folds (DEAP, DREAMER) there is one row per
    fold (``split``); :func:`summarize` averages folds and sessions of a
    subject before averaging subjects.

    Examples
    --------
    >>> from mne_m2s.datasets import SyntheticEmotion
    >>> from mne_m2s.evaluation import make_pipelines
    >>> from mne_m2s.paradigms import EmotionParadigm
    >>> ds = SyntheticEmotion(n_subjects=2, level="features", modalities=("eeg", "eye"))
    >>> evaluation = CrossModalEvaluation(EmotionParadigm(), [ds], protocol="within")
    >>> results = evaluation.process(  # doctest: +SKIP
    ...     **make_pipelines(["M2S", "supervised", "svm"]), out="results")
    """

    def __init__(
        self,
        paradigm,
        datasets,
        protocol=None,
        modalities=("eeg", "eye"),
        tasks=None,
        n_jobs=1,
        scheduler=None,
        cv=None,
        reference_grid=None,
        random_state=0,
        verbose=0,
    ):
        self.paradigm = paradigm
        self.datasets = datasets
        self.protocol = protocol
        self.modalities = modalities
        self.tasks = tasks
        self.n_jobs = n_jobs
        self.scheduler = scheduler
        self.cv = cv
        self.reference_grid = reference_grid
        self.random_state = random_state
        self.verbose = verbose

    _PARAMS = ("paradigm", "datasets", "protocol", "modalities", "tasks", "n_jobs", "scheduler",
               "cv", "reference_grid", "random_state", "verbose")

    def __repr__(self):
        params = ", ".join(f"{k}={getattr(self, k)!r}" for k in self._PARAMS)
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

    def _check_protocol(self):
        """Return ``(name, cv)``."""
        protocol, cv = self.protocol, self.cv
        if protocol is None:
            return "within", cv
        if isinstance(protocol, str):
            return check_protocol_name(protocol), cv
        if cv is not None:
            raise ValueError("Pass the splitter either as protocol= or as cv=, not both.")
        return "within", protocol

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
    def _check_pipelines(pipelines, pretrain, kinds):
        from .methods import KINDS

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
        kinds = dict(kinds or {})
        unknown = [k for k in kinds if k not in pipelines]
        if unknown:
            raise ValueError(f"kinds names unknown pipeline(s) {unknown}; pipelines are "
                             f"{list(pipelines)}.{_suggest(unknown[0], list(pipelines))}")
        out = {}
        for name in pipelines:
            kind = kinds.get(name, "cross-modal" if flags[name] else "single-modal")
            if kind not in KINDS:
                raise ValueError(f"kinds[{name!r}] must be one of {KINDS}, got {kind!r}."
                                 f"{_suggest(kind, KINDS)}")
            if kind == "multimodal" and flags[name]:
                raise ValueError(f"Pipeline {name!r} is multimodal (trained with labels on all "
                                 "modalities); it is not pre-trained: set pretrain[name]=False.")
            out[name] = kind
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
        return flags, out

    @staticmethod
    def _check_train_modalities(train_modalities, pipelines):
        out = {}
        for name, mods in dict(train_modalities or {}).items():
            if name not in pipelines:
                raise ValueError(f"train_modalities names unknown pipeline {name!r}; pipelines "
                                 f"are {list(pipelines)}.{_suggest(name, list(pipelines))}")
            if mods is not None:
                out[name] = [mods] if isinstance(mods, str) else list(mods)
        return out

    def _check_parallel(self):
        n_jobs = check_int("n_jobs", self.n_jobs)
        if n_jobs == 0:
            raise ValueError("n_jobs must be a non-zero int (-1 for all cores), got 0.")
        scheduler = self.scheduler
        if scheduler is not None and not isinstance(scheduler, str):
            if not callable(getattr(scheduler, "submit", None)):
                raise TypeError(
                    "scheduler must be None, a Dask scheduler address (str) or a "
                    f"dask.distributed.Client, got {type(scheduler).__name__}."
                )
        return n_jobs, scheduler

    def settings(self, pipelines, pretrain=None, kinds=None, train_modalities=None):
        """Experiment-level settings of :meth:`process` (what an output folder records).

        Parameters
        ----------
        pipelines, pretrain, kinds, train_modalities :
            As in :meth:`process`.

        Returns
        -------
        settings : dict
        """
        from .units import estimator_params, stable_repr

        flags, kinds = self._check_pipelines(pipelines, pretrain, kinds)
        train_modalities = self._check_train_modalities(train_modalities, pipelines)
        protocol, cv = self._check_protocol()
        return {
            "datasets": [stable_repr(ds) for ds in self._check_datasets()],
            "paradigm": stable_repr(self.paradigm),
            "protocol": protocol,
            "cv": stable_repr(cv),
            "reference_grid": stable_repr(self.reference_grid) if protocol == "reference"
            else None,
            "modalities": stable_repr(self.modalities),
            "tasks": stable_repr(self.tasks),
            "random_state": stable_repr(self.random_state),
            "methods": {name: {"kind": kinds[name], "pretrain": flags[name],
                               "train_modalities": train_modalities.get(name),
                               "estimator": estimator_params(est)}
                        for name, est in pipelines.items()},
        }

    # ---------------------------------------------------------------- public
    def process(self, pipelines, pretrain=None, kinds=None, train_modalities=None, out=None,
                overwrite=False):
        """Evaluate methods on every unit of every dataset.

        Parameters
        ----------
        pipelines : dict of str -> estimator
            Name -> scikit-learn classifier, e.g.
            ``{"M2S": M2SClassifier(), "supervised": M2SClassifier()}``
            (or the output of
            :func:`~mne_m2s.evaluation.make_pipelines`, unpacked with
            ``**``). Each is cloned for every unit and fine-tune modality.
        pretrain : None | bool | dict of str -> bool
            Which pipelines are pre-trained (on the training side of each
            unit, all ``modalities``, no labels) before fine-tuning.
            ``None``: those with a ``pretrain`` method. A dict overrides
            pipelines by name (unnamed ones keep the ``None`` rule), e.g.
            ``{"supervised": False}`` trains that ``M2SClassifier`` end to end
            on one modality: the supervised unimodal baseline.
        kinds : dict of str -> str | None
            ``"cross-modal"``, ``"single-modal"`` or ``"multimodal"`` per
            pipeline (see :mod:`~mne_m2s.evaluation.methods`); default:
            cross-modal when pre-trained, else single-modal.
        train_modalities : dict of str -> tuple of str | None
            Modalities a pipeline can be trained on (e.g. ``("eeg",)`` for a
            raw-EEG network); tasks that fine-tune on another modality are not
            run for it. Default: any.
        out : path-like | ResultStore | None
            Folder where every finished unit is written at once (see
            :class:`~mne_m2s.evaluation.units.ResultStore`); units already
            there with the same key are loaded instead of recomputed.
        overwrite : bool
            Accept an ``out`` folder that holds results of other settings.

        Returns
        -------
        results : pandas.DataFrame
            One row per dataset, subject, session, split, pipeline and task,
            sorted in that order (pipelines and tasks in the order given),
            with the columns of :data:`COLUMNS`: ``protocol``, ``task``
            (``"eye->eeg"``: fine-tuned on eye, tested on EEG),
            ``balanced_accuracy``, ``kappa`` (Cohen's), ``f1`` (macro),
            ``accuracy``, ``selection`` (what the model was selected on:
            :data:`NO_SELECTION`, :data:`VALIDATION_SELECTION` or, under the
            reference protocol, the test data), ``selected`` (the reference
            protocol's chosen lr, weight decay and epoch), ``time`` (seconds
            fitting the fine-tuned models) and ``pretrain_time``.
        """
        import pandas as pd

        from .units import ResultStore

        datasets = self._check_datasets()
        protocol, cv = self._check_protocol()
        modalities = self._check_modalities()
        flags, kinds = self._check_pipelines(pipelines, pretrain, kinds)
        train_modalities = self._check_train_modalities(train_modalities, pipelines)
        n_jobs, scheduler = self._check_parallel()
        if protocol == "reference":
            from .reference import _check_reference_estimator

            for name, est in pipelines.items():
                _check_reference_estimator(name, est)
        seed = None if self.random_state is None else check_random_state_seed(self.random_state)
        verbose = int(self.verbose)
        store = out
        if out is not None and not isinstance(out, ResultStore):
            store = ResultStore(out, self.settings(pipelines, pretrain, kinds, train_modalities),
                                overwrite=overwrite)
        for ds in datasets:
            self._check_dataset_protocol(ds, protocol)
        rows, todo = [], []
        bar = _progress(0, verbose)
        try:
            for ds in datasets:
                for unit in self._plan(ds, protocol, cv, modalities, pipelines, flags, kinds,
                                       train_modalities, seed):
                    record = store.load(unit["key"]) if store is not None else None
                    if record is not None:
                        rows.extend(_with_timings(record["rows"], record["timings"]))
                        logger.info("%s: finished earlier, loaded", _unit_label(unit))
                    else:
                        todo.append(unit)
            if bar is not None:
                bar.total = len(todo)
                bar.refresh()
            for unit, part, timings in _execute(todo, n_jobs, scheduler, verbose):
                if store is not None:
                    store.save(unit["key"], part, timings)
                for row in part:
                    logger.info("%s %s: balanced accuracy %.3f, kappa %.3f", _unit_label(unit),
                                row["task"], row["balanced_accuracy"], row["kappa"])
                rows.extend(_with_timings(part, timings))
                if bar is not None:
                    bar.update(1)
        finally:
            if bar is not None:
                bar.close()
        results = pd.DataFrame(rows, columns=list(COLUMNS))
        return sort_results(results, [ds.code for ds in datasets], list(pipelines))

    # ------------------------------------------------------------- internals
    def _cv_for(self, dataset, cv):
        if isinstance(cv, dict):
            cv = cv.get(dataset.code)
        if cv is None:
            return default_protocol(dataset)
        if isinstance(cv, str) or not all(
            callable(getattr(cv, attr, None)) for attr in ("split", "get_n_splits")
        ):
            raise TypeError(
                f"protocol must be a cross-validator with a split method (or a dict of dataset "
                f"code -> cross-validator), got {type(cv).__name__}."
            )
        return cv

    @staticmethod
    def _check_dataset_protocol(dataset, protocol):
        if protocol == "loso" and len(dataset.subject_list) < 2:
            raise ValueError(
                f"protocol='loso' leaves one subject out and trains on the others, but "
                f"{dataset.code} has {len(dataset.subject_list)} subject(s) "
                f"({dataset.subject_list}). Evaluate at least 2 subjects, or use "
                "protocol='within'."
            )
        n_sessions = getattr(dataset, "n_sessions", None)
        if protocol == "cross-session" and n_sessions is not None and n_sessions < 2:
            raise ValueError(
                f"protocol='cross-session' trains on a subject's other sessions, but "
                f"{dataset.code} has {n_sessions} session per subject. Use protocol='within' "
                "(or 'loso')."
            )

    def _modality_map(self):
        return getattr(self.paradigm, "modality_map", None) or DEFAULT_MODALITY_MAP

    def _load(self, dataset, subjects, modalities):
        import pandas as pd

        X, y, meta = self.paradigm.get_data(dataset, subjects=subjects)
        y = np.asarray(y)
        meta = meta.reset_index(drop=True)
        data = _Data(X, self._modality_map())
        present = data.modalities
        if modalities is None:
            mods = present
        else:
            missing = [m for m in modalities if m not in present]
            if missing:
                who = f"subject {subjects[0]}" if len(subjects) == 1 else f"subjects {subjects}"
                raise ValueError(
                    f"{dataset.code}, {who}: no {missing} data (the paradigm gives "
                    f"{present}). Set modalities= to a subset of {present}."
                )
            mods = modalities
        sessions = sorted(pd.unique(meta["session"]), key=_natural_key)
        return data, y, meta, list(mods), sessions

    def _plan(self, dataset, protocol, cv, modalities, pipelines, flags, kinds,
              train_modalities, seed):
        """Yield the units of one dataset (dicts with the payload and the key)."""
        from .._version import __version__
        from .units import estimator_params, hash_data, stable_repr

        if protocol == "loso":
            subjects = [int(s) for s in dataset.subject_list]
            groups = [(None, subjects)]
        else:
            groups = [(int(s), [int(s)]) for s in dataset.subject_list]
        for _, subjects in groups:
            data, y, meta, mods, sessions = self._load(dataset, subjects, modalities)
            tasks = self._check_tasks(mods)
            data_hash = hash_data(data.X, y, meta)
            trial_ids = meta[["subject", "session", "run"]].astype(str).agg("/".join, axis=1)
            trial_ids = trial_ids.to_numpy()
            for subject, session, split, train, test, groups_train in self._splits(
                dataset, protocol, cv, meta, y, sessions, subjects, trial_ids
            ):
                train_data = _Data(data.take(train, mods), data.modality_map)
                test_data = _Data(data.take(test, mods), data.modality_map)
                for name, est in pipelines.items():
                    key = {
                        "package": __version__,
                        "dataset": dataset.code,
                        "dataset_repr": stable_repr(dataset),
                        "paradigm": stable_repr(self.paradigm),
                        "protocol": protocol,
                        "cv": stable_repr(cv) if protocol in ("within", "reference") else None,
                        "reference_grid": stable_repr(self.reference_grid)
                        if protocol == "reference" else None,
                        "subject": subject,
                        "session": session,
                        "split": split,
                        "method": name,
                        "kind": kinds[name],
                        "pretrain": flags[name],
                        "train_modalities": train_modalities.get(name),
                        "estimator": estimator_params(est),
                        "modalities": list(mods),
                        "tasks": [t for t, _, _ in tasks],
                        "seed": seed,
                        "data": data_hash,
                        "train": _hash_index(train),
                        "test": _hash_index(test),
                    }
                    yield {
                        "key": key, "dataset": dataset.code, "protocol": protocol,
                        "subject": subject, "session": session, "split": split, "method": name,
                        "estimator": est, "kind": kinds[name], "pretrain": flags[name],
                        "train": train_data, "test": test_data, "y_train": y[train],
                        "y_test": y[test], "groups": groups_train, "modalities": list(mods),
                        "tasks": tasks, "seed": seed, "reference_grid": self.reference_grid,
                        "train_modalities": train_modalities.get(name),
                    }

    def _splits(self, dataset, protocol, cv, meta, y, sessions, subjects, trial_ids):
        """Yield ``(subject, session, split, train, test, train_groups)`` of one load."""
        if protocol == "loso":
            subj = meta["subject"].astype(int).to_numpy()
            for s in subjects:
                test = np.flatnonzero(subj == s)
                train = np.flatnonzero(subj != s)
                if not len(test):
                    raise ValueError(f"{dataset.code}: subject {s} has no samples to test on.")
                yield s, "all", 0, train, test, trial_ids[train]
            return
        (subject,) = subjects
        session_of = meta["session"].to_numpy()
        if protocol == "cross-session":
            if len(sessions) < 2:
                raise ValueError(
                    f"protocol='cross-session' needs >= 2 sessions per subject; {dataset.code} "
                    f"subject {subject} has {len(sessions)} ({sessions}). Use protocol='within'."
                )
            for session in sessions:
                test = np.flatnonzero(session_of == session)
                train = np.flatnonzero(session_of != session)
                yield subject, str(session), 0, train, test, trial_ids[train]
            return
        splitter = self._cv_for(dataset, cv)
        for session in sessions:
            unit = np.flatnonzero(session_of == session)
            unit_meta = meta.iloc[unit].reset_index(drop=True)
            trials = unit_meta["run"].astype(str).to_numpy()
            for k, (train, test) in enumerate(_split(splitter, unit_meta, y[unit], trials)):
                _check_disjoint(trials, train, test, dataset.code, subject, session)
                yield subject, str(session), k, unit[train], unit[test], trials[train]


def sort_results(results, dataset_order=None, method_order=None):
    """Sort result rows: dataset, subject, session, split, method, task (given orders).

    Parameters
    ----------
    results : pandas.DataFrame
    dataset_order, method_order : list of str | None
        Orders of datasets and methods (default: first appearance).

    Returns
    -------
    results : pandas.DataFrame
        Sorted, with a fresh index.
    """
    if results.empty:
        return results.reset_index(drop=True)
    ds_order = {d: i for i, d in enumerate(dataset_order or dict.fromkeys(results["dataset"]))}
    sessions = sorted(results["session"].astype(str).unique(), key=_natural_key)
    session_order = {s: i for i, s in enumerate(sessions)}
    tasks = list(dict.fromkeys(results["task"]))
    task_order = {t: (_task_rank(t), i) for i, t in enumerate(tasks)}
    method_order = method_order or list(dict.fromkeys(results["method"]))
    pipe_order = {p: i for i, p in enumerate(method_order)}
    keys = results.assign(
        _ds=results["dataset"].map(ds_order),
        _session=results["session"].astype(str).map(session_order),
        _pipe=results["method"].map(pipe_order),
        _task=results["task"].map(task_order),
    )
    keys = keys.sort_values(["_ds", "subject", "_session", "split", "_pipe", "_task"],
                            kind="stable")
    return results.loc[keys.index].reset_index(drop=True)


def _task_rank(task):
    a, b = parse_task(task)
    return 0 if a == b and "+" not in a else (1 if "+" not in a else 2)


def _hash_index(idx):
    from .units import hash_text

    return hash_text(np.asarray(idx, dtype=np.int64).tobytes().hex(), 16)


def _unit_label(unit):
    return (f"{unit['dataset']} subject {unit['subject']} session {unit['session']} split "
            f"{unit['split']} {unit['method']}")


def _with_timings(rows, timings):
    return [dict(row, time=timings.get("time", {}).get(row["task"], 0.0),
                 pretrain_time=timings.get("pretrain_time", 0.0)) for row in rows]


# ---------------------------------------------------------------- execution
def _execute(units, n_jobs, scheduler, verbose):
    """Run units; yield ``(unit, rows, timings)`` as each finishes (any order)."""
    if not units:
        return
    if scheduler is not None:
        yield from _execute_dask(units, scheduler, verbose)
        return
    if n_jobs == 1 or len(units) == 1:
        for unit in units:
            yield unit, *run_unit(unit, verbose)
        return
    from joblib import Parallel, delayed

    results = Parallel(n_jobs=n_jobs, return_as="generator_unordered")(
        delayed(_run_indexed)(i, unit, verbose) for i, unit in enumerate(units)
    )
    for i, rows, timings in results:
        yield units[i], rows, timings


_THREAD_LOCK = threading.Lock()


def _run_indexed(i, unit, verbose):
    if threading.current_thread() is threading.main_thread():
        return (i, *run_unit(unit, verbose))
    # Units in threads of one process (a Dask worker with threads, processes=False) would
    # share torch's process-global random generators (seeded per call): run them one at a
    # time so that results equal a serial run's; process workers run in parallel.
    with _THREAD_LOCK:
        return (i, *run_unit(unit, verbose))


def _execute_dask(units, scheduler, verbose):
    try:
        from dask.distributed import Client, as_completed
    except ImportError as err:  # pragma: no cover - dask is an optional extra
        raise ImportError(
            "scheduler= runs units on a Dask cluster and needs dask.distributed: "
            "pip install 'mne-m2s[dask]'."
        ) from err
    own = isinstance(scheduler, str)
    client = Client(scheduler) if own else scheduler
    try:
        futures = {}
        for i, unit in enumerate(units):
            [payload] = client.scatter([unit], hash=False)
            futures[client.submit(_run_indexed, i, payload, verbose, pure=False)] = i
        for future in as_completed(list(futures)):
            i, rows, timings = future.result()
            yield units[i], rows, timings
    finally:
        if own:
            client.close()


def run_unit(unit, verbose=0):
    """Fit and score one method on one unit (the worker function).

    Parameters
    ----------
    unit : dict
        A unit planned by :class:`CrossModalEvaluation`.
    verbose : int
        2 logs the scores.

    Returns
    -------
    rows : list of dict
        One per task (scores, no timings).
    timings : dict
        ``{"pretrain_time": float, "time": {task: float}}``.
    """
    old = set_log_level("INFO") if verbose >= 2 else None
    try:
        return _run_unit(unit)
    finally:
        if old is not None:
            set_log_level(old)


def _run_unit(unit):
    from sklearn.base import clone

    base = clone(unit["estimator"])
    seed = unit["seed"]
    params = base.get_params(deep=False)
    if seed is not None and "random_state" in params and params["random_state"] is None:
        base.set_params(random_state=seed)
    train, test = unit["train"], unit["test"]
    y_train, y_test = unit["y_train"], unit["y_test"]
    mods, tasks, kind = unit["modalities"], unit["tasks"], unit["kind"]
    reference = unit["protocol"] == "reference"
    fit_kwargs = {"groups": unit["groups"]} if _accepts(base.fit, "groups") else {}
    selection = NO_SELECTION
    if reference:
        from .reference import REFERENCE_SELECTION

        selection = REFERENCE_SELECTION
    elif params.get("early_stopping"):
        selection = VALIDATION_SELECTION
    common = dict(dataset=unit["dataset"], protocol=unit["protocol"],
                  subject=unit["subject"], session=unit["session"], split=unit["split"],
                  pipeline=unit["method"], method=unit["method"],
                  n_train=int(len(y_train)), n_test=int(len(y_test)), selection=selection,
                  selected="")
    rows, times = [], {}
    pretrain_time = 0.0
    if kind == "multimodal":
        task = multimodal_task(mods)
        t0 = time.perf_counter()
        base.fit(train.select(mods), y_train, **fit_kwargs)
        times[task] = time.perf_counter() - t0
        y_pred = np.asarray(base.predict(test.select(mods)))
        joined = "+".join(mods)
        rows.append(dict(common, task=task, train_modality=joined, test_modality=joined,
                         **_scores(y_test, y_pred)))
        return rows, {"pretrain_time": 0.0, "time": times}
    if unit["pretrain"]:
        t0 = time.perf_counter()
        base.pretrain(train.select(mods))
        pretrain_time = time.perf_counter() - t0
    out = {}
    allowed = unit.get("train_modalities")
    for fit_mod in dict.fromkeys(a for _, a, _ in tasks):
        if allowed is not None and fit_mod not in allowed:
            continue
        wanted = [(t, b) for t, a, b in tasks if a == fit_mod]
        if reference:
            from .reference import reference_fit_predict

            test_sets = {b: (test.select([b]), y_test) for _, b in wanted}
            if not unit["pretrain"]:
                test_sets = {b: v for b, v in test_sets.items() if b == fit_mod}
            t0 = time.perf_counter()
            best = reference_fit_predict(base, fit_mod, train.select([fit_mod]), y_train,
                                         test_sets, unit["groups"], unit["reference_grid"])
            elapsed = time.perf_counter() - t0
            for task, b in wanted:
                if b not in best:
                    continue
                choice = best[b]
                times[task] = elapsed
                out[task] = dict(
                    common, task=task, train_modality=fit_mod, test_modality=b,
                    selected=(f"lr={choice['lr']:g}, weight_decay={choice['weight_decay']:g}, "
                              f"epoch={choice['epoch']}"),
                    **_scores(y_test, choice["y_pred"]),
                )
            continue
        model = clone(base)
        t0 = time.perf_counter()
        model.fit(train.select([fit_mod]), y_train, **fit_kwargs)
        fit_time = time.perf_counter() - t0
        usable = list(getattr(model, "modalities_", None) or [fit_mod])
        for task, b in wanted:
            if b not in usable:
                continue
            y_pred = np.asarray(model.predict(test.select([b])))
            times[task] = fit_time
            out[task] = dict(common, task=task, train_modality=fit_mod, test_modality=b,
                             **_scores(y_test, y_pred))
    rows = [out[t] for t, _, _ in tasks if t in out]
    return rows, {"pretrain_time": pretrain_time, "time": times}


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
    import matplotlib
    from matplotlib.figure import Figure

    summary = summarize(results, scores=(score,)).droplevel("dataset")
    methods = list(dict.fromkeys(summary.index.get_level_values("method")))
    tasks = list(dict.fromkeys(results["task"]))
    many = len(methods) > 6  # e.g. with the paper's comparison systems: legend on the side
    per_task = max(1.5, 0.22 * len(methods))
    fig = Figure(figsize=(1.6 + per_task * len(tasks) + (2.2 if many else 0.0), 4.0),
                 layout="constrained")
    colors = ([matplotlib.colormaps["tab20"](k % 20) for k in range(len(methods))]
              if len(methods) > 10 else [None] * len(methods))
    ax = fig.add_subplot()
    width = 0.8 / max(len(methods), 1)
    x = np.arange(len(tasks))
    for k, method in enumerate(methods):
        mean = [summary[f"{score}_mean"].get((method, t), np.nan) for t in tasks]
        std = [summary[f"{score}_std"].get((method, t), np.nan) for t in tasks]
        std = np.nan_to_num(np.asarray(std, dtype=float))
        ax.bar(x + (k - (len(methods) - 1) / 2) * width, mean, width, yerr=std, capsize=3,
               label=method, color=colors[k])
    if chance is not None:
        ax.axhline(chance, color="0.4", linestyle="--", linewidth=1, label="chance")
    ax.set_xticks(x, tasks)
    ax.set_xlabel("task (fine-tune modality -> test modality)")
    ax.set_ylabel(score.replace("_", " "))
    ax.set_ylim(0, 1.15)
    ax.set_yticks(np.linspace(0, 1, 6))
    if many:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small")
    else:
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
            self._picks = channel_modalities(X.info, modality_map)
            self.modalities = list(self._picks)
        else:
            raise TypeError(
                "The paradigm must return a dict of feature arrays or mne.Epochs, got "
                f"{type(X).__name__}."
            )

    def select(self, modalities):
        """Every sample of ``modalities`` (a dict, or Epochs of those channels)."""
        if self._picks is None:
            return {m: self.X[m] for m in modalities}
        picks = sorted(i for m in modalities for i in self._picks[m])
        return self.X.copy().pick(picks)

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


def _natural_key(value):
    text = str(value)
    return (0, int(text), "") if text.lstrip("-").isdigit() else (1, 0, text)


def _progress(total, verbose):
    if not verbose:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="units", unit="unit", dynamic_ncols=True)


__all__ = [
    "COLUMNS",
    "PROTOCOL_NAMES",
    "CrossModalEvaluation",
    "check_protocol_name",
    "default_protocol",
    "multimodal_task",
    "parse_task",
    "plot_results",
    "run_unit",
    "sort_results",
    "summarize",
]
