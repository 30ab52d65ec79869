"""
=================================================================
MOABB evaluation: M2S (eye -> EEG) against a braindecode model
=================================================================

The signal-level datasets of :mod:`mne_m2s.datasets` are MOABB datasets and
:class:`~mne_m2s.paradigms.EmotionWindowsParadigm` is a MOABB paradigm, so
MOABB's evaluations run any scikit-learn pipeline on them. Here MOABB's
``WithinSessionEvaluation`` compares, on the same trial-wise folds,

* ``M2SClassifier(task="eye->eeg")``: pre-trained on the unlabelled EEG +
  eye-tracking signals of the training trials, fine-tuned on eye tracking,
  tested on EEG only (a modality it never saw labels for), and
* braindecode's EEGNet trained with labels on the raw EEG.

The data are :class:`~mne_m2s.datasets.SyntheticEmotion` raw signals (a
simulated dataset, not real recordings). Small models and short clips keep
the example under a minute on a CPU; the numbers show the mechanics, not how
well either method does on real data.
"""

# %%
# A MOABB dataset and the emotion paradigm
# ----------------------------------------
# One subject, one session of 6 clips of 12 s (two per class, ``difficulty="easy"``);
# samples are 5 consecutive 1-s windows inside a clip, one every 2 s.
import tempfile

import matplotlib.pyplot as plt
from moabb.evaluations import WithinSessionEvaluation

from mne_m2s import M2SClassifier
from mne_m2s.baselines import BraindecodeClassifier
from mne_m2s.datasets import SyntheticEmotion
from mne_m2s.paradigms import EmotionWindowsParadigm

dataset = SyntheticEmotion(
    n_subjects=1, n_trials=6, trial_duration=12.0, modalities=("eeg", "eye"),
    difficulty="easy", random_state=0,
)
paradigm = EmotionWindowsParadigm(n_windows=5, step=2, window=1.0)
X, y, meta = paradigm.get_data(dataset, subjects=[1], return_epochs=True)
print(X)
print(meta[["subject", "session", "run", "trial", "label", "window_start"]].head())

# %%
# Two pipelines
# -------------
# Both take the multimodal :class:`mne.Epochs` that the paradigm returns:
# M2S reads each modality from the channel types, the braindecode model picks
# the EEG channels.
pipelines = {
    "M2S (eye->EEG)": M2SClassifier(
        task="eye->eeg",
        embedding_dim=32, n_layers=1, n_heads=2, head_dim=8, ffn_dim=64, proj_dim=16,
        pretrain_max_epochs=8, pretrain_batch_size=32, pretrain_lr=1e-3,
        max_epochs=20, batch_size=32, lr=1e-3, device="cpu", random_state=0,
    ),
    "EEGNet (EEG)": BraindecodeClassifier(
        "EEGNet", max_epochs=15, batch_size=8, lr=1e-3, device="cpu", random_state=0
    ),
}  # fmt: skip

# %%
# MOABB's within-session evaluation, split by trial
# -------------------------------------------------
# ``paradigm.trial_wise_cv`` keeps every clip whole. MOABB's default would
# split single samples and put overlapping windows of one clip in both the
# training and the test fold, so the paradigm refuses it with an error naming
# this fix. Results go to a temporary folder (MOABB would
# otherwise use ``~/mne_data`` and record it in the MNE config).
evaluation = WithinSessionEvaluation(
    paradigm=paradigm,
    datasets=[dataset],
    return_epochs=True,
    hdf5_path=tempfile.mkdtemp(),
    overwrite=True,
    random_state=0,
    **paradigm.trial_wise_cv(n_splits=2),
)
results = evaluation.process(pipelines)
print(results[["pipeline", "subject", "session", "score"]])

# %%
# Balanced accuracy of each pipeline (chance: 1/3)
fig, ax = plt.subplots(figsize=(5, 3), layout="constrained")
ax.bar(results["pipeline"], results["score"], color=["C0", "C1"])
ax.axhline(1 / 3, color="k", ls="--", lw=1, label="chance")
ax.set(ylabel="balanced accuracy", ylim=(0, 1), title="WithinSessionEvaluation, 2 trial folds")
ax.legend()
plt.show()
