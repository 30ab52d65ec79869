"""SyntheticEmotion: a seeded emotion dataset with the interface of the real ones.

It backs the demo, the examples and the tests: no files, a few seconds to
generate, and a documented ground truth. Two levels share one latent model:

* ``level="raw"``: one :class:`mne.io.RawArray` per trial (film clip) with
  62-channel EEG (SEED montage), eye tracking (gaze and pupil) and peripheral
  signals (ECG, GSR, respiration, skin temperature);
* ``level="features"``: one :class:`~mne_m2s.datasets.FeatureRun` per trial
  with per-window EEG differential entropy (DE), 33 eye-movement features and
  10 peripheral features, computed from the same latent trajectories without
  rendering any signal (the fast path of the classifier tests).

Ground truth
------------
**Design.** Every session shows ``n_trials`` clips. Their order of classes is a
fixed shuffle shared by all subjects (as in SEED): blocks of ``n_classes``
trials, each block a permutation of the classes, so that every prefix made of
whole blocks is balanced (3 classes x 15 trials: trials 1-9 hold 3 trials of
each class and trials 10-15 hold 2, as SEED's 9:6 protocol expects). Clip
durations (``trial_duration``, fixed or drawn from a range) and clip luminance
are properties of the clip, hence shared by all subjects.

**Latent emotion.** Each class has a centre on the valence-arousal plane
(circumplex; :data:`AFFECT`). The latent state of a trial, ``z(t) =
(valence, arousal)``, is an Ornstein-Uhlenbeck process (time constant 6 s,
stationary s.d. 0.3) around ``reactivity_subject * centre + clip offset``
(reactivity log-normal, s.d. 0.2; clip offset s.d. 0.15, shared by all
subjects) plus a subject arousal bias (s.d. 0.15), starting from 30 % of that
mean, so the emotion builds up during the first seconds of a clip. The trial
means of ``z`` are the trial's ``valence`` and ``arousal``
(``FeatureRun.description``; the ``extras`` of the trial annotation at the raw
level).

**Emotion effects** (``eff = 1 / difficulty``; log-power units for EEG):

* EEG, per band and electrode, ``log power += eff * (W_v z_v + W_a z_a)``
  with smooth scalp maps built from electrode positions: beta (0.35) and gamma
  (0.5) over lateral temporal sites rise with valence (Zheng & Lu 2015,
  doi:10.1109/TAMD.2015.2431497); frontal alpha asymmetry: right-frontal alpha
  rises and left-frontal alpha falls with valence (0.3; Davidson's
  approach-withdrawal model); negative emotions raise parietal-occipital delta
  (0.2) and prefrontal gamma (0.2) (Zheng & Lu 2015); arousal lowers
  parietal-occipital alpha (0.4) and slightly raises beta (0.1). Each subject
  has its own jitter of these maps (s.d. 25 %).
* Eye: pupil diameter rises with arousal (0.4 mm per unit; Bradley et al.
  2008, doi:10.1111/j.1469-8986.2008.00654.x); blinks are inhibited with
  engagement (rate x exp(-0.5 z_a); Shultz et al. 2011,
  doi:10.1073/pnas.1109304108); fixations shorten with arousal (x exp(-0.3
  z_a)); saccade amplitude grows with valence (x exp(0.3 z_v), "broadened"
  attention; Wadlinger & Isaacowitz 2006, doi:10.1007/s11031-006-9021-1).
* Peripheral: heart rate +5 bpm per unit arousal; skin-conductance responses
  more frequent (x exp(0.8 z_a)) and larger with arousal, tonic level +0.4 uS;
  breathing faster (+0.03 Hz); skin temperature -0.15 degC (vasoconstriction).

**Emotion-independent nuisances** (not scaled by ``difficulty``): EEG 1/f
background with subject-specific exponent and alpha peak; subject and session
gains per electrode and per band; per-trial band offsets (s.d. 0.2) and slow
within-trial band fluctuations (s.d. 0.25 global + 0.15 per electrode,
time constant 2 s); fatigue (alpha/theta power rising over the session);
temporal-muscle EMG varying per trial (broadband, strongest at the temporal
sites, i.e. where the gamma effect is); blink artefacts in frontal EEG (100-200
uV at FP1/FP2) at the very times of the eye-tracker blinks; horizontal and
vertical EOG following the gaze; slow drifts; 50 Hz line noise (per channel,
a few noisy channels); volume conduction (exponentially decaying spatial
correlation). Eye: clip luminance drives the pupil (pupillary light reflex,
0.8-1.6 mm per unit luminance, the largest pupil effect), pupil hippus,
subject/session baselines and tracker offsets, slow rate fluctuations.
Peripheral: subject/session baselines, slow drifts, respiratory sinus
arrhythmia. ``"hard"`` halves and ``"easy"`` doubles the effects. With the
defaults (``"medium"``, 3 classes, 15 trials) a per-subject logistic regression
on single 1-s feature windows, trained on trials 1-9 and tested on trials
10-15, scores about 0.65-0.80 with EEG, 0.55-0.65 with eye and 0.5-0.55 with
peripheral features (chance 0.33; two seeds): every task is learnable and
none is trivial.

Raw level
---------
All channels of one Raw share one sampling rate, ``sfreq`` (default 200 Hz,
SEED's EEG rate; eye trackers record at 60-1000 Hz, here rendered at the same
rate). Channels, in order:

* 62 EEG channels named and positioned exactly as the real SEED-family
  adapters name and position them (one montage module,
  :mod:`mne_m2s.datasets._montage`): MNE's capitalisation of the 10-05 names
  (``Fp1``, ``FCz`` ...), positions from MNE's template 10-05 montage, CB1 and
  CB2 (cerebellar sites of the Neuroscan cap, no 10-05 name) at the nearest
  10-05 sites below O1/O2, I1 and I2 (an approximation, see
  :func:`make_seed_montage`), in volts;
* ``xpos_left``, ``ypos_left`` (``eyegaze``, pixels on a 1920 x 1080 screen,
  45 px per degree) and ``pupil_left`` (``pupil``, diameter stored in metres,
  SI, as :func:`mne.preprocessing.eyetracking.set_channel_types_eyetrack`
  stores millimetres), with the channel ``loc`` conventions of
  :func:`mne.io.read_raw_eyelink`. Blink periods are already linearly
  interpolated (as :func:`mne.preprocessing.eyetracking.interpolate_blinks`
  would), so there are no NaN;
* ``ECG`` (V), ``GSR`` (skin conductance, S), ``RESP`` (belt, V),
  ``TEMP`` (degC).

Annotations: one spanning the trial whose description is the trial's event
name (with ``valence``/``arousal`` in its ``extras``), plus, when eye channels
are present, ``fixation``, ``saccade`` and ``BAD_blink`` annotations tied to
the eye channels, as :func:`mne.io.read_raw_eyelink` writes them.

Feature level
-------------
Per window of ``window`` seconds (rows aligned across modalities):

* ``"eeg"``, shape ``(n_windows, 62, 5)``: the DE, ``0.5 log(2 pi e s^2)``,
  that the raw EEG expressed in microvolts would have in each band, where
  ``s^2`` is the model's band power averaged over the window (background x
  emotion and nuisance modulations x gains, plus the power of the blink, EOG
  and line-noise artefacts falling in the window), plus the estimation noise
  of a variance measured from ``2 x bandwidth x window`` degrees of freedom.
  No smoothing (moving average or LDS) is applied;
* ``"eye"``, shape ``(n_windows, 33)``: the SEED-V feature groups
  (:data:`EYE_FEATURE_NAMES`): pupil diameter along X and Y (mean, s.d., DE in
  0-0.2, 0.2-0.4, 0.4-0.6, 0.6-1 Hz), fixation dispersion, fixation, blink and
  saccade statistics, computed from the same fixation/saccade/blink events and
  pupil trajectory as the raw level (empty event groups give 0);
* ``"pps"``, shape ``(n_windows, 10)``: heart rate, skin conductance,
  respiration and temperature statistics (:data:`PPS_FEATURE_NAMES`).

Determinism: every random draw comes from a generator seeded by
``SeedSequence(random_state, spawn_key=(stream, subject, session, trial))``,
so a subject's data do not depend on which other subjects are loaded, and the
signals of one modality do not depend on which other modalities are kept.
"""

