"""Speed of SyntheticEmotion and EmotionParadigm (not a test; prints JSON).

Generates 3 subjects x 15 trials x 60 s with every modality at the raw level
(62 EEG + 3 eye + 4 peripheral channels at 200 Hz), cuts it into samples with
the default paradigm (5 windows of 1 s, stride 1 window), and does the same
at the feature level. Wall-clock and CPU seconds are reported separately
because the machine may be shared.

Usage::

    python benchmarks/bench_synthetic.py [--subjects 3] [--trials 15] [--duration 60]
"""

import argparse
import json
import platform
import time

import numpy as np

from mne_m2s.datasets import SyntheticEmotion
from mne_m2s.paradigms import EmotionParadigm


def _timed(func):
    wall, cpu = time.perf_counter(), time.process_time()
    out = func()
    return out, round(time.perf_counter() - wall, 3), round(time.process_time() - cpu, 3)


def _cached(dataset, data):
    """Serve already generated data, so that the paradigm alone is timed."""
    dataset._get_single_subject_data = lambda subject: data[subject]
    return dataset


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=3)
    parser.add_argument("--trials", type=int, default=15)
    parser.add_argument("--duration", type=float, default=60.0)
    args = parser.parse_args(argv)
    kw = dict(n_subjects=args.subjects, n_trials=args.trials, trial_duration=args.duration)
    SyntheticEmotion(n_subjects=1, n_trials=1, trial_duration=2.0).get_data()  # warm caches

    results = {
        "config": {**kw, "sfreq": 200.0, "modalities": ["eeg", "eye", "pps"]},
        "python": platform.python_version(),
        "numpy": np.__version__,
    }
    raw_ds = SyntheticEmotion(**kw)
    data, wall, cpu = _timed(raw_ds.get_data)
    n_runs = sum(len(runs) for sessions in data.values() for runs in sessions.values())
    results["raw_generate"] = {"wall_s": wall, "cpu_s": cpu, "n_runs": n_runs}

    paradigm = EmotionParadigm(n_windows=5, step=1)
    raw_ds = _cached(raw_ds, data)
    (epochs, y, meta), wall, cpu = _timed(lambda: paradigm.get_data(raw_ds))
    results["raw_paradigm"] = {
        "wall_s": wall,
        "cpu_s": cpu,
        "n_samples": len(meta),
        "shape": list(epochs.get_data(copy=False).shape),
        "n_annotations": len(epochs.annotations),
        "gib": round(epochs.get_data(copy=False).nbytes / 2**30, 2),
    }
    del epochs
    (X, _, _), wall, cpu = _timed(lambda: paradigm.get_data(raw_ds, return_epochs=False))
    results["raw_paradigm_array"] = {"wall_s": wall, "cpu_s": cpu}
    del X, data

    feat_ds = SyntheticEmotion(level="features", **kw)
    fdata, wall, cpu = _timed(feat_ds.get_data)
    results["features_generate"] = {"wall_s": wall, "cpu_s": cpu}
    feat_ds = _cached(feat_ds, fdata)
    (X, y, meta), wall, cpu = _timed(lambda: paradigm.get_data(feat_ds))
    results["features_paradigm"] = {
        "wall_s": wall,
        "cpu_s": cpu,
        "shapes": {m: list(a.shape) for m, a in X.items()},
    }
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
