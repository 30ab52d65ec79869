"""Speed of the MOABB emotion paradigm versus EmotionParadigm on one SEED-sized session.

One subject-session shaped like SEED's ``Preprocessed_EEG``: 15 trials of the
real clip lengths (200 * n + 1 samples, n = 185-265 s), 62 EEG channels at
200 Hz, built once in memory as the SEED adapter builds them
(:func:`mne_m2s.datasets._raw.build_raw`), so the timings are those of the
paradigms, not of reading files (see ``bench_datasets.py`` for that). Times,
best of ``--repeat`` runs after one untimed warm-up run:

* ``moabb_paradigm_array_s``: :class:`~mne_m2s.paradigms.EmotionWindowsParadigm`
  ``.get_data`` returning an array (what MOABB's evaluations use by default);
* ``moabb_paradigm_epochs_s``: the same returning :class:`mne.Epochs`;
* ``emotion_paradigm_array_s`` / ``emotion_paradigm_epochs_s``:
  :class:`~mne_m2s.paradigms.EmotionParadigm` ``.get_data`` with the same
  settings.

Samples are ``--n-windows`` windows of 1 s every ``--step`` windows (default 5
and 5: 675 non-overlapping 5-s samples, ~340 MB in float64; ``--step 1`` gives
~3,400 overlapping samples, ~1.7 GB).

Prints one JSON object. Run: ``python benchmarks/bench_moabb_paradigm.py [--step 1]``.
"""

import argparse
import json
import platform
import time

import numpy as np

from mne_m2s.datasets import BaseEmotionDataset
from mne_m2s.datasets._montage import SEED_CHANNELS
from mne_m2s.datasets._raw import RawTrial, build_raw
from mne_m2s.paradigms import EmotionParadigm, EmotionWindowsParadigm

CLIP_SECONDS = (235, 233, 206, 238, 185, 195, 237, 216, 265, 237, 235, 233, 235, 238, 206)
LABELS = (1, 0, -1, -1, 0, 1, -1, 0, 1, 1, 0, -1, 0, 1, -1)
NAMES = {-1: "negative", 0: "neutral", 1: "positive"}


class SEEDSizedSession(BaseEmotionDataset):
    """One subject, one session of 15 SEED-sized trials, held in memory."""

    def __init__(self, seed=0):
        super().__init__(
            code="SEEDSizedSession",
            subject_list=[1],
            sessions_per_subject=1,
            event_id={"negative": -1, "neutral": 0, "positive": 1},
            modalities={"eeg": 200.0},
            level="raw",
            levels=("raw",),
            doi=None,
            licence_url="",
            folder_name="SEEDSizedSession",
        )
        self.seed = seed
        rng = np.random.default_rng(seed)
        self._runs = {
            str(k + 1): build_raw(
                RawTrial(
                    data=rng.standard_normal((62, 200 * n + 1)) * 20e-6,
                    ch_names=SEED_CHANNELS,
                    ch_types=["eeg"] * 62,
                    sfreq=200.0,
                    label=NAMES[LABELS[k]],
                )
            )
            for k, n in enumerate(CLIP_SECONDS)
        }

    def _check_layout(self):
        """Nothing on disk."""

    def _subject_files(self, subject):
        return []

    def _get_single_subject_data(self, subject):
        return {"1": dict(self._runs)}


def best_time(fn, repeat):
    out = fn()  # warm-up (allocator, lazy imports), not timed
    times = []
    for _ in range(repeat):
        out = None
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-windows", type=int, default=5)
    parser.add_argument("--step", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    t0 = time.perf_counter()
    ds = SEEDSizedSession()
    build_s = time.perf_counter() - t0
    kwargs = dict(n_windows=args.n_windows, step=args.step, window=1.0)
    moabb = EmotionWindowsParadigm(**kwargs)
    plain = EmotionParadigm(**kwargs)
    result = {
        "benchmark": "moabb_paradigm",
        "session": "SEED-sized: 15 trials, 185-265 s, 62 EEG channels, 200 Hz",
        "n_windows": args.n_windows,
        "step": args.step,
        "window_s": 1.0,
        "repeat": args.repeat,
        "build_raws_s": round(build_s, 3),
    }
    for name, fn in (
        ("moabb_paradigm_array_s", lambda: moabb.get_data(ds, [1])),
        ("moabb_paradigm_epochs_s", lambda: moabb.get_data(ds, [1], return_epochs=True)),
        ("emotion_paradigm_array_s", lambda: plain.get_data(ds, [1], return_epochs=False)),
        ("emotion_paradigm_epochs_s", lambda: plain.get_data(ds, [1])),
    ):
        seconds, (X, y, meta) = best_time(fn, args.repeat)
        result[name] = round(seconds, 3)
        result["n_samples"] = len(y)
        shape = (len(X.ch_names), len(X.times)) if hasattr(X, "info") else X.shape[1:]
        result["sample_shape"] = [int(n) for n in shape]
        del X, y, meta
    result["python"] = platform.python_version()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
