"""
=====================================
Quick start: M2S on multimodal Epochs
=====================================

The shortest path from MNE data to a cross-modal emotion classifier:

1. load multimodal recordings (EEG + eye tracking) as :class:`mne.Epochs`,
   each epoch a sample of 5 one-second windows inside one film clip;
2. **pre-train** :class:`~mne_m2s.M2SClassifier` on the *unlabelled* epochs of
   the training clips (both modalities);
3. **fine-tune** on the eye-tracking channels only (labels come from the
   events);
4. **predict** from the EEG channels, a modality the classifier never saw
   labels for.

The recordings are simulated (:class:`~mne_m2s.datasets.SyntheticEmotion`),
and the model is deliberately tiny so that the example runs in well under a
minute on a CPU; the paper's settings are the estimator's defaults.
"""

# %%
# Load multimodal Epochs
# ----------------------
# One simulated subject watching 15 clips (5 per emotion) of 20 s, with the
# simulation's stronger ("easy") emotion effects. The paradigm
# cuts each clip into samples of 5 consecutive 1-s windows that never cross a
# clip boundary, and records subject, session and clip (``run``) in the
# metadata.
from mne_m2s import M2SClassifier
from mne_m2s.datasets import SyntheticEmotion
from mne_m2s.paradigms import EmotionParadigm
from mne_m2s.viz import plot_pretrain_history

dataset = SyntheticEmotion(
    n_subjects=1, trial_duration=20.0, modalities=("eeg", "eye"), difficulty="easy",
    random_state=0,
)
epochs, y, meta = EmotionParadigm(n_windows=5, step=2).get_data(dataset, subjects=[1])
print(epochs)
print(meta.head())

# %%
# Split by clip, as the SEED protocol does: clips 1-9 for training, 10-15 for
# testing. Splitting samples at random instead would put overlapping windows of
# one clip on both sides.
is_train = (meta["run"].astype(int) <= 9).to_numpy()
train, test = epochs[is_train.nonzero()[0]], epochs[(~is_train).nonzero()[0]]

# %%
# Pre-train on unlabelled EEG + eye epochs
# ----------------------------------------
# Features are extracted per modality (differential entropy of 5 bands for
# EEG, eye-movement statistics for the eye tracker), then one encoder per
# modality is trained so that both land in one shared space.
clf = M2SClassifier(
    embedding_dim=32, n_layers=1, n_heads=2, head_dim=8, ffn_dim=64, proj_dim=16,
    pretrain_max_epochs=25, pretrain_batch_size=64, pretrain_lr=1e-3,
    max_epochs=60, batch_size=64, lr=1e-3, device="cpu", random_state=0,
)
clf.pretrain(train)
print(clf.pretrained)

# %%
# Each loss component of the pre-training, per epoch:
fig = plot_pretrain_history(clf, title="M2S pre-training")

# %%
# Fine-tune on eye tracking, predict from EEG
# -------------------------------------------
# ``pick("eyetrack")`` keeps the gaze and pupil channels; the labels are the
# event names.
clf.fit(train.copy().pick("eyetrack"))
print("classes:", clf.classes_)
for name, picks in (("eye", "eyetrack"), ("eeg", "eeg")):
    score = clf.score(test.copy().pick(picks))
    print(f"fine-tuned on eye, tested on {name}: accuracy {score:.2f} (chance 0.33)")

# %%
# ``predict`` returns the event names; ``transform`` gives the shared-space
# features of either modality:
print(clf.predict(test.copy().pick("eeg"))[:6])
print(clf.transform(test.copy().pick("eeg")).shape)
