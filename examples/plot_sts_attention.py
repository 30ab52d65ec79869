"""
==================================
What STS attention looks at
==================================

The EEG encoder of M2S attends across electrodes: in every window, each
electrode (a token of 5 band values) weighs all electrodes with
spatial and temporal-sparse (STS) attention, whose keys average the current,
first and previous windows (see :doc:`/method`).

:func:`mne_m2s.viz.compute_sts_attention` recomputes these attention
probabilities from a fitted encoder's own query and key weights, on any data,
and :func:`mne_m2s.viz.plot_attention_topomap` draws, per layer and head, how
much attention each electrode *receives* (averaged over the query electrodes,
in units of the uniform weight: 1 means no preference).
"""

# %%
# Pre-train on simulated EEG DE + eye features
# --------------------------------------------
# The EEG features keep their electrode layout, ``(n_samples, n_windows,
# 62 electrodes, 5 bands)``, which is what STS attention needs.
import numpy as np

from mne_m2s import M2SClassifier
from mne_m2s.datasets import SyntheticEmotion
from mne_m2s.paradigms import EmotionParadigm
from mne_m2s.viz import compute_sts_attention, plot_attention_topomap

dataset = SyntheticEmotion(
    n_subjects=1, modalities=("eeg", "eye"), level="features", difficulty="easy",
    random_state=0,
)
X, y, meta = EmotionParadigm(n_windows=5, step=4).get_data(dataset, subjects=[1])
train = (meta["run"].astype(int) <= 9).to_numpy()
print(X["eeg"].shape)

clf = M2SClassifier(
    embedding_dim=32, n_layers=2, n_heads=2, head_dim=8, ffn_dim=64, proj_dim=16,
    pretrain_max_epochs=40, pretrain_batch_size=64, pretrain_lr=3e-3,
    max_epochs=40, batch_size=64, device="cpu", random_state=0,
)
clf.pretrain({m: a[train] for m, a in X.items()})
clf.fit({"eeg": X["eeg"][train]}, y[train])
print(f"EEG accuracy on the test clips: {clf.score({'eeg': X['eeg'][~train]}, y[~train]):.2f}")

# %%
# The electrode positions
# -----------------------
# The features carry no montage; take the channel positions from the raw level
# of the same dataset (the 62-channel SEED montage).
raw_level = SyntheticEmotion(
    n_subjects=1, n_trials=1, trial_duration=2.0, modalities=("eeg",), random_state=0
)
info = raw_level.get_data(subjects=[1])[1]["1"]["1"].info

# %%
# Attention received per electrode
# --------------------------------
# Computed on the test clips, averaged over samples and windows. Rows are the
# two transformer blocks, columns the two heads.
attention = compute_sts_attention(clf, {"eeg": X["eeg"][~train]})
print(attention.shape)  # (n_layers, n_heads, n_electrodes, n_electrodes)
fig = plot_attention_topomap(attention, info, heads="all")

# %%
# The electrodes that receive the most attention (heads and layers
# averaged). In the simulation the emotion effects sit over the lateral
# temporal sites (beta, gamma), the frontal sites (alpha asymmetry, gamma)
# and the parietal-occipital sites (alpha, delta).
received = attention.mean(axis=(0, 1)).mean(axis=0) * attention.shape[-1]
order = np.argsort(received)[::-1]
for idx in order[:8]:
    print(f"{info.ch_names[idx]:>4}: {received[idx]:.2f} x uniform")

# %%
# For comparison, the same architecture before training (one pre-training
# epoch at a negligible learning rate), on the same colour scale. Random query
# and key weights already respond to the spatial structure of the input, so
# attention is not exactly uniform at initialisation; pre-training widens the
# spread and moves it (compare the printed ranges). With this tiny model and a
# few epochs attention stays within a few tens of percent of uniform.
untrained = M2SClassifier(
    embedding_dim=32, n_layers=2, n_heads=2, head_dim=8, ffn_dim=64, proj_dim=16,
    pretrain_max_epochs=1, pretrain_lr=1e-12, pretrain_batch_size=64, device="cpu",
    random_state=0,
).pretrain({m: a[train] for m, a in X.items()})
before = compute_sts_attention(untrained, {"eeg": X["eeg"][~train]})
received_all = attention.mean(axis=-2) * attention.shape[-1]
fig_before = plot_attention_topomap(
    before, info, heads="all", vlim=(received_all.min(), received_all.max())
)
for name, a in (("untrained", before), ("pre-trained", attention)):
    received_by_map = a.mean(axis=-2) * a.shape[-1]
    print(f"{name:>11}: attention received from {received_by_map.min():.2f} to "
          f"{received_by_map.max():.2f} x uniform")