from __future__ import annotations

import functools
import inspect
import numbers

import numpy as np
from scipy import fft as sp_fft
from scipy.signal import fftconvolve, lfilter

from ..utils._checks import check_float, check_int, check_option, check_random_state_seed
from ._montage import SEED_CHANNELS, make_seed_montage
from .base import BaseEmotionDataset, FeatureRun

#: SEED / SEED-IV / SEED-V 62-channel montage (:data:`mne_m2s.datasets._montage.SEED_CHANNELS`).
SEED_CH_NAMES = list(SEED_CHANNELS)

#: Frequency bands (Hz) of the EEG features, in the order of the band axis.
BANDS = {
    "delta": (1.0, 4.0),
    "theta": (4.0, 8.0),
    "alpha": (8.0, 14.0),
    "beta": (14.0, 31.0),
    "gamma": (31.0, 50.0),
}

#: Label maps by number of classes (SEED for 3, SEED-IV for 4, SEED-V for 5).
CLASS_SETS = {
    2: {"negative": -1, "positive": 1},
    3: {"negative": -1, "neutral": 0, "positive": 1},
    4: {"neutral": 0, "sad": 1, "fear": 2, "happy": 3},
    5: {"disgust": 0, "fear": 1, "sad": 2, "neutral": 3, "happy": 4},
}

#: Class centres (valence, arousal) of the latent emotion model.
AFFECT = {
    "negative": (-0.9, 0.5),
    "neutral": (0.0, -0.7),
    "positive": (0.9, 0.3),
    "sad": (-0.7, -0.6),
    "fear": (-0.6, 0.9),
    "happy": (0.9, 0.5),
    "disgust": (-1.0, 0.2),
}

_DIFFICULTY = {"easy": 0.5, "medium": 1.0, "hard": 2.0}
_MODALITIES = ("eeg", "eye", "pps")
EYE_CH_NAMES = ("xpos_left", "ypos_left", "pupil_left")
PPS_CH_NAMES = ("ECG", "GSR", "RESP", "TEMP")
_PPS_CH_TYPES = ("ecg", "gsr", "resp", "temperature")

_PUPIL_BANDS = ((0.0, 0.2), (0.2, 0.4), (0.4, 0.6), (0.6, 1.0))
#: Names of the 33 eye-movement features (SEED-V feature groups, in this order).
EYE_FEATURE_NAMES = (
    [f"pupil_{ax}_{s}" for s in ("mean", "std") for ax in ("x", "y")]
    + [f"pupil_{ax}_de_{lo:g}-{hi:g}Hz" for ax in ("x", "y") for lo, hi in _PUPIL_BANDS]
    + [f"dispersion_{ax}_{s}" for ax in ("x", "y") for s in ("mean", "std")]
    + ["fixation_duration_mean", "fixation_duration_std"]
    + ["blink_duration_mean", "blink_duration_std"]
    + ["saccade_duration_mean", "saccade_duration_std"]
    + ["saccade_amplitude_mean", "saccade_amplitude_std"]
    + [
        "blink_frequency",
        "fixation_frequency",
        "fixation_duration_max",
        "fixation_dispersion_total",
        "fixation_dispersion_max",
        "saccade_frequency",
        "saccade_duration_average",
        "saccade_amplitude_average",
        "saccade_latency_average",  # mean interval between saccade onsets (ms)
    ]
)
#: Names of the 10 peripheral features.
PPS_FEATURE_NAMES = [
    "hr_mean",
    "hr_std",
    "scl_mean",
    "scl_slope",
    "scr_count",
    "scr_amplitude",
    "resp_rate",
    "resp_amplitude",
    "temp_mean",
    "temp_slope",
]

_CTRL_FS = 10.0  # rate (Hz) of the latent and slow trajectories shared by both levels
_SCREEN = np.array([1920.0, 1080.0])
_PX_PER_DEG = 45.0
_HAS_EXTRAS = "extras" in inspect.signature(__import__("mne").Annotations).parameters

# random streams (first element of every spawn key)
_S_ORDER, _S_CLIP, _S_SUBJECT, _S_SESSION, _S_STATE, _S_RAW, _S_FEAT = range(7)


@functools.lru_cache(maxsize=1)
def _eeg_geometry():
    """Electrode positions (m) and the fixed scalp maps of the model."""
    ch_pos = make_seed_montage().get_positions()["ch_pos"]
    pos = np.array([ch_pos[c] for c in SEED_CH_NAMES])
    idx = {c.upper(): i for i, c in enumerate(SEED_CH_NAMES)}

    def near(*names, width):
        d = np.min([np.linalg.norm(pos - pos[idx[n]], axis=1) for n in names], axis=0)
        return np.exp(-(d**2) / (2 * width**2))

    x = pos[:, 0] - pos[idx["CZ"], 0]
    maps = {
        "temporal": near("T7", "T8", width=0.035),
        "frontal": near("F3", "F4", width=0.035),
        "hemi": np.tanh(x / 0.015),
        "posterior": near("POZ", width=0.045),
        "prefrontal": near("FPZ", width=0.04),
        "lateral_frontal": near("F7", "F8", width=0.03) * np.sign(x),
    }
    eyes = pos[idx["FPZ"]] + np.array([0.0, 0.02, -0.03])
    blink = np.exp(-np.linalg.norm(pos - eyes, axis=1) / 0.03)
    maps["blink"] = blink / blink[[idx["FP1"], idx["FP2"]]].mean()
    # volume conduction: unit-variance mixing with exponentially decaying correlation
    d = np.linalg.norm(pos[:, None] - pos[None], axis=-1)
    mixing = np.linalg.cholesky(np.exp(-d / 0.03) + 1e-9 * np.eye(len(pos)))
    return maps, mixing


