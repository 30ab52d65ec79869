"""
=====================================================
The shared space: both modalities before and after
=====================================================

M2S pre-training maps every modality into one emotion space. This example
draws that space: the shared-space features
(:meth:`M2SClassifier.transform <mne_m2s.M2SClassifier.transform>`) of EEG and
eye-movement samples, embedded together in two dimensions
(:func:`mne_m2s.viz.plot_shared_space`), coloured by emotion, with one marker
per modality —

* **before** pre-training: the same architecture at its random
  initialisation;
* **after** pre-training on unlabelled, paired EEG + eye data.

Only the test clips are drawn; neither model saw them.
"""

# %%
# Data: simulated DE and eye-movement features
# --------------------------------------------
import numpy as np

from mne_m2s import M2SClassifier
from mne_m2s.datasets import SyntheticEmotion
from mne_m2s.paradigms import EmotionParadigm
from mne_m2s.viz import plot_shared_space

dataset = SyntheticEmotion(
    n_subjects=1, modalities=("eeg", "eye"), level="features", random_state=1
)
X, y, meta = EmotionParadigm(n_windows=5, step=4).get_data(dataset, subjects=[1])
train = (meta["run"].astype(int) <= 9).to_numpy()
X_train = {m: a[train] for m, a in X.items()}
X_test = {m: a[~train] for m, a in X.items()}
print({m: a.shape for m, a in X.items()})

small = dict(
    embedding_dim=32, n_layers=1, n_heads=2, head_dim=8, ffn_dim=64, proj_dim=16,
    pretrain_batch_size=64, max_epochs=40, batch_size=64, lr=1e-3, device="cpu",
    random_state=0,
)

# %%
# Before and after pre-training
# -----------------------------
# ``transform`` needs a fitted estimator, so the "before" model runs one
# pre-training epoch at a negligible learning rate: its encoders stay at their
# random initialisation. Fine-tuning only trains the classifier head, which
# ``transform`` does not use.
untrained = M2SClassifier(pretrain_max_epochs=1, pretrain_lr=1e-12, **small)
untrained.pretrain(X_train).fit({"eye": X_train["eye"]}, y[train])

pretrained = M2SClassifier(pretrain_max_epochs=40, pretrain_lr=2e-3, **small)
pretrained.pretrain(X_train).fit({"eye": X_train["eye"]}, y[train])

# %%
# With random encoders the two modalities fall in separate regions of the
# space; after pre-training the EEG and eye samples of one class overlap, and
# the classes separate — which is why a classifier fine-tuned on eye features
# also works on EEG.
fig = plot_shared_space(
    {"random encoders": untrained, "after M2S pre-training": pretrained},
    X_test, y[~train], method="pca",
)

# %%
# The same comparison in numbers: how often is the nearest *other-modality*
# sample of the same class? (cosine similarity of shared-space features;
# chance 1/3)
for name, model in (("random", untrained), ("pre-trained", pretrained)):
    f_eye = model.transform({"eye": X_test["eye"]})
    f_eeg = model.transform({"eeg": X_test["eeg"]})
    f_eye /= np.linalg.norm(f_eye, axis=1, keepdims=True) + 1e-12
    f_eeg /= np.linalg.norm(f_eeg, axis=1, keepdims=True) + 1e-12
    nearest = np.argmax(f_eeg @ f_eye.T, axis=1)
    agree = np.mean(y[~train][nearest] == y[~train])
    print(f"{name:>12}: nearest eye sample of each EEG sample has its class {agree:.2f}")

# %%
# t-SNE shows local neighbourhoods rather than the main directions of
# variance:
fig_tsne = plot_shared_space(pretrained, X_test, y[~train], method="tsne")
