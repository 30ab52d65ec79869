"""Speed of the feature extractors on one hour of data.

Prints JSON with the seconds (best of ``--repeats`` runs) to compute:

* ``de_s``: DE of one hour of 62-channel 200 Hz EEG in 1-s windows, given as 720
  epochs of 5 s (acceptance: <= 5 s on a 2-core CPU); ``de_lds_s``: the same with
  trial-wise LDS smoothing (15 trials of 4 minutes);
* ``eye_detect_s``: the 33 eye features of one hour of 60 Hz eye tracking (gaze x/y
  and pupil, 180 epochs of 20 s, 4-s windows), events detected from the signals;
  ``eye_annotations_s``: the same with events from Eyelink-style annotations;
* ``pps_s``: peripheral features of one hour of 8 DEAP-like channels at 128 Hz.

Usage: ``python benchmarks/bench_features.py [--repeats 3]``.
"""

import argparse
import json
import os
import platform
import time

import mne
import numpy as np
import pandas as pd

from mne_m2s.features import DifferentialEntropy, EyeMovementFeatures, PeripheralFeatures


def _best_time(fn, repeats):
    best = np.inf
    out = None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def _eeg_epochs(rng):
    n_epochs, n_chans, n_times, sfreq = 720, 62, 1000, 200.0
    data = rng.standard_normal((n_epochs, n_chans, n_times)) * 1e-5
    info = mne.create_info(n_chans, sfreq, "eeg")
    events = np.column_stack([np.arange(n_epochs) * n_times, np.zeros(n_epochs, int),
                              np.ones(n_epochs, int)])
    metadata = pd.DataFrame({"subject": 1, "session": 1,
                             "run": np.repeat(np.arange(15), n_epochs // 15)})
    return mne.EpochsArray(data, info, events=events, metadata=metadata, verbose=False)


def _eye_raw(rng, sfreq=60.0, seconds=3600.0, ppd=37.8):
    """Gaze (px) and pupil with random fixations, saccades and blinks, plus annotations."""
    n = int(seconds * sfreq)
    x = np.empty(n)
    y = np.empty(n)
    onsets, durations, desc = [], [], []
    i, px, py = 0, 960.0, 540.0
    while i < n:
        fix = int(rng.integers(12, 24))  # 200-400 ms fixation
        x[i:i + fix] = px + rng.normal(0, 0.5, min(fix, n - i))
        y[i:i + fix] = py + rng.normal(0, 0.5, min(fix, n - i))
        onsets.append(i / sfreq)
        durations.append(fix / sfreq)
        desc.append("fixation")
        i += fix
        sac = int(rng.integers(2, 4))
        nx, ny = rng.uniform(200, 1720), rng.uniform(100, 980)
        ramp = np.arange(1, sac + 1) / sac
        m = min(sac, n - i)
        x[i:i + m] = (px + (nx - px) * ramp)[:m]
        y[i:i + m] = (py + (ny - py) * ramp)[:m]
        onsets.append(i / sfreq)
        durations.append(sac / sfreq)
        desc.append("saccade")
        i += sac
        px, py = nx, ny
    pupil = 1000 + 50 * np.sin(2 * np.pi * 0.1 * np.arange(n) / sfreq)
    for start in rng.integers(0, n - 12, int(seconds / 4)):  # a blink every 4 s on average
        x[start:start + 9] = y[start:start + 9] = pupil[start:start + 9] = np.nan
        onsets.append(start / sfreq)
        durations.append(9 / sfreq)
        desc.append("BAD_blink")
    onsets, durations = np.array(onsets), np.array(durations)
    inside = onsets < (n - 1) / sfreq
    onsets, durations, desc = onsets[inside], durations[inside], np.array(desc)[inside]
    durations = np.minimum(durations, (n - 1) / sfreq - onsets)
    info = mne.create_info(["xpos_left", "ypos_left", "pupil_left"], sfreq,
                           ["eyegaze", "eyegaze", "pupil"])
    raw = mne.io.RawArray(np.stack([x, y, pupil]), info, verbose=False)
    raw.set_annotations(mne.Annotations(onsets, durations, desc))
    return raw


def _pps_epochs(rng, sfreq=128.0, seconds=3600.0):
    n = int(seconds * sfreq)
    t = np.arange(n) / sfreq
    ecg = np.zeros(n)
    for b in np.arange(0.3, seconds, 0.8):
        lo, hi = int((b - 0.05) * sfreq), int((b + 0.05) * sfreq)
        ecg[lo:hi] += 1e-3 * np.exp(-0.5 * ((t[lo:hi] - b) / 0.012) ** 2)
    sig = [ecg, 1e-3 * np.sin(2 * np.pi * 0.25 * t), 5e-6 + 1e-9 * t, 33 + 1e-4 * t]
    sig += [1e-5 * rng.standard_normal(n) for _ in range(4)]
    types = ["ecg", "resp", "gsr", "temperature", "eog", "eog", "emg", "bio"]
    info = mne.create_info([f"{c}{i}" for i, c in enumerate(types)], sfreq, types)
    raw = mne.io.RawArray(np.stack(sig), info, verbose=False)
    return mne.make_fixed_length_epochs(raw, duration=20.0, preload=True, verbose=False)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    eeg = _eeg_epochs(rng)
    de_s, de = _best_time(lambda: DifferentialEntropy(window=1.0).fit_transform(eeg),
                          args.repeats)
    lds_s, _ = _best_time(
        lambda: DifferentialEntropy(window=1.0, smoothing="lds").fit_transform(eeg),
        args.repeats)
    raw = _eye_raw(rng)
    events = mne.make_fixed_length_events(raw, duration=20.0)
    eye = mne.Epochs(raw, events, tmin=0.0, tmax=20.0 - 1 / 60.0, baseline=None,
                     reject_by_annotation=False, preload=True, verbose=False)
    eye_det_s, eye_f = _best_time(
        lambda: EyeMovementFeatures(window=4.0, events="detect").fit_transform(eye),
        args.repeats)
    eye_ann_s, _ = _best_time(
        lambda: EyeMovementFeatures(window=4.0, events="annotations").fit_transform(eye),
        args.repeats)
    pps = _pps_epochs(rng)
    pps_s, pps_f = _best_time(lambda: PeripheralFeatures(window=1.0).fit_transform(pps),
                              args.repeats)
    result = {
        "de_s": round(de_s, 3),
        "de_lds_s": round(lds_s, 3),
        "de_shape": list(de.shape),
        "de_acceptance_s": 5.0,
        "de_pass": bool(de_s <= 5.0),
        "eye_detect_s": round(eye_det_s, 3),
        "eye_annotations_s": round(eye_ann_s, 3),
        "eye_shape": list(eye_f.shape),
        "pps_s": round(pps_s, 3),
        "pps_shape": list(pps_f.shape),
        "repeats": args.repeats,
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "mne": mne.__version__,
        "numpy": np.__version__,
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
