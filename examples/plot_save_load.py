"""
==========================
Saving and reusing a model
==========================

A fitted :class:`~mne_m2s.M2SClassifier` — pre-trained encoders, fine-tuned
head, scalers, feature settings and classes — is saved to one file with
:meth:`~mne_m2s.M2SClassifier.save` and restored with
:meth:`M2SClassifier.load <mne_m2s.M2SClassifier.load>`, on any device: a
model trained on a GPU loads on a CPU-only machine with ``device="cpu"``.
"""

# %%
# Fit a small model
# -----------------
from pathlib import Path
from tempfile import TemporaryDirectory

import numpy as np
from sklearn.base import clone

from mne_m2s import M2SClassifier
from mne_m2s.datasets import SyntheticEmotion
from mne_m2s.paradigms import EmotionParadigm

dataset = SyntheticEmotion(
    n_subjects=1, modalities=("eeg", "eye"), level="features", trial_duration=30.0,
    random_state=2,
)
X, y, meta = EmotionParadigm(n_windows=5, step=3).get_data(dataset, subjects=[1])
train = (meta["run"].astype(int) <= 9).to_numpy()

clf = M2SClassifier(
    embedding_dim=16, n_layers=1, n_heads=2, head_dim=8, ffn_dim=32, proj_dim=16,
    pretrain_max_epochs=15, pretrain_batch_size=64, pretrain_lr=2e-3,
    max_epochs=40, batch_size=64, device="cpu", random_state=0,
)
clf.pretrain({m: a[train] for m, a in X.items()})
clf.fit({"eye": X["eye"][train]}, y[train])

# %%
# Save, load, predict
# -------------------
# The loaded estimator predicts exactly as the saved one, from either
# modality.
with TemporaryDirectory() as tmp:
    path = Path(tmp) / "m2s_eye.m2s"
    clf.save(path)
    print(f"{path.name}: {path.stat().st_size / 1024:.0f} KiB")
    loaded = M2SClassifier.load(path, device="cpu")

for modality in ("eye", "eeg"):
    x_test = {modality: X[modality][~train]}
    same = np.array_equal(clf.predict(x_test), loaded.predict(x_test))
    print(f"{modality}: identical predictions after loading: {same}, "
          f"accuracy {loaded.score(x_test, y[~train]):.2f}")
print(loaded.modalities_, loaded.classes_, loaded.device_)

# %%
# Reusing the pre-trained encoders
# --------------------------------
# What ``pretrain`` learned lives in the ``pretrained`` parameter, which
# :func:`sklearn.base.clone` keeps: a clone fine-tunes from the same encoders,
# here on EEG instead of eye movements, without pre-training again.
eeg_clf = clone(clf).fit({"eeg": X["eeg"][train]}, y[train])
print(f"fine-tuned on EEG from the same encoders: "
      f"EEG accuracy {eeg_clf.score({'eeg': X['eeg'][~train]}, y[~train]):.2f}")
