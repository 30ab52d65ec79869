"""
===========================================================
Cross-modal emotion recognition: fine-tune on eye, test EEG
===========================================================

M2S pre-trains one encoder per modality on *unlabelled* paired EEG and
eye-movement features so that both land in one shared space. A classifier
fine-tuned on eye-movement features only is then applied to EEG through the
EEG encoder, a modality it never saw labels for.

The data are :class:`~mne_m2s.datasets.SyntheticEmotion` features (a
simulated dataset, not real recordings), split by trial with the SEED
protocol: trials 1-9 train, 10-15 test. A small model keeps the example under
a minute on a CPU.
"""

# %%
# Load feature sequences: samples of 5 one-second windows, within trials only
import numpy as np

from mne_m2s import M2SClassifier
from mne_m2s.datasets import SyntheticEmotion
from mne_m2s.paradigms import EmotionParadigm

dataset = SyntheticEmotion(
    n_subjects=1, modalities=("eeg", "eye"), level="features", random_state=0
)
X, y, meta = EmotionParadigm(n_windows=5, step=3).get_data(dataset, subjects=[1])
train = (meta["run"].astype(int) <= 9).to_numpy()
print({m: a.shape for m, a in X.items()})  # EEG stays (n, windows, 62 channels, 5 bands)

# %%
# Pre-train on the training trials' unlabelled EEG + eye data
clf = M2SClassifier(
    embedding_dim=32, n_layers=1, n_heads=2, head_dim=8, ffn_dim=64, proj_dim=16,
    pretrain_max_epochs=30, pretrain_batch_size=64, pretrain_lr=1e-3,
    max_epochs=60, batch_size=64, lr=1e-3, device="cpu", random_state=0,
)
clf.pretrain({m: a[train] for m, a in X.items()})
history = clf.pretrained.history
first, last = history[0, "contrastive"], history[-1, "contrastive"]
print(f"contrastive loss: {first:.2f} -> {last:.2f}")

# %%
# Fine-tune on eye movements only, then test on both modalities
clf.fit({"eye": X["eye"][train]}, y[train])
for modality in ("eye", "eeg"):
    acc = clf.score({modality: X[modality][~train]}, y[~train])
    print(f"eye -> {modality}: accuracy {acc:.2f} (chance {1 / len(np.unique(y)):.2f})")

# %%
# The shared-space features of both modalities
import matplotlib.pyplot as plt  # noqa: E402

fig, axes = plt.subplots(1, 2, figsize=(8, 3.5), sharex=True, sharey=True)
for ax, modality in zip(axes, ("eye", "eeg"), strict=True):
    f = clf.transform({modality: X[modality][~train]})
    for label in clf.classes_:
        sel = y[~train] == label
        ax.scatter(f[sel, 0], f[sel, 1], s=8, label=label)
    ax.set(title=f"{modality} test samples", xlabel="feature 1")
axes[0].set_ylabel("feature 2")
axes[1].legend()
fig.tight_layout()
plt.show()
