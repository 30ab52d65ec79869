"""
=====================================================
From raw MNE recordings to features: DE on the scalp
=====================================================

M2S reads EEG as *differential entropy* (DE) per electrode and frequency band:
for a band-limited signal of variance :math:`\\sigma^2`,
:math:`\\mathrm{DE} = \\frac{1}{2}\\log(2\\pi e\\sigma^2)`, i.e. log band power up
to a constant. This example goes from a raw recording on the 62-channel SEED
montage to DE features with
:class:`~mne_m2s.features.DifferentialEntropy`, and draws them as scalp maps
with :func:`mne_m2s.viz.plot_de_topomaps` (built on
:func:`mne.viz.plot_topomap`).

The recording is simulated (:class:`~mne_m2s.datasets.SyntheticEmotion`): its
emotion effects are documented, so we can check that the maps show them.
"""

# %%
# A raw recording per clip
# ------------------------
# At ``level="raw"`` every clip is an :class:`mne.io.Raw` with the EEG, eye
# tracking and peripheral channels, its montage, and one annotation naming
# the clip's emotion.

from mne_m2s.datasets import SyntheticEmotion
from mne_m2s.features import DifferentialEntropy
from mne_m2s.paradigms import EmotionParadigm
from mne_m2s.viz import plot_de_topomaps

dataset = SyntheticEmotion(
    n_subjects=1, trial_duration=20.0, modalities=("eeg",), difficulty="easy", random_state=0
)
raw = dataset.get_data(subjects=[1])[1]["1"]["1"]  # subject 1, session 1, clip 1
print(raw)
print(raw.annotations)
fig_sensors = raw.plot_sensors(show_names=True, show=False)

# %%
# Epochs of consecutive windows
# -----------------------------
# :class:`~mne_m2s.paradigms.EmotionParadigm` cuts every clip into samples of
# 5 one-second windows inside the clip.
epochs, y, meta = EmotionParadigm(n_windows=5, step=5).get_data(dataset, subjects=[1])
print(epochs)

# %%
# Differential entropy per window, electrode and band
# ---------------------------------------------------
# A scikit-learn transformer: ``fit`` on training epochs, ``transform`` any.
# Features are channel-major (``c * n_bands + b``); with ``smoothing="lds"``
# each feature is smoothed along the windows of a clip by a linear dynamical
# system, as in the published SEED features.
de = DifferentialEntropy(window=1.0, smoothing="lds")
features = de.fit_transform(epochs)
print(features.shape, de.get_feature_names_out()[:6])
features = features.reshape(len(epochs), -1, de.n_chans_, de.n_bands_)

# %%
# Mean DE per band
# ----------------
# Each band has its own colour scale, so that the spatial pattern within each
# band stays visible whatever its overall level.
fig_mean = plot_de_topomaps(features, epochs.info, bands=list(de.bands_))

# %%
# What changes with emotion
# -------------------------
# Each row is one class's mean DE minus the mean over all classes. The
# simulation raises beta and gamma power over the lateral temporal sites with
# valence (positive > neutral > negative), raises right-frontal relative to
# left-frontal alpha with valence, and raises parietal-occipital delta and
# prefrontal gamma for negative emotions.
fig_contrast = plot_de_topomaps(features, epochs.info, y=y, bands=list(de.bands_))

# %%
# The same maps straight from the Epochs (DE is computed inside; labels come
# from the events) — here for the alpha band split into two halves:
fig_alpha = plot_de_topomaps(
    epochs, bands={"low alpha": (8.0, 10.0), "high alpha": (10.0, 14.0)}
)

# %%
# The temporal gamma effect in numbers: gamma DE of the temporal electrodes,
# class means.
temporal = [epochs.ch_names.index(ch) for ch in ("T7", "T8", "FT7", "FT8", "TP7", "TP8")]
gamma = features[:, :, temporal, list(de.bands_).index("gamma")].mean(axis=(1, 2))
for label in ("negative", "neutral", "positive"):
    print(f"{label:>8}: {gamma[y == label].mean():.3f} nats")