def _effect_maps():
    """Valence and arousal effect maps, shape (2, n_bands, n_chans), log-power per unit."""
    maps, _ = _eeg_geometry()
    w = np.zeros((2, len(BANDS), len(SEED_CH_NAMES)))
    tmp, fr, po, pf = maps["temporal"], maps["frontal"], maps["posterior"], maps["prefrontal"]
    w[0, 3] = 0.35 * tmp  # valence -> beta, lateral temporal
    w[0, 4] = 0.5 * tmp - 0.2 * pf  # valence -> gamma temporal; negative -> prefrontal gamma
    w[0, 2] = 0.3 * fr * maps["hemi"]  # frontal alpha asymmetry
    w[0, 0] = -0.2 * po  # negative -> parietal/occipital delta
    w[1, 2] = -0.4 * po  # arousal -> posterior alpha desynchronisation
    w[1, 3] = 0.1  # arousal -> broad beta
    return w


# --------------------------------------------------------------------------- helpers
def _ar1(rng, shape, n, tau, fs, sd):
    """Stationary AR(1) (discretised Ornstein-Uhlenbeck) paths along the last axis."""
    rho = np.exp(-1.0 / (tau * fs))
    shape = (int(shape),) if np.ndim(shape) == 0 else tuple(int(s) for s in shape)
    x0 = rng.standard_normal(shape) * sd
    e = rng.standard_normal(shape + (n,)) * (sd * np.sqrt(1.0 - rho**2))
    y, _ = lfilter([1.0], [1.0, -rho], e, axis=-1, zi=(rho * x0)[..., None])
    return y


def _lowpass(x, tau, fs):
    """First-order low-pass along the last axis, starting at the first value."""
    a = np.exp(-1.0 / (tau * fs))
    y, _ = lfilter([1 - a], [1.0, -a], x - x[..., :1], axis=-1, zi=np.zeros(x.shape[:-1] + (1,)))
    return y + x[..., :1]


