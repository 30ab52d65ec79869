"""Reports: results.csv, report.md in the paper's layout, and PNG figures.

:func:`write_report` writes, into an output folder,

* ``results.csv`` — one row per dataset, subject, session, split, method and
  task (scores; identical between identical runs, so resumed and
  uninterrupted runs give the same file), and ``timings.csv`` (seconds);
* ``report.md`` — per dataset, the paper's tables (methods x tasks, mean ±
  sd over subjects of balanced accuracy and Cohen's kappa, or F1 for DEAP and
  DREAMER), the statistics of :func:`~mne_m2s.evaluation.stats.compare_methods`
  and the figures;
* ``results.png`` (bars, mean ± sd over subjects) and ``paired.png``
  (per-subject scores of M2S and each baseline, one line per subject).

Under the ``"reference"`` protocol every table says that the scores were
selected on the test data.
"""

from __future__ import annotations

import numpy as np

from .cross_modal import TIME_COLUMNS, parse_task, plot_results
from .units import atomic_write_bytes, atomic_write_text

#: Second score of the paper's tables, by dataset (SEED family: kappa).
SECOND_SCORE = {"DEAP": "f1", "DREAMER": "f1"}

_LABELS = {"balanced_accuracy": "balanced accuracy", "kappa": "Cohen's kappa", "f1": "F1 (macro)",
           "accuracy": "accuracy"}


def paper_scores(dataset):
    """Scores of the paper's tables for a dataset code: balanced accuracy and kappa or F1."""
    return ("balanced_accuracy", SECOND_SCORE.get(dataset, "kappa"))


def paper_table(results, score="balanced_accuracy", dataset=None):
    """Methods x tasks table of ``mean ± sd`` over subjects (the paper's layout).

    Parameters
    ----------
    results : pandas.DataFrame
        Rows of :class:`~mne_m2s.evaluation.CrossModalEvaluation`.
    score : str
    dataset : str | None
        Dataset to tabulate (default: the only one in ``results``).

    Returns
    -------
    table : pandas.DataFrame
        Rows: methods (in order of appearance); columns: tasks; cells
        ``"0.712 ± 0.081"`` (sd over subjects, sessions and splits of a
        subject averaged first; no sd with one subject), empty where a method
        has no such task.
    """
    import pandas as pd

    if dataset is None:
        datasets = list(dict.fromkeys(results["dataset"]))
        if len(datasets) != 1:
            raise ValueError(f"results hold several datasets {datasets}; pass dataset=.")
        dataset = datasets[0]
    r = results[results["dataset"] == dataset]
    subj = r.groupby(["method", "task", "subject"], sort=False)[score].mean()
    methods = list(dict.fromkeys(r["method"]))
    tasks = list(dict.fromkeys(r["task"]))
    table = pd.DataFrame("", index=pd.Index(methods, name="method"), columns=tasks)
    for (method, task), values in subj.groupby(level=["method", "task"], sort=False):
        values = values.to_numpy(float)
        cell = f"{values.mean():.3f}"
        if len(values) > 1:
            cell += f" ± {values.std(ddof=1):.3f}"
        table.loc[method, task] = cell
    return table


def multimodal_table(results, score="balanced_accuracy", dataset=None, method="M2S"):
    """The paper's Table 4 layout: multimodal methods against ``method`` on single modalities.

    Parameters
    ----------
    results : pandas.DataFrame
        Rows of :class:`~mne_m2s.evaluation.CrossModalEvaluation`.
    score : str
    dataset : str | None
        As in :func:`paper_table`.
    method : str
        The single-modality method compared (its every task is listed).

    Returns
    -------
    table : pandas.DataFrame
        Rows: each multimodal method (its ``"a+b->a+b"`` task), then ``method``
        per task; columns ``method``, ``task`` and the ``mean ± sd`` cell.
        Empty when ``results`` hold no multimodal task.
    """
    import pandas as pd

    full = paper_table(results, score, dataset)
    rows = [(m, t, full.loc[m, t]) for t in full.columns if "+" in t
            for m in full.index if full.loc[m, t]]
    if rows and method in full.index:
        rows += [(method, t, full.loc[method, t]) for t in full.columns
                 if "+" not in t and full.loc[method, t]]
    return pd.DataFrame(rows, columns=["method", "task", _LABELS.get(score, score)])


