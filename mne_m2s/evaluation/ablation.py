"""The paper's ablations, one call each: a tidy DataFrame and a figure.

:func:`run_ablation` evaluates variants of M2S with
:class:`~mne_m2s.evaluation.CrossModalEvaluation` (same protocol, data,
seeds and schedule for every variant):

``"loss"``
    The full loss, then each term removed in turn (weight 0): contrastive,
    M2M CPC, reconstruction, CLUB (SPEC.md §3.8); every task. The paper:
    dropping the contrastive term hurts the cross-modal tasks most.
``"attention"``
    STS attention, ordinary multi-head attention over windows (``"mha"``)
    and no attention in the electrode encoder (SPEC.md §3.2); the EEG
    single-modal task ``"eeg->eeg"``.
``"cpc"``
    Contrastive-only pre-training ("clip") with and without the M2M CPC
    term added; every task.
``"heatmap"``
    Window length ``T`` (``n_windows`` of the paradigm) x prediction steps
    ``N`` (``cpc_steps``), the paper's Figure 5; a cell needs
    ``N <= T - 2`` (the CPC cut ``t`` is drawn in ``[1, T - N - 1]``),
    other cells are left empty. One panel per task.

With ``out``, every finished unit is stored as it finishes (the ablation
resumes) and ``results.csv``, ``report.md`` and the figure
(``ablation_<kind>.png``) are written.
"""

from __future__ import annotations

import numpy as np

from ..utils._checks import _suggest

#: Ablation kinds.
ABLATION_KINDS = ("loss", "attention", "cpc", "heatmap")
#: Default grid of the heat map: window lengths T and prediction steps N.
HEATMAP_VALUES = {"n_windows": (3, 5, 7, 9), "cpc_steps": (1, 2, 3, 4)}

_LOSS_VARIANTS = (
    ("M2S (full loss)", {}),
    ("w/o contrastive", {"contrastive_weight": 0.0}),
    ("w/o M2M CPC", {"cpc_weight": 0.0}),
    ("w/o reconstruction", {"recon_weight": 0.0}),
    ("w/o CLUB", {"club_weight": 0.0}),
)


def check_ablation_kind(kind):
    """Validate an ablation kind."""
    if kind not in ABLATION_KINDS:
        raise ValueError(f"Unknown ablation kind {kind!r}; kinds are {list(ABLATION_KINDS)}."
                         f"{_suggest(kind, ABLATION_KINDS)}")
    return kind


def ablation_variants(kind):
    """Variants of an ablation (not the heat map): ``[(name, M2SClassifier parameters)]``.

    Parameters
    ----------
    kind : {"loss", "attention", "cpc"}

    Returns
    -------
    variants : list of (str, dict)
    """
    from .methods import CLIP_WEIGHTS

    check_ablation_kind(kind)
    if kind == "loss":
        return [(n, dict(p)) for n, p in _LOSS_VARIANTS]
    if kind == "attention":
        return [("STS", {"attention": "sts"}), ("MHA", {"attention": "mha"}),
                ("none", {"attention": "none"})]
    if kind == "cpc":
        return [("clip", dict(CLIP_WEIGHTS)),
                ("clip + M2M CPC", dict(CLIP_WEIGHTS, cpc_weight=1.0))]
    raise ValueError("The heat map has no fixed variants; see heatmap_cells.")


def heatmap_cells(n_windows=None, cpc_steps=None):
    """Valid ``(T, N)`` cells of the heat map (``1 <= N <= T - 2``).

    Parameters
    ----------
    n_windows, cpc_steps : sequence of int | None
        Grid values (default :data:`HEATMAP_VALUES`).

    Returns
    -------
    cells : list of (int, int)
    """
    ts = tuple(HEATMAP_VALUES["n_windows"] if n_windows is None else n_windows)
    ns = tuple(HEATMAP_VALUES["cpc_steps"] if cpc_steps is None else cpc_steps)
    for name, vals in (("n_windows", ts), ("cpc_steps", ns)):
        if not vals or any(isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1
                           for v in vals):
            raise ValueError(f"{name} values must be positive ints, got {vals!r}.")
    cells = [(int(t), int(n)) for t in ts for n in ns if n <= t - 2]
    if not cells:
        raise ValueError(f"No valid heat-map cell: M2M CPC needs cpc_steps <= n_windows - 2, "
                         f"got n_windows {ts} and cpc_steps {ns}.")
    return cells


