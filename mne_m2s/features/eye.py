"""Eye-movement features of the SEED family from MNE eye-tracking channels."""

import numpy as np
import scipy.fft
from mne.io.constants import FIFF

from ..utils import logger
from ..utils._checks import check_float, check_option
from ._base import _EpochsTransformer, _raw_sfreq
from .eeg import _check_bands

#: Pupil DE bands of the SEED eye features (Hz).
DEFAULT_PUPIL_BANDS = {
    "0-0.2Hz": (0.0, 0.2),
    "0.2-0.4Hz": (0.2, 0.4),
    "0.4-0.6Hz": (0.4, 0.6),
    "0.6-1Hz": (0.6, 1.0),
}

#: Annotation descriptions written by :func:`mne.io.read_raw_eyelink` (and
#: :func:`mne.preprocessing.eyetracking.find_blinks` for blinks).
DEFAULT_ANNOTATION_NAMES = {"blink": "BAD_blink", "fixation": "fixation", "saccade": "saccade"}

_LOG_2PIE = np.log(2.0 * np.pi * np.e)
# Band powers of the pupil below this (unit^2) are floored before the log.
_PUPIL_POWER_FLOOR = 1e-20


def _gaze_axis(ch):
    """'x' or 'y' for an eyegaze channel, from its loc (MNE convention) or its name."""
    loc4 = ch["loc"][4]
    if np.isfinite(loc4) and loc4 in (-1, 1):
        return "x" if loc4 == -1 else "y"
    name = ch["ch_name"].lower()
    is_x = name.startswith("x") or name.endswith("x")
    is_y = name.startswith("y") or name.endswith("y")
    if is_x != is_y:
        return "x" if is_x else "y"
    raise ValueError(
        f"Cannot tell whether the eyegaze channel {ch['ch_name']!r} is horizontal (x) or "
        "vertical (y): its loc[4] is not set and its name does not start or end with x or "
        "y. Set it with mne.preprocessing.eyetracking.set_channel_types_eyetrack(epochs, "
        f"{{{ch['ch_name']!r}: ('eyegaze', 'px', 'left', 'x')}})."
    )


def _runs(mask):
    """Runs of True along axis 1: (row, start, stop) with stop exclusive, row-major order."""
    pad = np.zeros((mask.shape[0], 1), dtype=np.int8)
    edges = np.diff(np.concatenate([pad, mask.astype(np.int8), pad], axis=1), axis=1)
    rows, starts = np.nonzero(edges == 1)
    _, stops = np.nonzero(edges == -1)
    return rows, starts, stops


def _merge_overlaps(rows, starts, stops):
    """Merge overlapping events of one kind within an epoch (e.g. left/right-eye copies)."""
    if len(rows) == 0:
        return rows, starts, stops
    order = np.lexsort((starts, rows))
    rows, starts, stops = rows[order], starts[order], stops[order]
    offset = rows.astype(np.int64) * (int(stops.max()) + 2)
    k_start = offset + starts
    k_stop = offset + stops
    reach = np.maximum.accumulate(k_stop)
    new = np.ones(len(rows), dtype=bool)
    new[1:] = k_start[1:] > reach[:-1]
    first = np.flatnonzero(new)
    merged_stop = np.maximum.reduceat(k_stop, first) - offset[first]
    return rows[first], starts[first], merged_stop


def _overlap_pairs(a_start, a_stop, e_start, e_stop):
    """(epoch, annotation) index pairs whose closed time intervals intersect.

    All epochs have the same length, so sorting them by start also sorts their stops;
    the epochs overlapping an annotation form one contiguous run in that order.
    """
    if len(a_start) == 0 or len(e_start) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    order = np.argsort(e_start, kind="stable")
    hi = np.searchsorted(e_start[order], a_stop, side="right")  # epoch start <= annot stop
    lo = np.searchsorted(e_stop[order], a_start, side="left")  # epoch stop >= annot start
    counts = np.maximum(hi - lo, 0)
    annot = np.repeat(np.arange(len(a_start)), counts)
    within = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    return order[np.repeat(lo, counts) + within], annot


def _nanmean_channels(arr):
    """Mean over axis 1 ignoring NaN; NaN where every channel is NaN. arr (n, c, t)."""
    valid = np.isfinite(arr)
    count = valid.sum(axis=1)
    total = np.where(valid, arr, 0.0).sum(axis=1)
    out = np.full(count.shape, np.nan)
    np.divide(total, count, out=out, where=count > 0)
    return out