def markdown_table(frame, index=True):
    """A DataFrame as a GitHub-flavoured Markdown table (no extra dependency)."""
    cols = ([frame.index.name or ""] if index else []) + [str(c) for c in frame.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for idx, row in frame.iterrows():
        cells = ([str(idx)] if index else []) + [_fmt(v) for v in row.tolist()]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _fmt(v):
    if isinstance(v, float):
        if np.isnan(v):
            return "n/a"
        return f"{v:.3g}" if abs(v) < 1e-3 and v != 0 else f"{v:.3f}"
    return str(v)


def plot_paired(results, method="M2S", baselines=None, score="balanced_accuracy", chance=None,
                title=None):
    """Per-subject scores of ``method`` and each baseline, one line per subject.

    One panel per task of ``method``; in each, the x positions are the
    method and the baselines that have the task (a multimodal baseline is
    drawn in every panel), and each subject's scores are joined by a line.

    Parameters
    ----------
    results : pandas.DataFrame
        One dataset's rows.
    method : str
    baselines : list of str | None
        Default: every other method.
    score : str
    chance : float | None
        Dashed line at the chance level.
    title : str | None

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    from matplotlib.figure import Figure

    from .stats import subject_scores

    scores = {(m, t): v for (_, m, t), v in subject_scores(results, score).items()}
    if baselines is None:
        baselines = [m for m in dict.fromkeys(results["method"]) if m != method]
    tasks = list(dict.fromkeys(results.loc[results["method"] == method, "task"]))
    if not tasks:
        raise ValueError(f"results have no rows of method {method!r}.")
    many = len(baselines) > 5  # e.g. with the paper's comparison systems: wider, upright labels
    width = max(2.4, 0.32 * (len(baselines) + 1))
    fig = Figure(figsize=(1.2 + width * len(tasks), 5.0 if many else 3.8), layout="constrained")
    axes = fig.subplots(1, len(tasks), sharey=True, squeeze=False)[0]
    for ax, task in zip(axes, tasks, strict=True):
        columns = [(method, task)]
        for b in baselines:
            b_tasks = list(dict.fromkeys(results.loc[results["method"] == b, "task"]))
            if task in b_tasks:
                columns.append((b, task))
            elif len(b_tasks) == 1 and "+" in parse_task(b_tasks[0])[0]:
                columns.append((b, b_tasks[0]))
        table = {c: scores[c] for c in columns}
        subjects = sorted(set().union(*(set(v.index) for v in table.values())))
        x = np.arange(len(columns))
        for s in subjects:
            ys = [table[c].get(s, np.nan) for c in columns]
            ax.plot(x, ys, color="0.6", linewidth=0.8, marker="o", markersize=3, zorder=1)
        means = [table[c].mean() for c in columns]
        ax.scatter(x, means, color="C3", marker="D", s=40, zorder=2, label="mean")
        if chance is not None:
            ax.axhline(chance, color="0.4", linestyle="--", linewidth=1)
        labels = [c[0] if c[1] == task else f"{c[0]}\n({c[1]})" for c in columns]
        ax.set_xticks(x, labels, rotation=90 if many else 30, ha="center" if many else "right",
                      fontsize="small")
        ax.set_xlim(-0.5, len(columns) - 0.5)
        ax.set_title(task)
    axes[0].set_ylabel(_LABELS.get(score, score) + " per subject")
    axes[0].legend(loc="lower left", fontsize="small")
    if title:
        fig.suptitle(title)
    return fig


def _png(fig):
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=120)
    return buf.getvalue()


def save_figure(fig, path):
    """Save a figure as PNG atomically."""
    atomic_write_bytes(path, _png(fig))
    return path


def write_results_csv(results, out):
    """Write ``results.csv`` (scores) and ``timings.csv`` atomically; return their paths."""
    from pathlib import Path

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    csv = out / "results.csv"
    atomic_write_text(csv, results.drop(columns=list(TIME_COLUMNS), errors="ignore")
                      .to_csv(index=False, lineterminator="\n"))
    keys = ["dataset", "protocol", "subject", "session", "split", "method", "task"]
    timing_cols = [c for c in TIME_COLUMNS if c in results.columns]
    if timing_cols:
        atomic_write_text(out / "timings.csv",
                          results[keys + timing_cols].to_csv(index=False, lineterminator="\n"))
    return csv


def write_report(results, out, *, title="mne-m2s results", method="M2S", descriptions=None,
                 settings_text=None, chance=None, figures=True, extra_sections=()):
    """Write results.csv, timings.csv, report.md and the figures into ``out``.

    Parameters
    ----------
    results : pandas.DataFrame
        Rows of :class:`~mne_m2s.evaluation.CrossModalEvaluation`.
    out : path-like
        Output folder.
    title : str
        Report title.
    method : str
        The method compared with the others in the statistics and the
        paired figure (skipped when absent).
    descriptions : list of str | None
        One line per method (default: from the registry, for registered
        methods).
    settings_text : str | None
        What was run (printed under the title).
    chance : float | None
        Chance level drawn in the figures.
    figures : bool
        Write ``results.png`` and ``paired.png``.
    extra_sections : sequence of (str, str)
        Additional ``(heading, markdown)`` sections (e.g. ablations).

    Returns
    -------
    paths : dict of str -> pathlib.Path
        ``results``, ``timings``, ``report`` and the figures written.
    """
    from pathlib import Path

    from .methods import describe_methods, list_methods
    from .stats import compare_methods

    out = Path(out)
    paths = {"results": write_results_csv(results, out)}
    if (out / "timings.csv").exists():
        paths["timings"] = out / "timings.csv"
    methods = list(dict.fromkeys(results["method"]))
    if descriptions is None:
        registered = [m for m in methods if m in list_methods()]
        descriptions = describe_methods(registered)
    protocols = list(dict.fromkeys(results["protocol"]))
    lines = [f"# {title}", ""]
    if "reference" in protocols:
        lines += ["> **WARNING — SELECTED ON TEST DATA.** These scores use the reference "
                  "implementation's selection: the best TEST accuracy over fine-tuning epochs "
                  "and the learning-rate x weight-decay grid. They are optimistic and only for "
                  "comparison with the authors' numbers; the honest protocol is `within`.", ""]
    lines += [f"Protocol: {', '.join(f'`{p}`' for p in protocols)}. "
              f"Selection: {'; '.join(dict.fromkeys(results['selection']))}.", ""]
    if settings_text:
        lines += [settings_text, ""]
    if descriptions:
        lines += ["## Methods", ""] + [f"- {d}" for d in descriptions] + [""]
    stats_frames = []
    for dataset in dict.fromkeys(results["dataset"]):
        r = results[results["dataset"] == dataset]
        n_subj = r["subject"].nunique()
        suffix = " — selected on TEST data (reference protocol)" if "reference" in set(
            r["protocol"]) else ""
        for score in paper_scores(dataset):
            lines += [f"## {dataset}: {_LABELS[score]}, mean ± sd over {n_subj} subject(s)"
                      f"{suffix}", "", markdown_table(paper_table(r, score, dataset)), ""]
            multi = multimodal_table(r, score, dataset, method)
            if len(multi) and multi["task"].str.contains("+", regex=False).any() and (
                    not multi["task"].str.contains("+", regex=False).all()):
                lines += [f"### {dataset}: supervised multimodal methods against {method} on "
                          f"single modalities (the paper's Table 4 layout), {_LABELS[score]}"
                          f"{suffix}", "", markdown_table(multi, index=False), ""]
        if method in methods and len(methods) > 1:
            st = compare_methods(r, method=method)
            stats_frames.append(st)
            if not st.empty:
                show = st.assign(
                    **{"wins/losses/ties": st["wins"].astype(str) + "/" + st["losses"].astype(str)
                       + "/" + st["ties"].astype(str)}
                )[["task", "baseline", "baseline_task", "n_subjects", "mean_method",
                   "mean_baseline", "mean_difference", "wins/losses/ties", "paired_t_p",
                   "wilcoxon_p", "independent_t_p"]]
                show = show.rename(columns={
                    "mean_method": method, "mean_baseline": "baseline mean",
                    "mean_difference": f"{method} - baseline",
                    "paired_t_p": "paired t-test p", "wilcoxon_p": "Wilcoxon signed-rank p",
                    "independent_t_p": "independent-samples t-test p (as in the paper)",
                    "n_subjects": "subjects"})
                lines += [f"### {dataset}: {method} against each baseline (balanced accuracy, "
                          f"over subjects{suffix})", "",
                          "Paired t-test and Wilcoxon signed-rank test over subjects (the same "
                          "subjects under both methods); the independent-samples t-test is the "
                          "one the paper reports and ignores the pairing.", "",
                          markdown_table(show, index=False), ""]
    if figures:
        fig_lines = []
        for i, dataset in enumerate(dict.fromkeys(results["dataset"])):
            r = results[results["dataset"] == dataset]
            tag = "" if i == 0 else f"_{dataset}"
            name = f"results{tag}.png"
            note = " (selected on TEST data)" if "reference" in set(r["protocol"]) else ""
            paths[name] = save_figure(plot_results(r, chance=chance,
                                                   title=f"{dataset}{note}"), out / name)
            fig_lines.append(f"![{dataset}: mean ± sd over subjects]({name})")
            if method in methods and len(methods) > 1:
                pname = f"paired{tag}.png"
                paths[pname] = save_figure(
                    plot_paired(r, method=method, chance=chance,
                                title=f"{dataset}: per-subject scores{note}"), out / pname)
                fig_lines.append(f"![{dataset}: per-subject paired scores]({pname})")
        lines += ["## Figures", ""] + fig_lines + [""]
    for heading, body in extra_sections:
        lines += [f"## {heading}", "", body, ""]
    if stats_frames:
        import pandas as pd

        stats = pd.concat(stats_frames, ignore_index=True)
        atomic_write_text(out / "statistics.csv", stats.to_csv(index=False, lineterminator="\n"))
        paths["statistics"] = out / "statistics.csv"
    atomic_write_text(out / "report.md", "\n".join(lines))
    paths["report"] = out / "report.md"
    return paths


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
    index = summary.index.droplevel("dataset") if summary.index.get_level_values(
        "dataset").nunique() == 1 else summary.index
    table = pd.DataFrame(index=index)
    for score in scores:
        mean = summary[f"{score}_mean"].to_numpy()
        std = summary[f"{score}_std"].to_numpy()  # NaN for a single subject
        table[score] = [f"{m:.3f} ± {s:.3f}" if s == s else f"{m:.3f}"
                        for m, s in zip(mean, std, strict=True)]
    table["subjects"] = summary["n_subjects"].to_numpy()
    return table.to_string()


def paired_lines(results, a="M2S", b="clip", cross_modal_only=True):
    """Paired comparison of two methods, one text line per task and one overall.

    Parameters
    ----------
    results : pandas.DataFrame
        Rows of :class:`~mne_m2s.evaluation.CrossModalEvaluation` (one dataset).
    a, b : str
        Methods to compare.
    cross_modal_only : bool
        Only the cross-modal tasks (fine-tune and test modalities differ).

    Returns
    -------
    lines : list of str
        Mean difference of balanced accuracy over subjects and in how many
        subjects ``a`` is higher / lower, per task and overall.
    """
    import pandas as pd

    from .stats import subject_scores

    r = results
    if cross_modal_only:
        r = r[r["train_modality"] != r["test_modality"]]
    scores = subject_scores(r)
    lines, diffs = [], []
    for task in dict.fromkeys(r["task"]):
        keys = [k for k in scores if k[2] == task and k[1] in (a, b)]
        sa = [scores[k] for k in keys if k[1] == a]
        sb = [scores[k] for k in keys if k[1] == b]
        if not sa or not sb:
            continue
        d = (sa[0] - sb[0]).dropna()
        diffs.append(d)
        lines.append(f"  {task}: {a} - {b} = {d.mean():+.3f} balanced accuracy "
                     f"({a} higher in {(d > 0).sum()}, lower in {(d < 0).sum()} of {len(d)} "
                     "subjects)")
    if diffs:
        d = pd.concat(diffs)
        lines.append(f"  {'cross-modal' if cross_modal_only else 'overall'} mean: {a} - {b} = "
                     f"{d.mean():+.3f} ({a} higher in {(d > 0).sum()}, lower in "
                     f"{(d < 0).sum()} of {len(d)} subject-tasks)")
    return lines


def format_statistics(stats):
    """Text lines of :func:`~mne_m2s.evaluation.stats.compare_methods` (one per row)."""
    lines = []
    for row in stats.itertuples(index=False):
        base = row.baseline if row.baseline_task == row.task else (
            f"{row.baseline} ({row.baseline_task})")
        lines.append(
            f"  {row.dataset} {row.task}: {row.method} - {base} = {row.mean_difference:+.3f} "
            f"(wins/losses/ties {row.wins}/{row.losses}/{row.ties} of {row.n_subjects}); "
            f"paired t p={_p(row.paired_t_p)}, Wilcoxon p={_p(row.wilcoxon_p)}, "
            f"independent-samples t p={_p(row.independent_t_p)}"
        )
    return lines


def _p(p):
    return "n/a" if p != p else f"{p:.3g}"


__all__ = [
    "format_statistics",
    "format_summary",
    "paired_lines",
    "markdown_table",
    "paper_scores",
    "multimodal_table",
    "paper_table",
    "plot_paired",
    "save_figure",
    "write_report",
    "write_results_csv",
]