def _with_windows(paradigm, n_windows):
    from ..paradigms import EmotionParadigm

    return EmotionParadigm(n_windows=n_windows, step=paradigm.step, window=paradigm.window,
                           modalities=paradigm.modalities, modality_map=paradigm.modality_map)


def run_ablation(kind, datasets, *, settings=None, values=None, paradigm=None, protocol="within",
                 modalities=("eeg", "eye"), tasks=None, cv=None, out=None, overwrite=False,
                 n_jobs=1, scheduler=None, random_state=0, verbose=0):
    """Run one of the paper's ablations.

    Parameters
    ----------
    kind : {"loss", "attention", "cpc", "heatmap"}
        See the module docstring.
    datasets : BaseEmotionDataset | list of BaseEmotionDataset
    settings : dict | None
        ``M2SClassifier`` settings shared by the variants (None: the
        paper's defaults); each variant changes its own parameters.
    values : dict | None
        Heat map only: ``{"n_windows": [...], "cpc_steps": [...]}``.
    paradigm : EmotionParadigm | None
        Default ``EmotionParadigm(n_windows=5)``; the heat map replaces
        ``n_windows``.
    protocol : str
        Evaluation protocol (``"within"``, ``"cross-session"``, ``"loso"``).
    modalities : tuple of str
        Pre-training modalities.
    tasks : list of str | None
        Default: ``["eeg->eeg"]`` for ``"attention"``, every task otherwise.
    cv, out, overwrite, n_jobs, scheduler, random_state, verbose :
        As in :func:`~mne_m2s.evaluation.run_evaluation`.

    Returns
    -------
    table : pandas.DataFrame
        Tidy: one row per variant, dataset, subject, session, split and task,
        with columns ``ablation``, ``variant`` (and ``n_windows``,
        ``cpc_steps`` for the heat map) then the evaluation's columns.
    fig : matplotlib.figure.Figure
        Bars of the variants per task (mean ± sd over subjects), or the heat
        map of mean balanced accuracy over subjects, one panel per task.
    """
    import pandas as pd

    from ..classifier import M2SClassifier
    from ..paradigms import EmotionParadigm
    from .cross_modal import CrossModalEvaluation, check_protocol_name
    from .units import ResultStore, stable_repr

    check_ablation_kind(kind)
    check_protocol_name(protocol)
    if protocol == "reference":
        raise ValueError("Ablations run under honest protocols only ('within', 'cross-session', "
                         "'loso'); the 'reference' protocol selects on test data.")
    if not isinstance(datasets, (list, tuple)):
        datasets = [datasets]
    settings = dict(settings or {})
    settings.setdefault("random_state", random_state)
    paradigm = paradigm if paradigm is not None else EmotionParadigm(n_windows=5)
    if tasks is None and kind == "attention":
        tasks = ["eeg->eeg"]
    if kind == "heatmap":
        values = dict(values or {})
        unknown = [k for k in values if k not in HEATMAP_VALUES]
        if unknown:
            raise ValueError(f"values has unknown key(s) {unknown}; the heat map takes "
                             f"{list(HEATMAP_VALUES)}.")
        cells = heatmap_cells(values.get("n_windows"), values.get("cpc_steps"))
        groups = {}
        for t, n in cells:
            groups.setdefault(t, []).append((f"T={t}, N={n}", {"cpc_steps": n}, (t, n)))
    else:
        if values:
            raise ValueError(f"values is for the heat map only; the {kind!r} ablation has fixed "
                             "variants.")
        groups = {None: [(name, p, None) for name, p in ablation_variants(kind)]}
    store = None
    if out is not None:
        store = ResultStore(out, {
            "ablation": kind, "datasets": [stable_repr(d) for d in datasets],
            "paradigm": stable_repr(paradigm), "protocol": protocol, "cv": stable_repr(cv),
            "modalities": stable_repr(modalities), "tasks": stable_repr(tasks),
            "settings": {k: stable_repr(v) for k, v in settings.items() if k != "verbose"},
            "values": stable_repr(values), "random_state": random_state,
        }, overwrite=overwrite)
    parts = []
    for t, variants in groups.items():
        par = paradigm if t is None else _with_windows(paradigm, t)
        evaluation = CrossModalEvaluation(
            par, list(datasets), protocol=protocol, modalities=modalities, tasks=tasks,
            n_jobs=n_jobs, scheduler=scheduler, cv=cv, random_state=random_state,
            verbose=verbose,
        )
        pipelines = {name: M2SClassifier(**{**settings, **p}) for name, p, _ in variants}
        res = evaluation.process(pipelines, pretrain=True, out=store)
        res.insert(0, "variant", res["method"])
        res.insert(0, "ablation", kind)
        if kind == "heatmap":
            cell_t = {name: c[0] for name, _, c in variants}
            cell_n = {name: c[1] for name, _, c in variants}
            res.insert(2, "n_windows", res["variant"].map(cell_t))
            res.insert(3, "cpc_steps", res["variant"].map(cell_n))
        parts.append(res)
    table = pd.concat(parts, ignore_index=True)
    fig = plot_heatmap(table) if kind == "heatmap" else plot_ablation(table)
    if out is not None:
        _write(table, fig, kind, out)
    return table, fig