def _fill_nan_rows(arr):
    """Linear interpolation over NaN along axis 1 (constant at the ends).

    Returns the filled array and a bool per row: False where the row had no valid sample
    (filled with 0).
    """
    out = arr.copy()
    valid = np.isfinite(arr)
    t = np.arange(arr.shape[1])
    has = valid.any(axis=1)
    for i in np.flatnonzero(has & ~valid.all(axis=1)):
        out[i] = np.interp(t, t[valid[i]], arr[i, valid[i]])
    out[~has] = 0.0
    return out, has


def _span_extent(values, rows, starts, lasts):
    """max - min of values[row, start..last] per event (NaN ignored; 0 if all NaN)."""
    if len(rows) == 0:
        return np.zeros(0)
    n_times = values.shape[1]
    flat = np.concatenate([values.ravel(), [np.nan]])
    a = rows * n_times + starts
    b = rows * n_times + np.maximum(lasts, starts) + 1
    idx = np.stack([a, b], axis=1).ravel()
    with np.errstate(invalid="ignore"):
        hi = np.fmax.reduceat(flat, idx)[::2]
        lo = np.fmin.reduceat(flat, idx)[::2]
    ext = hi - lo
    return np.where(np.isfinite(ext), ext, 0.0)


def _window_stats(cells, values, n_cells):
    """Count, mean, std (population), max and sum of values per window cell (0 if empty)."""
    count = np.bincount(cells, minlength=n_cells).astype(float)
    total = np.bincount(cells, weights=values, minlength=n_cells)
    mean = np.zeros(n_cells)
    np.divide(total, count, out=mean, where=count > 0)
    dev = np.bincount(cells, weights=(values - mean[cells]) ** 2, minlength=n_cells)
    var = np.zeros(n_cells)
    np.divide(dev, count, out=var, where=count > 0)
    vmax = np.zeros(n_cells)
    if len(cells):
        np.maximum.at(vmax, cells, values)
    return count, mean, np.sqrt(var), vmax, total