def _interp_rows(y, n, fs):
    """Linearly resample rows sampled at ``_CTRL_FS`` onto ``n`` samples at ``fs``.

    ``y`` has shape (..., n_ctrl); the result has shape (..., n) and ``y``'s dtype.
    """
    ratio = fs / _CTRL_FS
    if abs(ratio - round(ratio)) < 1e-9:  # integer ratio: one broadcast operation
        r = int(round(ratio))
        m = -(-n // r)
        pad = max(m + 1 - y.shape[-1], 0)
        yp = np.concatenate([y] + [y[..., -1:]] * pad, axis=-1) if pad else y
        frac = (np.arange(r) / r).astype(y.dtype)
        seg = yp[..., :m, None] + np.diff(yp[..., : m + 1], axis=-1)[..., None] * frac
        return seg.reshape(y.shape[:-1] + (m * r,))[..., :n]
    t_ctrl = np.arange(y.shape[-1]) / _CTRL_FS
    t_new = np.arange(n) / fs
    flat = y.reshape(-1, y.shape[-1])
    out = np.empty((flat.shape[0], n), dtype=y.dtype)
    for row, dest in zip(flat, out, strict=True):  # loop over rows, vectorised over time
        dest[:] = np.interp(t_new, t_ctrl, row)
    return out.reshape(y.shape[:-1] + (n,))


def _warp_times(rate, intrinsic, t):
    """Times at which the integral of ``rate`` (sampled at ``t``) reaches ``intrinsic``."""
    cum = np.concatenate([[0.0], np.cumsum(0.5 * (rate[1:] + rate[:-1]) * np.diff(t))])
    keep = intrinsic < cum[-1]
    return np.interp(intrinsic[keep], cum, t)


def _window_stats(x, t, edges):
    """Mean and variance over windows of a piecewise-linear signal sampled at ``t``.

    ``x`` has shape (..., n_t); returns two arrays of shape (..., n_windows).
    """
    dt = np.diff(t)

    def integral(y):
        cum = np.concatenate(
            [np.zeros(y.shape[:-1] + (1,)), np.cumsum(0.5 * (y[..., 1:] + y[..., :-1]) * dt, -1)],
            axis=-1,
        )
        flat = cum.reshape(-1, cum.shape[-1])
        at = np.stack([np.interp(edges, t, row) for row in flat]).reshape(y.shape[:-1] + (-1,))
        return np.diff(at, axis=-1) / np.diff(edges)

    mean = integral(x)
    var = np.maximum(integral(x * x) - mean**2, 0.0)
    return mean, var


def _group_stats(values, groups, n_groups):
    """Count, mean, s.d. and max of ``values`` per group (0 for empty groups)."""
    count = np.bincount(groups, minlength=n_groups).astype(float)
    total = np.bincount(groups, values, minlength=n_groups)
    sq = np.bincount(groups, values**2, minlength=n_groups)
    safe = np.maximum(count, 1.0)
    mean = total / safe
    std = np.sqrt(np.maximum(sq / safe - mean**2, 0.0))
    vmax = np.zeros(n_groups)
    np.maximum.at(vmax, groups, values)
    return count, mean, std, vmax


def _band_split(x, fs, bands):
    """Split ``x`` (..., n) into FFT band-limited components, shape (n_bands, ..., n)."""
    n = x.shape[-1]
    spec = np.fft.rfft(x - x.mean(axis=-1, keepdims=True), axis=-1)
    f = np.fft.rfftfreq(n, 1.0 / fs)
    return np.stack([np.fft.irfft(spec * ((f >= lo) & (f < hi)), n, axis=-1) for lo, hi in bands])


def _de(var):
    return 0.5 * np.log(2 * np.pi * np.e * np.maximum(var, 1e-12))


_ECG_WAVES = np.array(  # amplitude (mV), centre and width (fraction of a beat): P Q R S T
    [[0.15, 0.2, 0.025], [-0.12, 0.37, 0.008], [1.1, 0.4, 0.01], [-0.25, 0.425, 0.01],
     [0.3, 0.65, 0.04]]
)  # fmt: skip


# --------------------------------------------------------------------------- dataset
class SyntheticEmotion(BaseEmotionDataset):
    """Seeded synthetic emotion dataset (EEG, eye tracking, peripheral signals).

    The embedded default dataset: same interface as SEED, SEED-IV, SEED-V,
    DEAP and DREAMER, no files, deterministic for a given ``random_state``.
    The generative model is described in :mod:`mne_m2s.datasets.synthetic`.

    Parameters
    ----------
    n_subjects : int
        Number of subjects (``subject_list`` is ``1 .. n_subjects``).
    n_sessions : int
        Sessions per subject (named ``"1"``, ``"2"`` ...).
    n_trials : int
        Trials (film clips) per session, balanced across classes.
    n_classes : int
        2 to 5. Event names follow SEED for 3 classes
        (``negative``/``neutral``/``positive`` = -1/0/1), SEED-IV for 4 and
        SEED-V for 5; 2 classes are ``negative``/``positive`` (-1/1).
    trial_duration : float | tuple of float
        Clip duration in seconds, or a ``(low, high)`` range from which each
        clip's duration is drawn (whole seconds, the same for all subjects).
    modalities : tuple of str
        Subset of ``("eeg", "eye", "pps")``.
    difficulty : float | str
        Divides every emotion effect (the nuisances are unchanged):
        ``"easy"`` (0.5), ``"medium"`` (1.0) or ``"hard"`` (2.0), or any
        positive number.
    level : str
        ``"raw"`` (signals) or ``"features"`` (per-window features).
    window : float
        Window length in seconds of the feature level (ignored at the raw
        level).
    sfreq : float
        Sampling rate in Hz of every channel at the raw level (>= 100).
    random_state : int | None
        Seed. ``None`` draws one at construction.

    Attributes
    ----------
    event_id : dict of str -> int
        Label map, e.g. ``{"negative": -1, "neutral": 0, "positive": 1}``.
    modalities : dict of str -> float
        Modality -> sampling rate (``1 / window`` at the feature level).
    feature_window : float
        The ``window`` argument (``window`` itself is ``None`` at the raw
        level, as for the other signal-level datasets).

    Examples
    --------
    >>> ds = SyntheticEmotion(n_subjects=2, n_trials=6, trial_duration=10.0)
    >>> raw = ds.get_data([1])[1]["1"]["1"]  # subject 1, session 1, trial 1
    """

    def __init__(
        self,
        n_subjects=3,
        n_sessions=1,
        n_trials=15,
        n_classes=3,
        trial_duration=60.0,
        modalities=("eeg", "eye", "pps"),
        difficulty="medium",
        level="raw",
        window=1.0,
        sfreq=200.0,
        random_state=0,
    ):
        n_subjects = check_int("n_subjects", n_subjects, 1)
        n_sessions = check_int("n_sessions", n_sessions, 1)
        n_trials = check_int("n_trials", n_trials, 1)
        n_classes = check_int("n_classes", n_classes)
        check_option("n_classes", n_classes, tuple(CLASS_SETS))
        check_option("level", level, ("raw", "features"))
        window = check_float("window", window, 0.0, inclusive=False)
        sfreq = check_float("sfreq", sfreq, 100.0)
        if isinstance(modalities, str):
            modalities = (modalities,)
        modalities = tuple(modalities)
        if not modalities:
            raise ValueError(f"modalities must name at least one of {_MODALITIES}, got ().")
        for m in modalities:
            check_option("modalities", m, _MODALITIES)
        if len(set(modalities)) != len(modalities):
            raise ValueError(f"modalities has duplicates: {modalities}.")
        self._durations_range = self._check_duration(trial_duration, level, window)
        self._effect = 1.0 / self._check_difficulty(difficulty)

        self.n_subjects = n_subjects
        self.n_trials = n_trials
        self.n_classes = n_classes
        self.trial_duration = trial_duration
        self.difficulty = difficulty
        self.sfreq = sfreq
        self.random_state = random_state
        self._seed = check_random_state_seed(random_state)
        self._modality_order = tuple(m for m in _MODALITIES if m in modalities)
        rate = 1.0 / window if level == "features" else sfreq
        super().__init__(
            code="SyntheticEmotion",
            subject_list=range(1, n_subjects + 1),
            sessions_per_subject=n_sessions,
            event_id=CLASS_SETS[n_classes],
            modalities={m: rate for m in self._modality_order},
            level=level,
            levels=("raw", "features"),
            doi="10.1609/aaai.v39i2.32134",
            licence_url="https://opensource.org/license/bsd-3-clause",
            folder_name="SyntheticEmotion",
            trials_per_session=n_trials,
            window=window if level == "features" else None,
        )
        self.feature_window = window

    # ------------------------------------------------------------ validation
    @staticmethod
    def _check_duration(trial_duration, level, window):
        if isinstance(trial_duration, numbers.Real) and not isinstance(trial_duration, bool):
            low = high = check_float("trial_duration", trial_duration, 0.0, inclusive=False)
        elif isinstance(trial_duration, (tuple, list)) and len(trial_duration) == 2:
            low = check_float("trial_duration[0]", trial_duration[0], 0.0, inclusive=False)
            high = check_float("trial_duration[1]", trial_duration[1], low)
        else:
            raise TypeError(
                "trial_duration must be a positive float or a (low, high) tuple of floats, "
                f"got {trial_duration!r}."
            )
        shortest = window if level == "features" else 1.0
        if low < shortest:
            raise ValueError(
                f"trial_duration must be at least {shortest} s "
                f"({'one window' if level == 'features' else 'one second'}), got {low}."
            )
        return low, high

    @staticmethod
    def _check_difficulty(difficulty):
        if isinstance(difficulty, str):
            return _DIFFICULTY[check_option("difficulty", difficulty, tuple(_DIFFICULTY))]
        return check_float("difficulty", difficulty, 0.0, inclusive=False)

    def _check_layout(self):
        """Nothing to check: the data are generated, there are no files."""

    def check_files(self):
        """Return ``(True, message)``: synthetic data need no files."""
        return True, "generated on the fly (no files)"

    def _subject_files(self, subject):
        """No files: the data are generated."""
        return []

    # ------------------------------------------------------------ random streams
    def _rng(self, *key):
        seq = np.random.SeedSequence(self._seed, spawn_key=tuple(int(k) for k in key))
        return np.random.default_rng(seq)

    def _session_labels(self, session):
        """Class names of the trials of a session (same for all subjects)."""
        rng = self._rng(_S_ORDER, session)
        names = list(self.event_id)
        k = len(names)
        n_blocks = -(-self.n_trials // k)
        order = np.concatenate([rng.permutation(k) for _ in range(n_blocks)])[: self.n_trials]
        return [names[i] for i in order]

    def _clip(self, session, trial):
        """Stimulus properties shared by all subjects: duration, offsets, luminance."""
        rng = self._rng(_S_CLIP, session, trial)
        low, high = self._durations_range
        duration = low if high == low else float(np.round(rng.uniform(low, high)))
        duration = min(max(duration, low), high)
        offset = rng.normal(0.0, 0.15, 2)
        t = np.arange(int(np.ceil(duration * _CTRL_FS)) + 1) / _CTRL_FS
        n_cuts = rng.poisson(0.25 * duration) + 1
        cuts = np.sort(rng.uniform(0.0, duration, n_cuts))
        levels = rng.uniform(0.2, 0.8, n_cuts + 1)
        lum = _lowpass(levels[np.searchsorted(cuts, t)], 0.3, _CTRL_FS)
        return {"duration": duration, "offset": offset, "luminance": lum, "t": t}

    def _subject_params(self, subject):
        rng = self._rng(_S_SUBJECT, subject)
        n_ch = len(SEED_CH_NAMES)
        return {
            "reactivity": np.exp(rng.normal(0.0, 0.2)),
            "arousal_bias": rng.normal(0.0, 0.15),
            "chi": rng.uniform(0.9, 1.6),
            "alpha_freq": np.clip(rng.normal(10.0, 0.7), 8.5, 12.0),
            "alpha_amp": np.exp(rng.normal(0.0, 0.3)),
            "eeg_scale": np.exp(rng.normal(0.0, 0.25)),
            "chan_gain": np.exp(rng.normal(0.0, 0.2, n_ch)),
            "band_offset": rng.normal(0.0, 0.2, len(BANDS)),
            "topo_jitter": 1.0 + rng.normal(0.0, 0.25, (2, len(BANDS), n_ch)),
            "blink_amp": rng.uniform(100.0, 200.0),
            "emg_level": np.exp(rng.normal(0.0, 0.5)),
            "pupil_base": np.clip(rng.normal(3.6, 0.5), 2.2, 5.5),
            "pupil_lum_gain": rng.uniform(0.8, 1.6),
            "fix_dur": rng.uniform(0.22, 0.34),
            "sacc_amp": rng.uniform(3.0, 6.0),
            "blink_rate": rng.uniform(0.15, 0.4),
            "hr": rng.normal(72.0, 8.0),
            "scl": np.exp(rng.normal(np.log(5.0), 0.4)),
            "scr_amp": rng.uniform(0.1, 0.5),
            "resp_rate": rng.normal(0.26, 0.03),
            "resp_amp": np.exp(rng.normal(0.0, 0.2)),
            "temp": rng.normal(33.0, 0.8),
            "ecg_gain": np.exp(rng.normal(0.0, 0.2)),
        }

    def _session_params(self, subject, session):
        rng = self._rng(_S_SESSION, subject, session)
        n_ch = len(SEED_CH_NAMES)
        line = np.exp(rng.normal(np.log(1.5), 0.8, n_ch))
        line[rng.choice(n_ch, 2, replace=False)] *= 5.0  # a couple of noisy electrodes
        return {
            "gain": np.exp(rng.normal(0.0, 0.2)) * np.exp(rng.normal(0.0, 0.12, n_ch)),
            "band_offset": rng.normal(0.0, 0.12, len(BANDS)),
            "line_amp": line,
            "fatigue": rng.uniform(0.0, 0.04),
            "pupil_offset": rng.normal(0.0, 0.25),
            "gaze_offset": rng.normal(0.0, 25.0, 2),
            "sc_offset": rng.normal(0.0, 1.0),
            "hr_offset": rng.normal(0.0, 3.0),
            "temp_offset": rng.normal(0.0, 0.5),
        }

    # ------------------------------------------------------------ latent state
    def _trial_state(self, subject, session, trial, label, subj, sess, clip):
        """Everything shared by the raw and the feature level of one trial."""
        rng = self._rng(_S_STATE, subject, session, trial)
        eff = self._effect
        t = clip["t"]
        n = len(t)
        n_ch, n_b = len(SEED_CH_NAMES), len(BANDS)
        # latent valence/arousal: OU around the class centre
        centre = subj["reactivity"] * np.asarray(AFFECT[label]) + clip["offset"]
        centre[1] += subj["arousal_bias"]
        tau, sd = 6.0, 0.3
        rho = np.exp(-1.0 / (tau * _CTRL_FS))
        e = rng.standard_normal((2, n)) * sd * np.sqrt(1 - rho**2)
        x0 = -0.7 * centre + rng.normal(0.0, sd, 2)
        dev, _ = lfilter([1.0], [1.0, -rho], e, axis=-1, zi=(rho * x0)[:, None])
        z = centre[:, None] + dev
        v, a = z
        # EEG log-power modulation (bands, chans, time), static offsets excluded
        w = _effect_maps() * subj["topo_jitter"]
        logpow = eff * (w[0][..., None] * v + w[1][..., None] * a)
        logpow += _ar1(rng, n_b, n, 2.0, _CTRL_FS, 0.25)[:, None, :]
        logpow += _ar1(rng, (n_b, n_ch), n, 2.0, _CTRL_FS, 0.15)
        trial_off = rng.normal(0.0, 0.2, n_b)
        trial_off[1:3] += sess["fatigue"] * (trial - 1)  # theta, alpha rise over the session
        logpow += (subj["band_offset"] + sess["band_offset"] + trial_off)[:, None, None]
        maps, _ = _eeg_geometry()
        emg = subj["emg_level"] * np.exp(rng.normal(0.0, 0.5)) * (0.2 + maps["temporal"])
        # eye: fixation/saccade cycles by time warping, blinks as a Poisson process
        nuis = _ar1(rng, 3, n, 5.0, _CTRL_FS, 0.15)
        fix_mean = subj["fix_dur"] * np.exp(-0.3 * eff * a + nuis[0])
        intrinsic = np.cumsum(rng.gamma(4.0, 0.25, int(n / _CTRL_FS / 0.15) + 20))
        starts = np.concatenate([[0.0], _warp_times(1.0 / (fix_mean + 0.045), intrinsic, t)])
        # the tracker reports its first fixation a little after the clip onset, so the
        # trial annotation is the first annotation of the Raw (MNE sorts by onset)
        starts[0] = 0.5 * min(starts[1] if len(starts) > 1 else 0.05, 0.05)
        k = len(starts)
        amp_mean = subj["sacc_amp"] * np.exp(0.3 * eff * np.interp(starts, t, v) + nuis[1].mean())
        step = amp_mean * rng.gamma(2.0, 0.5, k)
        theta = rng.uniform(0.0, 2 * np.pi, k)
        lim = np.array([16.0, 9.0])
        raw_pos = np.cumsum(np.stack([step * np.cos(theta), 0.6 * step * np.sin(theta)]), 1)
        raw_pos += rng.uniform(-4.0, 4.0, (2, 1))
        pos = np.abs(np.mod(raw_pos - lim[:, None], 4 * lim[:, None]) - 2 * lim[:, None])
        pos -= lim[:, None]
        ends = np.append(starts[1:], clip["duration"])
        sacc_amp = np.hypot(*np.diff(pos, axis=1))
        sacc_dur = np.minimum(0.021 + 0.0022 * sacc_amp, 0.5 * (ends[:-1] - starts[:-1]))
        sacc_dur = np.append(sacc_dur, 0.0)
        disp = 0.15 * np.sqrt((ends - starts - sacc_dur) / 0.3) * rng.gamma(4.0, 0.25, (2, k))
        blink_rate = subj["blink_rate"] * np.exp(-0.5 * eff * a + nuis[2])
        b_on = _warp_times(blink_rate, np.cumsum(rng.exponential(1.0, int(n / 2) + 10)), t)
        b_dur = np.clip(rng.lognormal(np.log(0.14), 0.3, len(b_on)), 0.06, 0.5)
        ok = b_on + b_dur < clip["duration"]
        ok[1:] &= b_on[1:] > (b_on + b_dur)[:-1] + 0.1
        b_on, b_dur = b_on[ok], b_dur[ok]
        b_amp = subj["blink_amp"] * rng.lognormal(0.0, 0.2, len(b_on))
        # pupil (mm): baseline + light reflex + arousal + hippus
        lum = _lowpass(clip["luminance"], 0.4, _CTRL_FS)
        pupil = (
            subj["pupil_base"]
            + sess["pupil_offset"]
            - subj["pupil_lum_gain"] * (lum - 0.5)
            + 0.4 * eff * _lowpass(a, 1.0, _CTRL_FS)
            + _ar1(rng, 1, n, 1.0, _CTRL_FS, 0.12)[0]
        )
        # peripheral
        p_nuis = _ar1(rng, 4, n, 10.0, _CTRL_FS, 1.0)
        resp_rate = np.clip(subj["resp_rate"] + 0.03 * eff * a + 0.02 * p_nuis[0], 0.1, 0.6)
        resp_phase = rng.uniform() + np.cumsum(resp_rate) / _CTRL_FS
        resp_amp = subj["resp_amp"] * np.exp(0.15 * p_nuis[1])
        hr = (
            subj["hr"]
            + sess["hr_offset"]
            + 5.0 * eff * a
            + 2.5 * p_nuis[2]
            + 3.0 * np.sin(2 * np.pi * resp_phase)
        )
        scr_rate = 0.05 * np.exp(0.8 * eff * a)
        n_scr = int(clip["duration"] * 0.5) + 20
        scr_on = _warp_times(scr_rate, np.cumsum(rng.exponential(1.0, n_scr)), t)
        scr_amp = subj["scr_amp"] * np.exp(0.3 * eff * np.interp(scr_on, t, a))
        scr_amp *= rng.exponential(1.0, len(scr_on))
        kt = np.arange(0.0, 20.0, 1.0 / _CTRL_FS)
        kernel = np.exp(-kt / 2.0) - np.exp(-kt / 0.75)
        impulses = np.zeros(n)
        np.add.at(impulses, np.minimum(np.round((scr_on + 2.0) * _CTRL_FS).astype(int), n - 1),
                  scr_amp)  # fmt: skip
        sc = (
            max(subj["scl"] + sess["sc_offset"], 0.5)
            + 0.4 * eff * _lowpass(a, 10.0, _CTRL_FS)
            + 0.3 * np.cumsum(p_nuis[3]) / np.sqrt(n)
            + fftconvolve(impulses, kernel / kernel.max())[:n]
        )
        temp = (
            subj["temp"]
            + sess["temp_offset"]
            - 0.15 * eff * _lowpass(a, 20.0, _CTRL_FS)
            + 0.1 * _ar1(rng, 1, n, 30.0, _CTRL_FS, 1.0)[0]
        )
        return {
            "label": label,
            "duration": clip["duration"],
            "t": t,
            "z": z,
            "logpow": logpow,
            "emg": emg,
            "fix": {"start": starts, "end": ends, "pos": pos, "disp": disp},
            "sacc": {"amp": sacc_amp, "dur": sacc_dur},
            "blink": {"onset": b_on, "dur": b_dur, "amp": b_amp},
            "pupil": pupil,
            "hr": hr,
            "sc": sc,
            "scr": {"onset": scr_on, "amp": scr_amp},
            "resp": {"rate": resp_rate, "phase": resp_phase, "amp": resp_amp},
            "temp": temp,
            "valence": float(v.mean()),
            "arousal": float(a.mean()),
        }

    def _eeg_spectrum(self, subj, emg, f):
        """One-sided PSD (uV^2/Hz) of the EEG background, shape (n_chans, n_freqs)."""
        maps, _ = _eeg_geometry()
        fc = np.maximum(f, 0.5)
        alpha = np.exp(-((f - subj["alpha_freq"]) ** 2) / (2 * 1.2**2))
        post = 0.3 + maps["posterior"]
        psd = fc ** (-subj["chi"]) + 0.15 * subj["alpha_amp"] * post[:, None] * alpha
        psd = 50.0 * subj["eeg_scale"] * psd
        return psd + emg[:, None] * 0.2 / (1.0 + (20.0 / np.maximum(f, 1e-3)) ** 4)

    # ------------------------------------------------------------ rendering: raw
    @staticmethod
    def _gaze(state, times):
        """Gaze in degrees (2, n_times) at ``times``, saccades as smooth steps."""
        fix, sacc = state["fix"], state["sacc"]
        last = len(fix["start"]) - 1
        k = np.clip(np.searchsorted(fix["start"], times, side="right") - 1, 0, last)
        s_on = fix["end"][k] - sacc["dur"][k]
        phase = np.clip((times - s_on) / np.maximum(sacc["dur"][k], 1e-9), 0.0, 1.0)
        phase = np.where(sacc["dur"][k] > 0, phase, 0.0)
        smooth = 0.5 - 0.5 * np.cos(np.pi * phase)
        nxt = np.minimum(k + 1, last)
        return fix["pos"][:, k] + (fix["pos"][:, nxt] - fix["pos"][:, k]) * smooth

    @staticmethod
    def _blink_mask(state, times):
        on, dur = state["blink"]["onset"], state["blink"]["dur"]
        if not len(on):
            return np.zeros(len(times), bool)
        i = np.searchsorted(on, times, side="right") - 1
        return (i >= 0) & (times < (on + dur)[np.maximum(i, 0)])

    def _render_raw(self, subject, session, trial, state, subj, sess):
        import mne

        fs = self.sfreq
        n = int(round(state["duration"] * fs))
        times = np.arange(n) / fs
        gaze = self._gaze(state, times)
        blinks = self._blink_mask(state, times)
        parts = []
        if "eeg" in self._modality_order:
            parts.append(self._render_eeg(subject, session, trial, state, subj, sess, gaze, n))
        if "eye" in self._modality_order:
            rng = self._rng(_S_RAW, subject, session, trial, 1)
            drift = np.cumsum(rng.standard_normal((2, n)), axis=1) * (0.02 / np.sqrt(fs))
            drift -= _lowpass(drift, 0.3, fs)
            g = gaze + drift + rng.normal(0.0, 0.03, (2, n))
            px = _SCREEN[:, None] / 2 + sess["gaze_offset"][:, None] + _PX_PER_DEG * g
            px[1] = _SCREEN[1] - px[1]  # screen y grows downwards
            pupil = _interp_rows(state["pupil"], n, fs) + rng.normal(0.0, 0.005, n)
            eye = np.vstack([px, pupil * 1e-3])
            if blinks.any() and (~blinks).any():
                for row in eye:
                    row[blinks] = np.interp(times[blinks], times[~blinks], row[~blinks])
            parts.append(eye)
        if "pps" in self._modality_order:
            parts.append(self._render_pps(subject, session, trial, state, subj, n))
        info = _raw_info(self._modality_order, fs)
        raw = mne.io.RawArray(np.vstack(parts), info, verbose=False)
        raw.set_annotations(self._annotations(state))
        return raw

    def _render_eeg(self, subject, session, trial, state, subj, sess, gaze, n):
        fs = self.sfreq
        rng = self._rng(_S_RAW, subject, session, trial, 0)
        maps, mixing = _eeg_geometry()
        n_ch = len(SEED_CH_NAMES)
        f = np.fft.rfftfreq(n, 1.0 / fs)
        # coloured, spatially correlated background, split into the five bands + the rest
        # (float32 halves the cost; the result is converted to float64 volts at the end)
        amp = np.sqrt(self._eeg_spectrum(subj, state["emg"], f) * fs / 2.0).astype(np.float32)
        white = rng.standard_normal((n_ch, n), dtype=np.float32)
        spec = sp_fft.rfft(mixing.astype(np.float32) @ white, axis=-1) * amp
        bounds = np.searchsorted(f, [lo for lo, _ in BANDS.values()] + [BANDS["gamma"][1]])
        split = np.zeros((len(BANDS) + 1,) + spec.shape, spec.dtype)
        for b in range(len(BANDS)):
            split[b, :, bounds[b] : bounds[b + 1]] = spec[:, bounds[b] : bounds[b + 1]]
        split[-1, :, : bounds[0]] = spec[:, : bounds[0]]
        split[-1, :, bounds[-1] :] = spec[:, bounds[-1] :]
        comps = sp_fft.irfft(split, n, axis=-1)
        del split, spec, white
        # emotion + nuisance modulation of the band powers (slow envelopes)
        gains = _interp_rows(np.exp(0.5 * state["logpow"]).astype(np.float32), n, fs)
        eeg = comps[-1]
        for b in range(len(BANDS)):
            eeg += comps[b] * gains[b]
        eeg = eeg.astype(np.float64)
        # slow drift, blinks, EOG
        drift = _ar1(rng, n_ch, int(np.ceil(n / fs * _CTRL_FS)) + 1, 20.0, _CTRL_FS, 10.0)
        eeg += _interp_rows(drift, n, fs)
        bl = state["blink"]
        impulses = np.zeros(n)
        np.add.at(impulses, np.minimum((bl["onset"] * fs).astype(int), n - 1), bl["amp"])
        eeg += np.outer(maps["blink"], fftconvolve(impulses, _blink_kernel(fs))[:n])
        eeg += np.outer(4.0 * maps["lateral_frontal"], gaze[0])
        eeg += np.outer(3.0 * maps["blink"], gaze[1])
        eeg *= (sess["gain"] * subj["chan_gain"])[:, None]
        line_phase = rng.uniform(0.0, 2 * np.pi, n_ch)
        if fs / 2 > 50.0:  # 50 Hz mains: A sin(wt + phi) = A cos(phi) sin(wt) + A sin(phi) cos(wt)
            wt = 2 * np.pi * 50.0 * np.arange(n) / fs
            eeg += np.outer(sess["line_amp"] * np.cos(line_phase), np.sin(wt))
            eeg += np.outer(sess["line_amp"] * np.sin(line_phase), np.cos(wt))
        return eeg * 1e-6

    def _render_pps(self, subject, session, trial, state, subj, n):
        fs = self.sfreq
        rng = self._rng(_S_RAW, subject, session, trial, 2)
        hr = _interp_rows(state["hr"], n, fs)
        beat = rng.uniform() + np.cumsum(hr / 60.0) / fs
        frac = np.mod(beat, 1.0)
        ecg = np.zeros(n)
        for a_i, mu, width in _ECG_WAVES:
            d = np.mod(frac - mu + 0.5, 1.0) - 0.5
            ecg += a_i * np.exp(-(d**2) / (2 * width**2))
        resp_phase = _interp_rows(state["resp"]["phase"], n, fs)
        resp_amp = _interp_rows(state["resp"]["amp"], n, fs)
        ecg = subj["ecg_gain"] * ecg + 0.05 * np.sin(2 * np.pi * resp_phase)
        ecg += rng.normal(0.0, 0.02, n) + 0.01 * np.sin(2 * np.pi * 50.0 * np.arange(n) / fs)
        resp = resp_amp * (np.sin(2 * np.pi * resp_phase) + 0.2 * np.sin(4 * np.pi * resp_phase))
        resp += rng.normal(0.0, 0.02, n)
        sc = _interp_rows(state["sc"], n, fs) + rng.normal(0.0, 0.005, n)
        temp = _interp_rows(state["temp"], n, fs) + rng.normal(0.0, 0.005, n)
        return np.vstack([ecg * 1e-3, sc * 1e-6, resp, temp])

    def _annotations(self, state):
        import mne

        onset, duration, desc, chans = [0.0], [state["duration"]], [state["label"]], [()]
        if "eye" in self._modality_order:
            fix, sacc, bl = state["fix"], state["sacc"], state["blink"]
            fix_dur = fix["end"] - fix["start"] - sacc["dur"]
            s_on = (fix["end"] - sacc["dur"])[:-1]
            items = [
                (fix["start"], fix_dur, "fixation"),
                (s_on, sacc["dur"][:-1], "saccade"),
                (bl["onset"], bl["dur"], "BAD_blink"),
            ]
            for on, dur, name in items:
                onset.extend(on.tolist())
                duration.extend(dur.tolist())
                desc.extend([name] * len(on))
                chans.extend([EYE_CH_NAMES] * len(on))
        kwargs = {}
        if _HAS_EXTRAS:
            truth = {"valence": state["valence"], "arousal": state["arousal"]}
            kwargs["extras"] = [truth] + [{}] * (len(onset) - 1)
        order = np.argsort(onset, kind="stable")
        annot = mne.Annotations(
            np.asarray(onset)[order],
            np.asarray(duration)[order],
            np.asarray(desc, dtype=object)[order],
            ch_names=[chans[i] for i in order],
            **{k: [v[i] for i in order] for k, v in kwargs.items()},
        )
        return annot

    # ------------------------------------------------------------ rendering: features
    def _render_features(self, subject, session, trial, state, subj, sess):
        win = self.feature_window
        n_win = int(np.floor(state["duration"] / win + 1e-9))
        edges = np.arange(n_win + 1) * win
        rng = self._rng(_S_FEAT, subject, session, trial)
        t = state["t"]
        features, names = {}, {}
        if "eeg" in self._modality_order:
            features["eeg"] = self._eeg_features(state, subj, sess, edges, rng)
            names["eeg"] = [f"{ch}_{b}" for ch in SEED_CH_NAMES for b in BANDS]
        if "eye" in self._modality_order:
            features["eye"] = self._eye_features(state, edges, rng)
            names["eye"] = list(EYE_FEATURE_NAMES)
        if "pps" in self._modality_order:
            features["pps"] = self._pps_features(state, t, edges, rng)
            names["pps"] = list(PPS_FEATURE_NAMES)
        return FeatureRun(
            features=features,
            window=win,
            label=state["label"],
            feature_names=names,
            description={"valence": state["valence"], "arousal": state["arousal"]},
        )

    def _eeg_features(self, state, subj, sess, edges, rng):
        maps, _ = _eeg_geometry()
        win = np.diff(edges)[:1]
        grid = np.arange(0.025, 100.0, 0.05)
        psd = self._eeg_spectrum(subj, state["emg"], grid)
        t = state["t"]
        power_mod, _ = _window_stats(np.exp(state["logpow"]), t, edges)  # (bands, chans, win)
        gain2 = (sess["gain"] * subj["chan_gain"]) ** 2
        gaze = self._gaze(state, t)
        _, gaze_var = _window_stats(gaze, t, edges)  # (2, n_win)
        bl = state["blink"]
        w_idx = np.floor(bl["onset"] / win).astype(int)
        keep = w_idx < len(edges) - 1
        blink_e = np.bincount(w_idx[keep], bl["amp"][keep] ** 2, len(edges) - 1) / win
        blink_band = _blink_band_energy()
        var = np.empty((len(BANDS), len(SEED_CH_NAMES), len(edges) - 1))
        for b, (lo, hi) in enumerate(BANDS.values()):
            band_psd = psd[:, (grid >= lo) & (grid < hi)].sum(axis=1) * 0.05
            art = np.outer(maps["blink"] ** 2, blink_e * blink_band[b])
            if b < 2:
                frac = 0.25 if b == 0 else 0.05
                art += frac * (
                    np.outer((4.0 * maps["lateral_frontal"]) ** 2, gaze_var[0])
                    + np.outer((3.0 * maps["blink"]) ** 2, gaze_var[1])
                )
            var[b] = gain2[:, None] * (band_psd[:, None] * power_mod[b] + art)
        var[4] += 0.25 * (sess["line_amp"] ** 2)[:, None]
        bw = np.array([hi - lo for lo, hi in BANDS.values()])
        noise_sd = 0.5 * np.sqrt(2.0 / (2.0 * bw * win))
        de = _de(var) + noise_sd[:, None, None] * rng.standard_normal(var.shape)
        return np.ascontiguousarray(de.transpose(2, 1, 0))  # (windows, chans, bands)

    def _eye_features(self, state, edges, rng):
        t = state["t"]
        n_win = len(edges) - 1
        win = edges[1] - edges[0]
        fix, sacc, bl = state["fix"], state["sacc"], state["blink"]
        pupil = np.vstack([state["pupil"], 0.97 * state["pupil"]])
        pupil = pupil + rng.normal(0.0, 0.01, pupil.shape)
        p_mean, p_var = _window_stats(pupil, t, edges)
        bands = _band_split(pupil, _CTRL_FS, _PUPIL_BANDS)  # (4, 2, n_t)
        _, b_var = _window_stats(bands, t, edges)  # (4, 2, n_win)
        out = [p_mean, np.sqrt(p_var), _de(b_var).transpose(1, 0, 2).reshape(8, n_win)]

        def groups(onsets):
            idx = np.floor(onsets / win).astype(int)
            return idx, idx < n_win

        f_idx, f_ok = groups(fix["start"])
        f_dur = (fix["end"] - fix["start"] - sacc["dur"])[f_ok] * 1e3
        disp = fix["disp"][:, f_ok]
        stats_x = _group_stats(disp[0], f_idx[f_ok], n_win)
        stats_y = _group_stats(disp[1], f_idx[f_ok], n_win)
        out.append(np.vstack([stats_x[1], stats_x[2], stats_y[1], stats_y[2]]))
        n_fix, fd_mean, fd_std, fd_max = _group_stats(f_dur, f_idx[f_ok], n_win)
        b_idx, b_ok = groups(bl["onset"])
        n_blink, bd_mean, bd_std, _ = _group_stats(bl["dur"][b_ok] * 1e3, b_idx[b_ok], n_win)
        s_dur = sacc["dur"][:-1]  # saccade j leads from fixation j to fixation j + 1
        s_idx, s_ok = groups(fix["end"][:-1] - s_dur)
        s_amp = sacc["amp"][s_ok]
        s_dur = s_dur[s_ok] * 1e3
        n_sacc, sd_mean, sd_std, _ = _group_stats(s_dur, s_idx[s_ok], n_win)
        _, sa_mean, sa_std, _ = _group_stats(s_amp, s_idx[s_ok], n_win)
        disp_tot = np.hypot(*disp)
        _, _, _, disp_max = _group_stats(disp_tot, f_idx[f_ok], n_win)
        disp_sum = np.bincount(f_idx[f_ok], disp_tot, n_win)
        latency = np.where(n_sacc > 0, win / np.maximum(n_sacc, 1) * 1e3, 0.0)
        out.append(np.vstack([fd_mean, fd_std, bd_mean, bd_std, sd_mean, sd_std, sa_mean, sa_std]))
        out.append(
            np.vstack(
                [n_blink / win, n_fix / win, fd_max, disp_sum, disp_max, n_sacc / win,
                 sd_mean, sa_mean, latency]
            )  # fmt: skip
        )
        return np.ascontiguousarray(np.vstack(out).T)

    @staticmethod
    def _pps_features(state, t, edges, rng):
        n_win = len(edges) - 1
        win = edges[1] - edges[0]
        hr_mean, hr_var = _window_stats(state["hr"], t, edges)
        sc_mean, _ = _window_stats(state["sc"], t, edges)
        sc_edges = np.interp(edges, t, state["sc"])
        scr = state["scr"]
        idx = np.floor((scr["onset"] + 2.0) / win).astype(int)
        ok = idx < n_win
        scr_n = np.bincount(idx[ok], minlength=n_win).astype(float)
        scr_a = np.bincount(idx[ok], scr["amp"][ok], n_win)
        rate, _ = _window_stats(state["resp"]["rate"], t, edges)
        r_amp, _ = _window_stats(state["resp"]["amp"], t, edges)
        temp, _ = _window_stats(state["temp"], t, edges)
        temp_edges = np.interp(edges, t, state["temp"])
        feats = np.vstack(
            [hr_mean, np.sqrt(hr_var), sc_mean, np.diff(sc_edges) / win, scr_n, scr_a,
             60.0 * rate, r_amp, temp, np.diff(temp_edges) / win]
        )  # fmt: skip
        noise = np.array([1.0, 0.3, 0.02, 0.01, 0.0, 0.0, 0.8, 0.05, 0.01, 0.005])
        return np.ascontiguousarray((feats + noise[:, None] * rng.standard_normal(feats.shape)).T)

    # ------------------------------------------------------------ loader
    def _get_single_subject_data(self, subject):
        subj = self._subject_params(subject)
        out = {}
        for session in range(1, self.n_sessions + 1):
            sess = self._session_params(subject, session)
            labels = self._session_labels(session)
            runs = {}
            for trial, label in enumerate(labels, start=1):
                clip = self._clip(session, trial)
                state = self._trial_state(subject, session, trial, label, subj, sess, clip)
                if self.level == "raw":
                    runs[str(trial)] = self._render_raw(subject, session, trial, state, subj, sess)
                else:
                    runs[str(trial)] = self._render_features(
                        subject, session, trial, state, subj, sess
                    )
            out[str(session)] = runs
        return out


@functools.lru_cache(maxsize=8)
def _blink_kernel(fs):
    """Blink artefact shape (unit peak, 0.35 s) sampled at ``fs``."""
    tk = np.arange(int(round(0.35 * fs))) / fs
    return np.sin(np.pi * tk / 0.35) ** 2


@functools.lru_cache(maxsize=1)
def _blink_band_energy(fs=1000.0):
    """Energy (uV^2 s per unit amplitude^2) of the blink artefact in each EEG band."""
    kernel = _blink_kernel(fs)
    n_fft = 16 * len(kernel)
    f = np.fft.rfftfreq(n_fft, 1.0 / fs)
    energy = 2.0 * np.abs(np.fft.rfft(kernel, n_fft)) ** 2 / fs**2 * (fs / n_fft)
    return np.array([energy[(f >= lo) & (f < hi)].sum() for lo, hi in BANDS.values()])


@functools.lru_cache(maxsize=8)
def _raw_info_template(modalities, sfreq):
    import mne

    names, types = [], []
    if "eeg" in modalities:
        names += SEED_CH_NAMES
        types += ["eeg"] * len(SEED_CH_NAMES)
    if "eye" in modalities:
        names += EYE_CH_NAMES
        types += ["eyegaze", "eyegaze", "pupil"]
    if "pps" in modalities:
        names += PPS_CH_NAMES
        types += _PPS_CH_TYPES
    info = mne.create_info(names, sfreq, types)
    raw = mne.io.RawArray(np.zeros((len(names), 1)), info, verbose=False)
    if "eeg" in modalities:
        raw.set_montage(make_seed_montage(), verbose=False)
    if "eye" in modalities:
        mne.preprocessing.eyetracking.set_channel_types_eyetrack(
            raw,
            {
                "xpos_left": ("eyegaze", "px", "left", "x"),
                "ypos_left": ("eyegaze", "px", "left", "y"),
                "pupil_left": ("pupil", "m", "left"),
            },
        )
    return raw.info


def _raw_info(modalities, sfreq):
    return _raw_info_template(tuple(modalities), float(sfreq)).copy()