def summarize_ablation(table, score="balanced_accuracy"):
    """Mean and sd over subjects per variant and task (sessions and splits averaged first).

    Parameters
    ----------
    table : pandas.DataFrame
        Output of :func:`run_ablation`.
    score : str

    Returns
    -------
    summary : pandas.DataFrame
        Columns ``variant``, ``task``, ``mean``, ``std``, ``n_subjects`` (and
        ``n_windows``, ``cpc_steps`` for the heat map), variants in order.
    """
    keys = ["variant", "task"] + [c for c in ("n_windows", "cpc_steps") if c in table.columns]
    per_subject = table.groupby(keys + ["subject"], sort=False)[score].mean()
    grouped = per_subject.groupby(level=keys, sort=False)
    out = grouped.agg(["mean", "std", "size"]).rename(columns={"size": "n_subjects"})
    return out.reset_index()


def plot_ablation(table, score="balanced_accuracy"):
    """Bars: one group per task, one bar per variant (mean ± sd over subjects).

    Parameters
    ----------
    table : pandas.DataFrame
        Output of :func:`run_ablation` (not the heat map).
    score : str

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    from matplotlib.figure import Figure

    summary = summarize_ablation(table, score)
    variants = list(dict.fromkeys(summary["variant"]))
    tasks = list(dict.fromkeys(summary["task"]))
    fig = Figure(figsize=(2.0 + 1.2 * len(tasks) * max(1, len(variants) / 3), 4.0),
                 layout="constrained")
    ax = fig.add_subplot()
    width = 0.8 / len(variants)
    x = np.arange(len(tasks))
    lookup = summary.set_index(["variant", "task"])
    for k, v in enumerate(variants):
        mean = [lookup["mean"].get((v, t), np.nan) for t in tasks]
        std = np.nan_to_num([lookup["std"].get((v, t), np.nan) for t in tasks])
        ax.bar(x + (k - (len(variants) - 1) / 2) * width, mean, width, yerr=std, capsize=3,
               label=v)
    ax.set_xticks(x, tasks)
    ax.set_xlabel("task (fine-tune modality -> test modality)")
    ax.set_ylabel(score.replace("_", " ") + " (mean ± sd over subjects)")
    ax.set_ylim(0, 1.15)
    ax.set_yticks(np.linspace(0, 1, 6))
    ax.legend(loc="upper right", fontsize="small", ncols=min(len(variants), 3))
    ax.set_title(f"Ablation: {table['ablation'].iloc[0]}")
    return fig


def plot_heatmap(table, score="balanced_accuracy"):
    """Heat map of the mean score over subjects: window length T x prediction steps N.

    Parameters
    ----------
    table : pandas.DataFrame
        Output of ``run_ablation("heatmap", ...)``.
    score : str

    Returns
    -------
    fig : matplotlib.figure.Figure
        One panel per task; empty (grey) cells are invalid (``N > T - 2``).
    """
    from matplotlib.figure import Figure

    summary = summarize_ablation(table, score)
    tasks = list(dict.fromkeys(summary["task"]))
    ts = sorted(summary["n_windows"].unique())
    ns = sorted(summary["cpc_steps"].unique())
    fig = Figure(figsize=(1.0 + 2.9 * len(tasks), 3.4), layout="constrained")
    axes = fig.subplots(1, len(tasks), squeeze=False)[0]
    values = summary["mean"].to_numpy(float)
    vmin, vmax = np.nanmin(values), np.nanmax(values)
    image = None
    for ax, task in zip(axes, tasks, strict=True):
        grid = np.full((len(ns), len(ts)), np.nan)
        sub = summary[summary["task"] == task]
        for row in sub.itertuples(index=False):
            grid[ns.index(row.cpc_steps), ts.index(row.n_windows)] = row.mean
        ax.set_facecolor("0.85")
        image = ax.imshow(grid, origin="lower", cmap="viridis", vmin=vmin, vmax=vmax,
                          aspect="auto")
        for i in range(len(ns)):
            for j in range(len(ts)):
                if np.isfinite(grid[i, j]):
                    ax.text(j, i, f"{grid[i, j]:.2f}", ha="center", va="center", fontsize=8,
                            color="w" if grid[i, j] < (vmin + vmax) / 2 else "k")
        ax.set_xticks(range(len(ts)), [str(t) for t in ts])
        ax.set_yticks(range(len(ns)), [str(n) for n in ns])
        ax.set_xlabel("window length T (n_windows)")
        ax.set_title(task)
    axes[0].set_ylabel("prediction steps N (cpc_steps)")
    fig.colorbar(image, ax=list(axes), label=f"{score.replace('_', ' ')}, mean over subjects")
    return fig


def _write(table, fig, kind, out):
    from pathlib import Path

    from .report import markdown_table, save_figure, write_results_csv
    from .units import atomic_write_text

    out = Path(out)
    write_results_csv(table, out)
    name = f"ablation_{kind}.png"
    save_figure(fig, out / name)
    summary = summarize_ablation(table)
    summary["mean ± sd"] = [f"{m:.3f} ± {s:.3f}" if s == s else f"{m:.3f}"
                            for m, s in zip(summary["mean"], summary["std"], strict=True)]
    if kind == "heatmap":
        body = summary.pivot_table(index=["task", "cpc_steps"], columns="n_windows",
                                   values="mean", sort=False)
        body.columns = [f"T={c}" for c in body.columns]
        body.index = [f"{t}, N={n}" for t, n in body.index]
        body.index.name = "task, prediction steps"
    else:
        body = summary.pivot_table(index="variant", columns="task", values="mean ± sd",
                                   aggfunc="first", sort=False)
    lines = [f"# Ablation: {kind}", "",
             f"Datasets: {', '.join(dict.fromkeys(table['dataset']))}; protocol "
             f"{', '.join(dict.fromkeys(table['protocol']))}; "
             f"{table['subject'].nunique()} subject(s). Balanced accuracy, mean ± sd over "
             "subjects (sessions and splits of a subject averaged first).", "",
             markdown_table(body), "", f"![ablation {kind}]({name})", ""]
    atomic_write_text(out / "report.md", "\n".join(lines))


__all__ = [
    "ABLATION_KINDS",
    "HEATMAP_VALUES",
    "ablation_variants",
    "check_ablation_kind",
    "heatmap_cells",
    "plot_ablation",
    "plot_heatmap",
    "run_ablation",
    "summarize_ablation",
]