class EyeMovementFeatures(_EpochsTransformer):
    """SEED-family eye-movement features per window, from MNE eye-tracking channels.

    The 33 features of the published SEED-V eye features (datasets.md section 0), per
    window of ``window`` seconds, from ``eyegaze`` (x/y) and ``pupil`` channels and
    from the blink, fixation and saccade events of each epoch.

    Parameters
    ----------
    window : float
        Window length in seconds (4 s in SEED-IV and SEED-V).
    picks : str | list | None
        Channels to use; ``None``: all good ``eyegaze`` and ``pupil`` channels. Gaze
        channels of both eyes are averaged per axis (ignoring missing samples).
    events : "auto" | "annotations" | "detect"
        Where blinks, fixations and saccades come from. ``"annotations"``: the epochs'
        annotations (as :func:`mne.io.read_raw_eyelink` writes them, see
        ``annotation_names``). ``"detect"``: detected from the signals (see Notes).
        ``"auto"``: per kind of event, the annotations if the epochs carry any of that
        kind, otherwise detection.
    velocity_threshold : float
        I-VT saccade threshold on the angular gaze speed, in degrees per second.
    min_fixation_duration : float
        Detected fixations shorter than this (seconds) are discarded (I-VT default of
        Tobii: 60 ms).
    pupil_bands : dict | None
        Bands (Hz) of the pupil DE; ``None``: 0-0.2, 0.2-0.4, 0.4-0.6, 0.6-1 Hz.
    pixels_per_degree : float | None
        Conversion of gaze in pixels (MNE unit ``px``, or unitless) to degrees of visual
        angle. ``None`` derives it from ``screen_distance`` and ``pixel_size``:
        ``screen_distance * tan(1 deg) / pixel_size`` (linear, accurate within about
        15 degrees of the screen centre). Gaze in radians (MNE unit ``rad``) is converted
        exactly and ignores these three parameters.
    screen_distance : float
        Eye-to-screen distance in metres (default 0.6 m).
    pixel_size : float
        Size of one screen pixel in metres (default 0.277 mm: a 24-inch 1920 x 1080
        monitor); with the default distance, about 37.8 pixels per degree.
    annotation_names : dict | None
        Annotation descriptions of each kind of event, ``{"blink": "BAD_blink",
        "fixation": "fixation", "saccade": "saccade"}`` by default (those of
        :func:`mne.io.read_raw_eyelink`).

    Attributes
    ----------
    n_windows_ : int
        Windows per epoch in the training epochs.
    ch_names_ : list of str
        The channels used.
    feature_names_out_ : ndarray of str, shape (33,)
        Names of the features, in the order listed in Notes.
    feature_units_ : list of str
        Unit of each feature.
    pixels_per_degree_ : float
        The pixel-to-degree factor used for gaze in pixels.
    pupil_x_ : str | None
        Channel used as pupil "X"; ``pupil_y_`` likewise.

    Notes
    -----
    **Events.** Each event belongs to the window in which it starts (it keeps its full
    duration even when it ends in the next window; events running past the epoch are
    cut at the epoch's edges). Annotations of one kind that overlap (e.g. the left- and
    right-eye copies of a binocular Eyelink recording) are merged into one event.
    Create the epochs with ``reject_by_annotation=False``, otherwise MNE drops every
    epoch containing a ``BAD_blink``. Detection, when used:

    * blinks: runs of samples where every pupil channel is missing (NaN or <= 0, the
      dropout values of eye trackers); without pupil channels, where the gaze is
      missing. Duration = number of samples / sfreq.
    * saccades (I-VT, Salvucci & Goldberg 2000): the inter-sample gaze speed
      ``|g[i+1] - g[i]| * sfreq`` (deg/s) labels the interval from sample ``i`` to
      ``i+1``; runs of intervals above ``velocity_threshold`` are saccades, from their
      first to their last sample (duration = number of intervals / sfreq).
    * fixations: runs of valid intervals at or below the threshold, at least
      ``min_fixation_duration`` long, from their first to their last sample.

    An annotation covers the samples in ``[onset, onset + duration)``; its duration is
    the number of those samples / sfreq.

    Missing samples (NaN) in gaze and pupil channels are legitimate tracker output
    (blinks, track loss) and are accepted; infinite values raise a ValueError.

    **Features** (in output order; "0 if none" = the value of a window without any
    event of that kind, never NaN):

    1-12. ``pupil_{x,y}_mean``, ``pupil_{x,y}_std`` (pupil unit) and
       ``pupil_{x,y}_de_{band}`` (nats): mean and standard deviation of the pupil
       diameter in the window, and the DE ``0.5 * log(2 * pi * e * P)`` of its power
       ``P`` in each pupil band. Missing samples are linearly interpolated first. The
       band signals come from an ideal (brick-wall) filter applied to the FFT of the
       whole, mean-removed epoch (zero-padded so each band spans at least 4 bins); ``P``
       is their mean square within the window (floored at 1e-20 unit^2). SEED
       trackers give horizontal (X) and vertical (Y) pupil diameters; here X is the
       first pupil channel and Y the second (e.g. left and right eye), and with a single
       pupil channel X and Y are the same channel. Without any valid pupil sample in an
       epoch (or without pupil channels) these 12 features are 0.

    13-16. ``dispersion_{x,y}_{mean,std}`` (deg): per fixation, the extent
       ``max - min`` of the gaze along x (y) during it; mean and std over the
       fixations of the window (0 if none).

    17-18. ``fixation_duration_{mean,std}`` (ms), 0 if none.

    19-20. ``blink_duration_{mean,std}`` (ms), 0 if none.

    21-24. ``saccade_duration_{mean,std}`` (ms) and ``saccade_amplitude_{mean,std}``
       (deg): the amplitude is the distance between the gaze at the first and the last
       sample of the saccade (missing samples interpolated); 0 if none.

    25-33. event statistics: ``blink_frequency``, ``fixation_frequency`` and
       ``saccade_frequency`` (events per second of window, Hz);
       ``fixation_duration_max`` (ms); ``fixation_dispersion_total`` and
       ``fixation_dispersion_max`` (deg), the sum and maximum over fixations of the
       I-DT dispersion ``(max x - min x) + (max y - min y)``;
       ``event_saccade_duration_mean`` (ms) and ``event_saccade_amplitude_mean`` (deg),
       equal to features 21 and 23 by definition (kept so that the vector has the 33
       published dimensions); ``saccade_latency_mean`` (ms): per saccade, the time from
       the end of the previous saccade of the window (or from the window start, for
       the first) to its onset, averaged; the window length when there is no saccade.

    Fixation and saccade features need gaze channels (without them, and without
    fixation/saccade annotations, they are 0, and dispersions and amplitudes are 0).
    """

    _default_types = ("eyegaze", "pupil")

    def __init__(self, window=4.0, picks=None, events="auto", velocity_threshold=30.0,
                 min_fixation_duration=0.06, pupil_bands=None, pixels_per_degree=None,
                 screen_distance=0.6, pixel_size=2.77e-4, annotation_names=None):
        self.window = window
        self.picks = picks
        self.events = events
        self.velocity_threshold = velocity_threshold
        self.min_fixation_duration = min_fixation_duration
        self.pupil_bands = pupil_bands
        self.pixels_per_degree = pixels_per_degree
        self.screen_distance = screen_distance
        self.pixel_size = pixel_size
        self.annotation_names = annotation_names

    # -- set-up -----------------------------------------------------------------------
    def _setup(self, epochs, picks):
        check_option("events", self.events, ("auto", "annotations", "detect"))
        check_float("velocity_threshold", self.velocity_threshold, min_value=0.0,
                    inclusive=False)
        check_float("min_fixation_duration", self.min_fixation_duration, min_value=0.0)
        if self.pixels_per_degree is None:
            dist = check_float("screen_distance", self.screen_distance, min_value=0.0,
                               inclusive=False)
            size = check_float("pixel_size", self.pixel_size, min_value=0.0, inclusive=False)
            ppd = dist * np.tan(np.deg2rad(1.0)) / size
        else:
            ppd = check_float("pixels_per_degree", self.pixels_per_degree, min_value=0.0,
                              inclusive=False)
        self.pixels_per_degree_ = float(ppd)
        names = dict(DEFAULT_ANNOTATION_NAMES)
        if self.annotation_names is not None:
            if not isinstance(self.annotation_names, dict):
                raise TypeError(
                    "annotation_names must be None or a dict like "
                    f"{DEFAULT_ANNOTATION_NAMES}, got {type(self.annotation_names).__name__}."
                )
            unknown = set(self.annotation_names) - set(names)
            if unknown:
                raise ValueError(
                    f"annotation_names has unknown key(s) {sorted(unknown)}; allowed keys: "
                    f"{sorted(names)}."
                )
            names.update(self.annotation_names)
        self.annotation_names_ = names
        bands = DEFAULT_PUPIL_BANDS if self.pupil_bands is None else self.pupil_bands
        self.pupil_bands_ = _check_bands(bands, self.sfreq_, name="pupil_bands")

        chs = [epochs.info["chs"][i] for i in picks]
        gaze_x, gaze_y, pupil, scale = [], [], [], []
        for k, (ch, ch_type) in enumerate(zip(chs, self.ch_types_, strict=True)):
            if ch_type == "eyegaze":
                (gaze_x if _gaze_axis(ch) == "x" else gaze_y).append(k)
                if ch["unit"] == FIFF.FIFF_UNIT_RAD:
                    scale.append(180.0 / np.pi)
                else:  # px or unitless: screen pixels
                    scale.append(1.0 / self.pixels_per_degree_)
            elif ch_type == "pupil":
                pupil.append(k)
                scale.append(1.0)
            else:
                raise ValueError(
                    f"EyeMovementFeatures handles eyegaze and pupil channels, but picks "
                    f"selected {ch['ch_name']!r} of type {ch_type!r}. Pick only eye-tracking "
                    "channels."
                )
        if bool(gaze_x) != bool(gaze_y):
            have = "x" if gaze_x else "y"
            raise ValueError(
                f"EyeMovementFeatures needs both horizontal (x) and vertical (y) eyegaze "
                f"channels, but only {have} channels were picked: "
                f"{[self.ch_names_[k] for k in gaze_x + gaze_y]}."
            )
        if len(pupil) > 2:
            raise ValueError(
                f"EyeMovementFeatures uses at most 2 pupil channels (as pupil X and Y), got "
                f"{len(pupil)}: {[self.ch_names_[k] for k in pupil]}. Pass picks with at "
                "most two of them."
            )
        self._gaze_x, self._gaze_y, self._pupil = gaze_x, gaze_y, pupil
        self._scale = np.array(scale)
        self.pupil_x_ = self.ch_names_[pupil[0]] if pupil else None
        self.pupil_y_ = self.ch_names_[pupil[-1]] if pupil else None
        names, units = [], []
        for axis in ("x", "y"):
            names += [f"pupil_{axis}_mean", f"pupil_{axis}_std"]
            units += ["pupil unit", "pupil unit"]
            names += [f"pupil_{axis}_de_{b}" for b in self.pupil_bands_]
            units += ["nats"] * len(self.pupil_bands_)
        rest = [
            ("dispersion_x_mean", "deg"), ("dispersion_x_std", "deg"),
            ("dispersion_y_mean", "deg"), ("dispersion_y_std", "deg"),
            ("fixation_duration_mean", "ms"), ("fixation_duration_std", "ms"),
            ("blink_duration_mean", "ms"), ("blink_duration_std", "ms"),
            ("saccade_duration_mean", "ms"), ("saccade_duration_std", "ms"),
            ("saccade_amplitude_mean", "deg"), ("saccade_amplitude_std", "deg"),
            ("blink_frequency", "Hz"), ("fixation_frequency", "Hz"),
            ("fixation_duration_max", "ms"), ("fixation_dispersion_total", "deg"),
            ("fixation_dispersion_max", "deg"), ("saccade_frequency", "Hz"),
            ("event_saccade_duration_mean", "ms"), ("event_saccade_amplitude_mean", "deg"),
            ("saccade_latency_mean", "ms"),
        ]  # fmt: skip
        names += [n for n, _ in rest]
        units += [u for _, u in rest]
        self.feature_names_out_ = np.array(names, dtype=object)
        self.feature_units_ = units

    # -- events -----------------------------------------------------------------------
    def _sources(self, epochs):
        """'annotations' or 'detect' for each kind of event."""
        annots = epochs.annotations
        present = set() if annots is None else set(annots.description)
        names = self.annotation_names_
        if self.events == "detect":
            return dict.fromkeys(names, "detect")
        if self.events == "annotations":
            if not any(names[k] in present for k in names):
                raise ValueError(
                    f"events='annotations' but the epochs carry no annotation named "
                    f"{sorted(names.values())} (found: {sorted(present) or 'none'}). Create "
                    "the epochs from a Raw with eye-tracking annotations "
                    "(mne.io.read_raw_eyelink) and reject_by_annotation=False, or use "
                    "events='detect'."
                )
            return dict.fromkeys(names, "annotations")
        return {k: ("annotations" if names[k] in present else "detect") for k in names}

    def _annotation_events(self, epochs, n_times):
        """Events per kind from the annotations: dict kind -> (rows, starts, stops).

        Same time convention as :meth:`mne.Epochs.get_annotations_per_epoch`
        (annotation onsets against ``events[:, 0] / raw sfreq``), vectorised.
        """
        annots = epochs.annotations
        sfreq = self.sfreq_
        epoch_start = epochs.events[:, 0] / _raw_sfreq(epochs) + epochs.tmin
        epoch_stop = epoch_start + (n_times - 1) / sfreq
        out = {}
        for kind, name in self.annotation_names_.items():
            if annots is None or not len(annots):
                sel = np.zeros(0, dtype=int)
            else:
                sel = np.flatnonzero(np.asarray(annots.description) == name)
            onset = np.asarray(annots.onset)[sel] if len(sel) else np.zeros(0)
            duration = np.asarray(annots.duration)[sel] if len(sel) else np.zeros(0)
            rows, idx = _overlap_pairs(onset, onset + duration, epoch_start, epoch_stop)
            rel = onset[idx] - epoch_start[rows]
            start = np.round(rel * sfreq).astype(np.int64)
            stop = np.round((rel + duration[idx]) * sfreq).astype(np.int64)
            start, stop = np.maximum(start, 0), np.minimum(stop, n_times)
            keep = (start < n_times) & (stop >= start)
            rows, start, stop = _merge_overlaps(rows[keep].astype(np.int64), start[keep],
                                                stop[keep])
            # annotations cover [onset, onset + duration): the last sample is stop - 1
            out[kind] = (rows, start, stop, np.maximum(stop - 1, start))
        return out

    def _detect_events(self, gx, gy, blink_mask):
        """Blinks, fixations and saccades detected from the signals (I-VT)."""
        sfreq = self.sfreq_
        empty = (np.zeros(0, dtype=np.int64),) * 4
        events = {"blink": empty}
        if blink_mask is not None:  # runs of samples [start, stop)
            rows, starts, stops = _runs(blink_mask)
            events["blink"] = (rows, starts, stops, stops - 1)
        if gx is None:
            events["fixation"] = events["saccade"] = empty
            return events
        # runs of inter-sample intervals [start, stop) span the samples start..stop
        speed = np.hypot(np.diff(gx, axis=1), np.diff(gy, axis=1)) * sfreq
        valid = np.isfinite(speed)
        rows, starts, stops = _runs(valid & (speed > self.velocity_threshold))
        events["saccade"] = (rows, starts, stops, stops)
        rows, starts, stops = _runs(valid & (speed <= self.velocity_threshold))
        min_len = self.min_fixation_duration * sfreq - 1e-9
        keep = (stops - starts) >= min_len
        events["fixation"] = (rows[keep], starts[keep], stops[keep], stops[keep])
        return events

    # -- computation ------------------------------------------------------------------
    def _compute(self, epochs, picks):
        n_samp, n_win = self._windows_of(epochs)
        sfreq = self.sfreq_
        data = epochs.get_data(picks=picks)
        if np.isinf(data).any():
            bad = np.flatnonzero(np.isinf(data).any(axis=(0, 2)))
            raise ValueError(
                f"EyeMovementFeatures received infinite values in the channel(s) "
                f"{', '.join(self.ch_names_[i] for i in bad)}. Missing samples must be NaN "
                "(or 0 for pupil dropouts)."
            )
        n_ep, _, n_times = data.shape
        data = data * self._scale[None, :, None]
        gx = gy = None
        if self._gaze_x:
            gx = _nanmean_channels(data[:, self._gaze_x])
            gy = _nanmean_channels(data[:, self._gaze_y])
        pupils = [data[:, k] for k in self._pupil]
        if pupils:
            blink_mask = np.ones((n_ep, n_times), dtype=bool)
            for p in pupils:
                with np.errstate(invalid="ignore"):
                    blink_mask &= ~(np.isfinite(p) & (p > 0))
        elif gx is not None:
            blink_mask = ~(np.isfinite(gx) & np.isfinite(gy))
        else:
            blink_mask = None

        sources = self._sources(epochs)
        events = {}
        if "annotations" in sources.values():
            events.update({
                k: v for k, v in self._annotation_events(epochs, n_times).items()
                if sources[k] == "annotations"
            })
        if "detect" in sources.values():
            detected = self._detect_events(gx, gy, blink_mask)
            events.update({k: detected[k] for k in detected if sources[k] == "detect"})
        if gx is None and any(len(events[k][0]) for k in ("fixation", "saccade")):
            logger.info("EyeMovementFeatures: no gaze channels; dispersions and saccade "
                        "amplitudes are 0.")

        n_cells = n_ep * n_win
        win_sec = n_samp / sfreq
        out = np.zeros((n_ep, n_win, len(self.feature_names_out_)))
        flat = out.reshape(n_cells, -1)
        col = self._pupil_features(pupils, n_samp, n_win, out)

        def cells_of(kind):
            rows, starts, stops, lasts = events[kind]
            win = starts // n_samp
            keep = win < n_win
            return (rows[keep] * n_win + win[keep], rows[keep], starts[keep], stops[keep],
                    np.minimum(lasts[keep], n_times - 1))

        # fixations
        f_cell, f_row, f_start, f_stop, f_last = cells_of("fixation")
        f_dur = (f_stop - f_start) / sfreq * 1e3
        if gx is not None:
            disp_x = _span_extent(gx, f_row, f_start, f_last)
            disp_y = _span_extent(gy, f_row, f_start, f_last)
        else:
            disp_x = disp_y = np.zeros(len(f_cell))
        _, mx, sx, _, _ = _window_stats(f_cell, disp_x, n_cells)
        _, my, sy, _, _ = _window_stats(f_cell, disp_y, n_cells)
        flat[:, col:col + 4] = np.stack([mx, sx, my, sy], axis=1)
        col += 4
        f_count, f_mean, f_std, f_max, _ = _window_stats(f_cell, f_dur, n_cells)
        flat[:, col:col + 2] = np.stack([f_mean, f_std], axis=1)
        col += 2
        # blinks
        b_cell, _, b_start, b_stop, _ = cells_of("blink")
        b_count, b_mean, b_std, _, _ = _window_stats(b_cell, (b_stop - b_start) / sfreq * 1e3,
                                                     n_cells)
        flat[:, col:col + 2] = np.stack([b_mean, b_std], axis=1)
        col += 2
        # saccades
        s_cell, s_row, s_start, s_stop, s_last = cells_of("saccade")
        s_dur = (s_stop - s_start) / sfreq * 1e3
        if gx is not None and len(s_cell):
            fx, _ = _fill_nan_rows(gx)
            fy, _ = _fill_nan_rows(gy)
            s_amp = np.hypot(fx[s_row, s_last] - fx[s_row, s_start],
                             fy[s_row, s_last] - fy[s_row, s_start])
        else:
            s_amp = np.zeros(len(s_cell))
        s_count, sd_mean, sd_std, _, _ = _window_stats(s_cell, s_dur, n_cells)
        _, sa_mean, sa_std, _, _ = _window_stats(s_cell, s_amp, n_cells)
        flat[:, col:col + 4] = np.stack([sd_mean, sd_std, sa_mean, sa_std], axis=1)
        col += 4
        # event statistics
        _, _, _, fd_max, fd_total = _window_stats(f_cell, disp_x + disp_y, n_cells)
        latency = np.full(n_cells, win_sec * 1e3)
        if len(s_cell):
            order = np.lexsort((s_start, s_cell))
            c, st, sp = s_cell[order], s_start[order], s_stop[order]
            prev = (c % n_win) * n_samp
            same = np.zeros(len(c), dtype=bool)
            same[1:] = c[1:] == c[:-1]
            prev = np.where(same, np.concatenate([[0], sp[:-1]]), prev)
            lat = np.maximum(st - prev, 0) / sfreq * 1e3
            _, latency_mean, _, _, _ = _window_stats(c, lat, n_cells)
            latency = np.where(s_count > 0, latency_mean, latency)
        flat[:, col:] = np.stack([
            b_count / win_sec, f_count / win_sec, f_max, fd_total, fd_max,
            s_count / win_sec, sd_mean, sa_mean, latency,
        ], axis=1)
        return out

    def _pupil_features(self, pupils, n_samp, n_win, out):
        """Fill the 2 * (2 + n_bands) pupil features of ``out``; return the next column."""
        n_b = len(self.pupil_bands_)
        per_axis = 2 + n_b
        if not pupils:
            return 2 * per_axis
        sfreq = self.sfreq_
        n_ep, n_times = pupils[0].shape
        min_bw = min(hi - lo for lo, hi in self.pupil_bands_.values())
        n_fft = scipy.fft.next_fast_len(max(n_times, int(np.ceil(4 * sfreq / min_bw))), real=True)
        freqs = scipy.fft.rfftfreq(n_fft, 1.0 / sfreq)
        channels = [pupils[0], pupils[-1]]
        cache = {}
        for axis, p in enumerate(channels):
            key = id(p)
            if key not in cache:
                with np.errstate(invalid="ignore"):
                    raw = np.where(np.isfinite(p) & (p > 0), p, np.nan)
                filled, ok = _fill_nan_rows(raw)
                if not ok.all():
                    logger.warning(
                        "EyeMovementFeatures: %d epoch(s) without any valid pupil sample; "
                        "their pupil features are 0.", int((~ok).sum()))
                win = filled[:, : n_win * n_samp].reshape(n_ep, n_win, n_samp)
                feats = np.empty((n_ep, n_win, per_axis))
                feats[..., 0] = win.mean(axis=-1)
                feats[..., 1] = win.std(axis=-1)
                centred = filled - filled.mean(axis=1, keepdims=True)
                spec = scipy.fft.rfft(centred, n=n_fft, axis=1)
                for j, (lo, hi) in enumerate(self.pupil_bands_.values()):
                    mask = (freqs >= lo) & (freqs < hi)
                    band = scipy.fft.irfft(spec * mask, n=n_fft, axis=1)[:, : n_win * n_samp]
                    power = (band.reshape(n_ep, n_win, n_samp) ** 2).mean(axis=-1)
                    feats[..., 2 + j] = 0.5 * (
                        np.log(np.maximum(power, _PUPIL_POWER_FLOOR)) + _LOG_2PIE)
                feats[~ok] = 0.0
                cache[key] = feats
            out[..., axis * per_axis:(axis + 1) * per_axis] = cache[key]
        return 2 * per_axis
